// CURVE on real sockets over tcp loopback, with a real ZAP handler: keys
// made and kept in files, a peer with an allowed key gets through and is
// named, every other peer gets nothing.
#include "proto/curve.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "proto/key_files.h"
#include "proto/transport.h"
#include "proto/zap.h"
#include "tests/support/temp_dir.h"

namespace kiln::proto {
namespace {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

CurveKeyPair new_keys() {
  auto keys = generate_curve_keypair();
  EXPECT_TRUE(keys.ok()) << keys.error().message;
  return *keys;
}

TEST(Curve, KeysAreFreshAndTheirPublicHalfFollowsFromTheSecret) {
  const CurveKeyPair a = new_keys();
  const CurveKeyPair b = new_keys();
  EXPECT_TRUE(is_curve_key(a.public_key));
  EXPECT_TRUE(is_curve_key(a.secret_key));
  EXPECT_NE(a.secret_key, b.secret_key);
  EXPECT_EQ(*curve_public_key(a.secret_key), a.public_key);
  EXPECT_TRUE(check_key_pair(a, "a").ok());
  EXPECT_FALSE(check_key_pair({b.public_key, a.secret_key}, "mixed").ok());
  EXPECT_FALSE(curve_public_key("not a key").ok());
}

TEST(KeyFiles, TheSecretFileIsPrivateAndNeverOverwritten) {
  test_support::TempDir dir;
  const std::string base = (dir.path() / "ci").string();
  const CurveKeyPair keys = new_keys();
  ASSERT_TRUE(write_key_files(base, keys, "ci runner").ok());
  struct stat st {};
  ASSERT_EQ(::stat((base + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = read_secret_key_file(base + ".key");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->secret_key, keys.secret_key);
  EXPECT_EQ(*read_public_key(base + ".pub"), keys.public_key);
  EXPECT_EQ(*read_public_key(base + ".key"), keys.public_key);
  EXPECT_EQ(*read_public_key(keys.public_key), keys.public_key);
  auto again = write_key_files(base, new_keys(), "x");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("never overwrites"), std::string::npos);
  EXPECT_EQ(read_secret_key_file(base + ".key")->secret_key, keys.secret_key);
}

TEST(KeyFiles, AReadableSecretOrAPublicFileIsNoSecretKey) {
  test_support::TempDir dir;
  const std::string base = (dir.path() / "k").string();
  ASSERT_TRUE(write_key_files(base, new_keys(), "k").ok());
  ASSERT_EQ(::chmod((base + ".key").c_str(), 0640), 0);
  auto readable = read_secret_key_file(base + ".key");
  ASSERT_FALSE(readable.ok());
  EXPECT_NE(readable.error().message.find("chmod 600"), std::string::npos);
  ASSERT_EQ(::chmod((base + ".pub").c_str(), 0600), 0);
  auto pub = read_secret_key_file(base + ".pub");
  ASSERT_FALSE(pub.ok());
  EXPECT_NE(pub.error().message.find("only a public key"), std::string::npos);
  EXPECT_FALSE(read_public_key((dir.path() / "missing").string()).ok());
}

TEST(Zap, RequestsAreCheckedFrameByFrame) {
  const std::string key(32, '\x07');
  auto ok = parse_zap_request(
      std::vector<std::string>{"1.0", "id", "kiln-clients", "127.0.0.1", "", "CURVE", key});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->domain, "kiln-clients");
  EXPECT_EQ(ok->mechanism, "CURVE");
  EXPECT_TRUE(is_curve_key(ok->public_key));
  EXPECT_FALSE(parse_zap_request(std::vector<std::string>{"1.0", "id"}).ok());
  EXPECT_FALSE(parse_zap_request(std::vector<std::string>{"2.0", "id", "d", "a", "", "NULL"}).ok());
  EXPECT_FALSE(
      parse_zap_request(std::vector<std::string>{"1.0", "id", "d", "a", "", "CURVE", "short"})
          .ok());
  EXPECT_EQ(zap_reply("7", std::string("user"), "")[2], "200");
  EXPECT_EQ(zap_reply("7", std::nullopt, "no")[2], "400");
}

// A CURVE ROUTER on loopback with the context's ZAP handler admitting the
// keys in `allowed`.
class CurveTransport : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zap = ZapHandler::bind(context_);
    ASSERT_TRUE(zap.ok()) << zap.error().message;
    zap_.emplace(std::move(*zap));
    server_ = new_keys();
    const CurveServerKeys server{server_.secret_key, "test"};
    auto router = make_router(context_, "tcp://127.0.0.1:0", {}, &server);
    ASSERT_TRUE(router.ok()) << router.error().message;
    router_ = std::move(*router);
  }

  // Runs the handler and the router for `time`; what arrived.
  std::vector<Received> pump(milliseconds time) {
    std::vector<Received> got;
    const auto deadline = std::chrono::steady_clock::now() + time;
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<zmq::pollitem_t> items = {{zap_->socket().handle(), 0, ZMQ_POLLIN, 0},
                                            {router_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, milliseconds(20));
      refused_ += zap_->serve([this](const ZapRequest& request) -> std::optional<std::string> {
        domains_.insert(request.domain);
        if (!allowed_.contains(request.public_key)) return std::nullopt;
        return "user:" + request.public_key;
      });
      while (auto r = receive(router_, true)) got.push_back(std::move(*r));
    }
    return got;
  }

  void say_hello(zmq::socket_t& dealer) {
    capnp::MallocMessageBuilder message;
    init_envelope(message, 0).getBody().initHeartbeat().setBusySlots(3);
    ASSERT_TRUE(send(dealer, {}, message));
  }

  zmq::context_t context_;
  std::optional<ZapHandler> zap_;
  CurveKeyPair server_;
  zmq::socket_t router_;
  std::set<std::string> allowed_;
  std::set<std::string> domains_;
  std::size_t refused_ = 0;
};

TEST_F(CurveTransport, AnAllowedKeyGetsThroughAndIsNamed) {
  const CurveKeyPair client = new_keys();
  allowed_.insert(client.public_key);
  const CurveClientKeys keys{server_.public_key, client};
  auto dealer = make_dealer(context_, bound_endpoint(router_), "c1", {}, &keys);
  ASSERT_TRUE(dealer.ok());
  say_hello(*dealer);
  const auto got = pump(milliseconds(1500));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].message.ok());
  EXPECT_EQ(got[0].peer, "c1");
  EXPECT_EQ(got[0].user_id, "user:" + client.public_key);
  EXPECT_EQ(domains_, std::set<std::string>{"test"});
  EXPECT_EQ(refused_, 0u);
}

TEST_F(CurveTransport, AnUnknownKeyAWrongServerKeyAndPlainTcpGetNothing) {
  const CurveKeyPair stranger = new_keys();
  const CurveClientKeys unknown{server_.public_key, stranger};
  auto a = make_dealer(context_, bound_endpoint(router_), "stranger", {}, &unknown);
  const CurveKeyPair member = new_keys();
  allowed_.insert(member.public_key);
  const CurveClientKeys wrong_server{new_keys().public_key, member};
  auto b = make_dealer(context_, bound_endpoint(router_), "misdirected", {}, &wrong_server);
  auto c = make_dealer(context_, bound_endpoint(router_), "plain");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  say_hello(*a);
  say_hello(*b);
  say_hello(*c);
  const auto got = pump(milliseconds(1500));
  EXPECT_TRUE(got.empty()) << got.size() << " messages got through";
  EXPECT_GE(refused_, 1u);  // the stranger; the others fail before ZAP is asked
}

}  // namespace
}  // namespace kiln::proto
