// The scheduler's trust end to end in one process: a real Server with CURVE
// on tcp loopback, its real ZAP handler and authorized-keys file, and peers
// with real keys — admitted, unknown, in the wrong role, read-only, revoked.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "cas/model.h"
#include "cas/wire_model.h"
#include "proto/curve.h"
#include "proto/transport.h"
#include "scheduler/server.h"
#include "tests/support/temp_dir.h"

namespace kiln::scheduler {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Which = schema::Envelope::Body::Which;

constexpr milliseconds kPatience{5000};
// How long "nothing comes back" is waited for.
constexpr milliseconds kQuiet{600};

proto::CurveKeyPair new_keys() { return *proto::generate_curve_keypair(); }

class ServerTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_keys_ = new_keys();
    worker_ = new_keys();
    client_ = new_keys();
    reader_ = new_keys();
    write_keys(
        {{"worker", worker_, "w1"}, {"client", client_, "ci"}, {"readonly", reader_, "laptop"}});
    options_.store_dir = dir_.path() / "store";
    options_.store_map_size = 64u << 20;
    options_.policy.heartbeat_interval = milliseconds(500);
    options_.secret_key = server_keys_.secret_key;
    options_.authorized_keys_file = dir_.path() / "authorized_keys";
  }

  void TearDown() override {
    if (thread_.joinable()) {
      server_->request_stop();
      thread_.join();
    }
    if (HasFailure()) {
      std::lock_guard lock(log_mutex_);
      for (const auto& line : log_) std::cerr << "server log: " << line << '\n';
    }
  }

  struct Entry {
    std::string role;
    proto::CurveKeyPair keys;
    std::string name;
  };
  void write_keys(const std::vector<Entry>& entries) {
    std::ofstream out(dir_.path() / "authorized_keys", std::ios::trunc);
    for (const Entry& e : entries)
      out << e.role << ' ' << e.keys.public_key << ' ' << e.name << '\n';
  }

  void start() {
    auto server = Server::create(options_, [this](LogLevel, const std::string& line) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(line);
    });
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    thread_ = std::thread([this] { (void)server_->run(); });
  }

  std::unique_ptr<proto::Connection> connect(const std::string& endpoint,
                                             const proto::CurveKeyPair& own) {
    const proto::CurveClientKeys keys{server_keys_.public_key, own};
    auto c = proto::Connection::open(context_, endpoint, {}, {}, &keys);
    EXPECT_TRUE(c.ok());
    return std::move(c).value();
  }

  // The status, as the peer with `own` keys asks for it; nullopt when no
  // answer comes within `wait`.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> refused_counts(
      proto::Connection& c, milliseconds wait = kPatience) {
    auto reply = c.call([](auto env) { env.getBody().initStatusRequest(); }, wait);
    if (!reply.ok()) return std::nullopt;
    const auto body = (*reply)->envelope().getBody();
    if (body.which() != Which::STATUS_RESPONSE) return std::nullopt;
    const auto s = body.getStatusResponse();
    EXPECT_TRUE(s.getAuthenticated());
    workers_seen_ = s.getWorkers().size();
    return std::pair{s.getRefusedConnections(), s.getRefusedMessages()};
  }

  // A worker session on the worker endpoint with `keys`.
  zmq::socket_t worker_session(const proto::CurveKeyPair& keys, const std::string& id) {
    const proto::CurveClientKeys curve{server_keys_.public_key, keys};
    auto dealer = proto::make_dealer(context_, server_->worker_endpoint(), id, {}, &curve);
    EXPECT_TRUE(dealer.ok());
    capnp::MallocMessageBuilder m;
    auto hello = proto::init_envelope(m, 0).getBody().initWorkerHello();
    hello.setWorkerId(id);
    hello.setSlots(1);
    hello.setHeartbeatIntervalMs(500);
    cas::to_wire(std::vector<cas::Property>{{"os", "testos"}}, hello.initPlatform(1));
    EXPECT_TRUE(proto::send(*dealer, "", m));
    return std::move(dealer).value();
  }

  // Polls the status (as the admitted client) until `workers` are known.
  bool workers_become(std::size_t workers) {
    auto c = connect(server_->client_endpoint(), client_);
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      if (refused_counts(*c) && workers_seen_ == workers) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }

  bool log_has(const std::string& text) {
    std::lock_guard lock(log_mutex_);
    for (const auto& line : log_) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

  test_support::TempDir dir_;
  zmq::context_t context_;
  proto::CurveKeyPair server_keys_, worker_, client_, reader_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
  std::size_t workers_seen_ = 0;
};

TEST_F(ServerTrustTest, AnAdmittedClientIsServed) {
  start();
  auto c = connect(server_->client_endpoint(), client_);
  auto counts = refused_counts(*c);
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(*counts, (std::pair<std::uint64_t, std::uint64_t>{0, 0}));
}

