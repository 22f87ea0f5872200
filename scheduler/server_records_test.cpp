// Client records on a real Server with CURVE on tcp loopback: each key
// name is a namespace of its own, a read-only key reads but never writes,
// workers cannot reach them, ifAbsent keeps the first writer's document,
// and bad requests (too many keys, an oversized document, another digest
// function) are refused with a clear error, store nothing and leave the
// scheduler serving.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cas/digest.h"
#include "cas/wire_model.h"
#include "proto/curve.h"
#include "proto/transport.h"
#include "scheduler/client_records.h"
#include "scheduler/server.h"
#include "tests/support/temp_dir.h"

namespace kiln::scheduler {
namespace {

using std::chrono::milliseconds;
using Which = schema::Envelope::Body::Which;
constexpr milliseconds kPatience{5000};
constexpr auto kFn = cas::DigestFunction::kXxh3_128;

cas::Digest key_of(std::string_view text) { return cas::digest_of(kFn, text); }

capnp::Data::Reader data_of(const std::string& text) {
  return {reinterpret_cast<const kj::byte*>(text.data()), text.size()};
}

class ServerRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_keys_ = *proto::generate_curve_keypair();
    team_a_ = *proto::generate_curve_keypair();
    team_a2_ = *proto::generate_curve_keypair();
    team_b_ = *proto::generate_curve_keypair();
    reader_ = *proto::generate_curve_keypair();
    worker_ = *proto::generate_curve_keypair();
    {
      std::ofstream out(dir_.path() / "authorized_keys");
      out << "client " << team_a_.public_key << " team-a\n"
          << "client " << team_a2_.public_key << " team-a\n"
          << "client " << team_b_.public_key << " team-b\n"
          << "readonly " << reader_.public_key << " team-a\n"
          << "worker " << worker_.public_key << " w1\n";
    }
    ServerOptions options;
    options.store_dir = dir_.path() / "store";
    options.store_map_size = 64u << 20;
    options.secret_key = server_keys_.secret_key;
    options.authorized_keys_file = dir_.path() / "authorized_keys";
    auto server = Server::create(options, [](LogLevel, const std::string&) {});
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    thread_ = std::thread([this] { (void)server_->run(); });
  }

  void TearDown() override {
    server_->request_stop();
    thread_.join();
  }

  std::unique_ptr<proto::Connection> connect(const proto::CurveKeyPair& own, bool worker = false) {
    const proto::CurveClientKeys keys{server_keys_.public_key, own};
    auto c = proto::Connection::open(
        context_, worker ? server_->worker_endpoint() : server_->client_endpoint(), {}, {}, &keys);
    EXPECT_TRUE(c.ok());
    return std::move(c).value();
  }

  // A put of `docs` (key text -> document); the reply.
  std::unique_ptr<proto::Decoded> put(proto::Connection& c,
                                      const std::vector<std::pair<std::string, std::string>>& docs,
                                      bool if_absent = false, cas::DigestFunction fn = kFn) {
    auto reply = c.call(
        [&](schema::Envelope::Builder e) {
          auto request = e.getBody().initPutRecordsRequest();
          request.setDigestFunction(cas::to_wire(fn));
          request.setIfAbsent(if_absent);
          auto list = request.initRecords(static_cast<unsigned>(docs.size()));
          for (unsigned i = 0; i < docs.size(); ++i) {
            cas::to_wire(cas::digest_of(fn, docs[i].first), list[i].initKey());
            list[i].setDocument(data_of(docs[i].second));
          }
        },
        kPatience);
    EXPECT_TRUE(reply.ok()) << reply.error().message;
    return reply.ok() ? std::move(reply).value() : nullptr;
  }

  // The documents under `keys` ("" for none), or the error's message.
  std::vector<std::string> get(proto::Connection& c, const std::vector<std::string>& keys,
                               std::string* error = nullptr) {
    auto reply = c.call(
        [&](schema::Envelope::Builder e) {
          auto request = e.getBody().initGetRecordsRequest();
          request.setDigestFunction(cas::to_wire(kFn));
          auto list = request.initKeys(static_cast<unsigned>(keys.size()));
          for (unsigned i = 0; i < keys.size(); ++i) cas::to_wire(key_of(keys[i]), list[i]);
        },
        kPatience);
    EXPECT_TRUE(reply.ok());
    std::vector<std::string> docs;
    if (!reply.ok()) return docs;
    if (auto e = proto::error_of(**reply)) {
      if (error != nullptr) *error = e->message;
      return docs;
    }
    for (auto r : (*reply)->envelope().getBody().getGetRecordsResponse().getRecords()) {
      const auto d = r.getDocument();
      docs.emplace_back(r.getFound()
                            ? std::string(reinterpret_cast<const char*>(d.begin()), d.size())
                            : std::string());
    }
    return docs;
  }

