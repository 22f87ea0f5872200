// grid_options: what each use of the grid waits for.
#include "client/grid/options.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "client/grid/known_grid.h"
#include "proto/key_files.h"
#include "tests/support/temp_dir.h"

namespace kiln::client::grid {
namespace {

using namespace std::chrono_literals;

// Plain TCP unless the test says otherwise, so no key files are needed.
Config config_of(std::map<std::string, std::string> env,
                 const std::string& config_file = "k.conf") {
  env.try_emplace("KILN_SCHEDULER_KEY", "none");
  auto config = Config::load(env, "", config_file, {});
  if (!config.ok()) throw std::runtime_error(config.error().message);
  return std::move(config).value();
}

GridOptions options_of(const Config& config, GridUse use) {
  auto options = grid_options(config, use);
  if (!options.ok()) throw std::runtime_error(options.error().message);
  return std::move(options).value();
}

TEST(GridOptions, ACompileWaitsRemoteTimeoutAtEachStep) {
  const GridOptions o =
      options_of(config_of({{"KILN_SCHEDULER", "tcp://127.0.0.1:1"}, {"KILN_REMOTE_TIMEOUT", "3"}}),
                 GridUse::kCompile);
  EXPECT_EQ(o.endpoint, "tcp://127.0.0.1:1");
  EXPECT_EQ(o.request_timeout, 3s);
  EXPECT_EQ(o.resubmit_interval, 3s);
  EXPECT_EQ(o.grace, 3s);
  EXPECT_EQ(o.default_action_timeout, 10min);
  EXPECT_EQ(o.store_mutex, nullptr);
}

TEST(GridOptions, ARemoteTimeoutOfZeroStillWaitsASecond) {
  const GridOptions o =
      options_of(config_of({{"KILN_SCHEDULER", "tcp://127.0.0.1:1"}, {"KILN_REMOTE_TIMEOUT", "0"}}),
                 GridUse::kCompile);
  EXPECT_EQ(o.request_timeout, 1s);
  EXPECT_EQ(o.grace, 1s);
}

TEST(GridOptions, AnActionWaitsForItsOwnTimeout) {
  const GridOptions o =
      options_of(config_of({{"KILN_SCHEDULER", "tcp://127.0.0.1:1"}, {"KILN_REMOTE_TIMEOUT", "3"}}),
                 GridUse::kAction);
  EXPECT_EQ(o.endpoint, "tcp://127.0.0.1:1");
  EXPECT_EQ(o.request_timeout, 30s);
  EXPECT_EQ(o.resubmit_interval, 5s);
  EXPECT_EQ(o.default_action_timeout, 10min);
  EXPECT_EQ(o.grace, 1min);
}

TEST(GridOptions, NoSchedulerNoEndpoint) {
  EXPECT_EQ(options_of(config_of({}), GridUse::kAction).endpoint, "");
}

// ---- the grid's keys --------------------------------------------------------

class GridKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two well-formed pairs (this test only reads them; no handshake).
    const proto::CurveKeyPair sched{"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                                    "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"};
    const proto::CurveKeyPair me{"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
                                 "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"};
    ASSERT_TRUE(proto::write_key_files(path("sched"), sched, "s").ok());
    ASSERT_TRUE(proto::write_key_files(path("me"), me, "c").ok());
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }
  Config config(std::map<std::string, std::string> env) const {
    auto config = Config::load(env, "", path("kiln.conf"), {});
    if (!config.ok()) throw std::runtime_error(config.error().message);
    return std::move(config).value();
  }
  test_support::TempDir dir_;
};

TEST_F(GridKeysTest, ExplicitKeysAreRead) {
  auto options = grid_options(config({{"KILN_SCHEDULER", "tcp://10.0.0.7:7010"},
                                      {"KILN_SCHEDULER_KEY", path("sched.pub")},
                                      {"KILN_CLIENT_KEY", path("me.key")}}),
                              GridUse::kAction);
  ASSERT_TRUE(options.ok()) << options.error().message;
  ASSERT_TRUE(options->curve.has_value());
  EXPECT_EQ(options->curve->server_key, *proto::read_public_key(path("sched.pub")));
  EXPECT_EQ(options->curve->own.public_key,
            proto::read_secret_key_file(path("me.key"))->public_key);
}

TEST_F(GridKeysTest, PlainTcpOnlyToThisMachine) {
  EXPECT_FALSE(options_of(config_of({{"KILN_SCHEDULER", "tcp://127.0.0.1:7010"}}), GridUse::kAction)
                   .curve.has_value());
  auto remote =
      Config::load({{"KILN_SCHEDULER", "tcp://10.0.0.7:7010"}, {"KILN_SCHEDULER_KEY", "none"}}, "",
                   path("kiln.conf"), {});
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.error().code, Errc::kInvalidArgument);
  EXPECT_NE(remote.error().message.find("for a scheduler on this machine only"), std::string::npos)
      << remote.error().message;
}

TEST_F(GridKeysTest, NoKeyIsAClearError) {
  auto options =
      grid_options(config({{"KILN_SCHEDULER", "tcp://10.0.0.7:7010"}}), GridUse::kAction);
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.error().message.find("no key for scheduler tcp://10.0.0.7:7010"),
            std::string::npos)
      << options.error().message;
}

TEST_F(GridKeysTest, AReadableSecretKeyIsRefused) {
  std::filesystem::permissions(path("me.key"), std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  auto options = grid_options(config({{"KILN_SCHEDULER", "tcp://10.0.0.7:7010"},
                                      {"KILN_SCHEDULER_KEY", path("sched.pub")},
                                      {"KILN_CLIENT_KEY", path("me.key")}}),
                              GridUse::kAction);
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.error().message.find("client_key: "), std::string::npos)
      << options.error().message;
}

TEST_F(GridKeysTest, KilnUpsRecordSuppliesTheKeys) {
  const std::string endpoint = "tcp://127.0.0.1:7010";
  const auto record = known_grid_path(dir_.path(), endpoint);
  std::filesystem::create_directories(record.parent_path());
  std::ofstream(record) << format_known_grid(
      KnownGrid{endpoint, *proto::read_public_key(path("sched.pub")), path("me.key")});
  auto options = grid_options(config({{"KILN_SCHEDULER", endpoint}}), GridUse::kAction);
  ASSERT_TRUE(options.ok()) << options.error().message;
  ASSERT_TRUE(options->curve.has_value());
  EXPECT_EQ(options->curve->server_key, *proto::read_public_key(path("sched.pub")));
  // Another endpoint has no record.
  EXPECT_FALSE(
      grid_options(config({{"KILN_SCHEDULER", "tcp://127.0.0.1:7011"}}), GridUse::kAction).ok());
}

TEST(KnownGrid, RoundTripsAndNamesBadLines) {
  const KnownGrid grid{"tcp://127.0.0.1:7010", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                       "/k/c.key"};
  auto parsed = parse_known_grid(format_known_grid(grid), "g.conf");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->endpoint, grid.endpoint);
  EXPECT_EQ(parsed->scheduler_key, grid.scheduler_key);
  EXPECT_EQ(parsed->client_key, grid.client_key);
  auto bad = parse_known_grid("endpoint = x\nwhat = y\n", "g.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("g.conf:2"), std::string::npos) << bad.error().message;
  EXPECT_EQ(known_grid_path("/c", "tcp://127.0.0.1:7010"), "/c/grids/tcp___127.0.0.1_7010.conf");
}

}  // namespace
}  // namespace kiln::client::grid