TEST_F(ServerTrustTest, StrangersAndPlainPeersGetNothingAndAreCounted) {
  start();
  auto stranger = connect(server_->client_endpoint(), new_keys());
  EXPECT_FALSE(refused_counts(*stranger, kQuiet).has_value());
  auto plain = proto::Connection::open(context_, server_->client_endpoint());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(refused_counts(**plain, kQuiet).has_value());
  // A worker key on the client endpoint, a client key on the worker one.
  auto misplaced = connect(server_->client_endpoint(), worker_);
  EXPECT_FALSE(refused_counts(*misplaced, kQuiet).has_value());
  zmq::socket_t fake_worker = worker_session(client_, "client-as-worker");
  EXPECT_FALSE(workers_become(1)) << "a client key opened a worker session";

  auto admitted = connect(server_->client_endpoint(), client_);
  auto counts = refused_counts(*admitted);
  ASSERT_TRUE(counts.has_value());
  EXPECT_GE(counts->first, 4u) << "refused connections";
  EXPECT_TRUE(log_has("is not authorized"));
  EXPECT_TRUE(log_has("is a worker key"));
  EXPECT_TRUE(log_has("is a client key"));
}

TEST_F(ServerTrustTest, AReadOnlyKeyReadsButCannotSubmitOrUpload) {
  start();
  auto reader = connect(server_->client_endpoint(), reader_);
  ASSERT_TRUE(refused_counts(*reader).has_value()) << "status is a read";
  auto reply = reader->call(
      [](schema::Envelope::Builder env) {
        auto request = env.getBody().initExecuteRequest();
        request.setDigestFunction(cas::to_wire(cas::DigestFunction::kXxh3_128));
      },
      kPatience);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  const auto error = proto::error_of(**reply);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("the key 'laptop' is read-only"), std::string::npos)
      << error->message;
  auto upload = reader->call(
      [](schema::Envelope::Builder env) {
        auto chunk = env.getBody().initUploadChunk();
        chunk.setDigestFunction(cas::to_wire(cas::DigestFunction::kXxh3_128));
        chunk.setLast(true);
      },
      kPatience);
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE(proto::error_of(**upload).has_value());
  EXPECT_EQ((*upload)->envelope().getBody().getError().getCode(),
            schema::Error::Code::PERMISSION_DENIED);
  auto counts = refused_counts(*reader);
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(counts->second, 2u) << "refused messages";
}

TEST_F(ServerTrustTest, ARevokedKeyIsRefusedFromItsNextMessageAndItsSessionEnds) {
  start();
  zmq::socket_t worker = worker_session(worker_, "w1");
  ASSERT_TRUE(workers_become(1));
  auto kept = connect(server_->client_endpoint(), client_);
  ASSERT_TRUE(refused_counts(*kept).has_value());

  // The client key goes; the worker key goes. SIGHUP does what reload_keys does.
  write_keys({{"readonly", reader_, "laptop"}});
  server_->reload_keys();
  // The same connection, already past its handshake: its next message
  // gets nothing.
  EXPECT_FALSE(refused_counts(*kept, kQuiet).has_value());
  auto reader = connect(server_->client_endpoint(), reader_);
  ASSERT_TRUE(refused_counts(*reader).has_value());
  EXPECT_EQ(workers_seen_, 0u) << "the revoked worker's session ended";
  EXPECT_TRUE(log_has("authorized keys reloaded: 0 worker, 0 client, 1 read-only"));
  EXPECT_TRUE(log_has("its key was revoked"));
  // A broken file keeps the keys in force.
  std::ofstream(dir_.path() / "authorized_keys") << "nonsense\n";
  server_->reload_keys();
  EXPECT_TRUE(refused_counts(*reader).has_value());
}

TEST_F(ServerTrustTest, PlainTcpOnlyOnLoopback) {
  options_.secret_key.clear();
  options_.authorized_keys_file.clear();
  options_.client_endpoint = "tcp://0.0.0.0:0";
  auto server = Server::create(options_, nullptr);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, Errc::kInvalidArgument);
  EXPECT_NE(server.error().message.find("without authentication"), std::string::npos);
}

TEST_F(ServerTrustTest, ASecretKeyNeedsAValidListOfKeys) {
  options_.authorized_keys_file = dir_.path() / "missing";
  auto missing = Server::create(options_, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("authorized keys"), std::string::npos);
  std::ofstream(dir_.path() / "bad") << "worker not-a-key\n";
  options_.authorized_keys_file = dir_.path() / "bad";
  auto bad = Server::create(options_, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad:1:"), std::string::npos) << bad.error().message;
}

TEST_F(ServerTrustTest, UntrustedClientsMustUseSha256) {
  options_.require_sha256 = true;
  auto xxh3_store = Server::create(options_, nullptr);
  ASSERT_FALSE(xxh3_store.ok()) << "require_sha256 with an XXH3 store";
  EXPECT_NE(xxh3_store.error().message.find("sha256"), std::string::npos);

  options_.digest_function = cas::DigestFunction::kSha256;
  options_.store_dir = dir_.path() / "sha-store";
  start();
  auto c = connect(server_->client_endpoint(), client_);
  auto reply = c->call(
      [](schema::Envelope::Builder env) {
        auto request = env.getBody().initFindMissingRequest();
        request.setDigestFunction(cas::to_wire(cas::DigestFunction::kXxh3_128));
      },
      kPatience);
  ASSERT_TRUE(reply.ok());
  const auto error = proto::error_of(**reply);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("requires sha256"), std::string::npos) << error->message;
}

}  // namespace
}  // namespace kiln::scheduler