  test_support::TempDir dir_;
  zmq::context_t context_;
  proto::CurveKeyPair server_keys_, team_a_, team_a2_, team_b_, reader_, worker_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerRecordsTest, AKeyNameIsANamespaceSharedByItsKeysAndReadableReadOnly) {
  auto a = connect(team_a_);
  auto reply = put(*a, {{"durations", "book of team a"}, {"pass X", "passed"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->envelope().getBody().which(), Which::PUT_RECORDS_RESPONSE);

  auto a2 = connect(team_a2_);
  EXPECT_EQ(get(*a2, {"durations", "pass X", "missing"}),
            (std::vector<std::string>{"book of team a", "passed", ""}));
  auto reader = connect(reader_);
  EXPECT_EQ(get(*reader, {"durations"}), std::vector<std::string>{"book of team a"});
  auto b = connect(team_b_);
  EXPECT_EQ(get(*b, {"durations", "pass X"}), (std::vector<std::string>{"", ""}))
      << "another team's namespace";
}

TEST_F(ServerRecordsTest, AReadOnlyKeyCannotWriteAndWorkersCannotReachRecords) {
  auto reader = connect(reader_);
  auto reply = put(*reader, {{"pass X", "forged pass"}});
  ASSERT_TRUE(reply);
  auto error = proto::error_of(*reply);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, Errc::kPermissionDenied) << error->message;
  auto a = connect(team_a_);
  EXPECT_EQ(get(*a, {"pass X"}), std::vector<std::string>{""}) << "nothing was stored";

  auto worker = connect(worker_, /*worker=*/true);
  auto refused = put(*worker, {{"pass X", "from a worker"}});
  ASSERT_TRUE(refused);
  ASSERT_TRUE(proto::error_of(*refused));
  EXPECT_EQ(get(*a, {"pass X"}), std::vector<std::string>{""});
}

TEST_F(ServerRecordsTest, IfAbsentKeepsTheFirstWritersDocument) {
  auto a = connect(team_a_);
  auto first = put(*a, {{"slices", "plan 1"}}, /*if_absent=*/true);
  ASSERT_TRUE(first);
  auto stored = first->envelope().getBody().getPutRecordsResponse().getStored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(stored[0].begin()), stored[0].size()),
            "plan 1");
  auto a2 = connect(team_a2_);
  auto second = put(*a2, {{"slices", "plan 2"}}, /*if_absent=*/true);
  ASSERT_TRUE(second);
  stored = second->envelope().getBody().getPutRecordsResponse().getStored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(stored[0].begin()), stored[0].size()),
            "plan 1");
  EXPECT_EQ(get(*a, {"slices"}), std::vector<std::string>{"plan 1"});
}

TEST_F(ServerRecordsTest, BadRequestsAreRefusedStoreNothingAndTheSchedulerServesOn) {
  auto a = connect(team_a_);
  // An oversized document, beside a good one: neither is stored.
  const std::string big(kMaxRecordBytes + 1, 'x');
  auto reply = put(*a, {{"good", "fine"}, {"big", big}});
  ASSERT_TRUE(reply);
  auto error = proto::error_of(*reply);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("at most"), std::string::npos) << error->message;
  EXPECT_EQ(get(*a, {"good", "big"}), (std::vector<std::string>{"", ""}));

  // Another digest function than the store's.
  reply = put(*a, {{"k", "v"}}, false, cas::DigestFunction::kSha256);
  ASSERT_TRUE(reply);
  error = proto::error_of(*reply);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("records are kept in"), std::string::npos) << error->message;

  // Too many keys at once.
  std::vector<std::string> keys(kMaxRecordKeys + 1, "k");
  std::string message;
  EXPECT_TRUE(get(*a, keys, &message).empty());
  EXPECT_NE(message.find("at most 1000 keys"), std::string::npos) << message;

  // Still serving.
  ASSERT_TRUE(put(*a, {{"after", "still here"}}));
  EXPECT_EQ(get(*a, {"after"}), std::vector<std::string>{"still here"});
}

TEST_F(ServerRecordsTest, ALongAnswerComesInPartsTheClientAsksOnFor) {
  auto a = connect(team_a_);
  const std::string doc(std::size_t{3} << 20, 'd');
  ASSERT_TRUE(put(*a, {{"one", doc}}));
  ASSERT_TRUE(put(*a, {{"two", doc}}));
  ASSERT_TRUE(put(*a, {{"three", doc}}));
  const auto docs = get(*a, {"one", "two", "three"});
  ASSERT_EQ(docs.size(), 2u) << "9 MiB of documents do not fit one answer";
  EXPECT_EQ(docs[0], doc);
  EXPECT_EQ(get(*a, {"three"}), std::vector<std::string>{doc});
}

}  // namespace
}  // namespace kiln::scheduler
