// Tests of the scheduler's poll loop: a real Server on tcp loopback (random
// ports) in a thread, talked to with raw DEALER sockets playing clients and
// workers, including ones that send garbage or speak out of turn. The store
// is filled directly (Command, input root, output blobs) before the server
// opens it, so these tests do not depend on the CAS upload path.
#include "scheduler/server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "cas/model.h"
#include "cas/store.h"
#include "cas/wire_model.h"
#include "proto/codec_test.capnp.h"
#include "proto/transport.h"

namespace kiln::scheduler {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Which = schema::Envelope::Body::Which;
using ErrorCode = schema::Error::Code;

constexpr milliseconds kPatience{5000};
constexpr milliseconds kQuiet{300};  // how long "no reply" is waited for
constexpr auto kFn = cas::DigestFunction::kXxh3_128;
// Small LMDB maps: a sanitizer's address space is limited.
constexpr std::uint64_t kMapSize = 64u << 20;

using Message = std::unique_ptr<proto::Decoded>;

// The next message on a DEALER within `timeout` (heartbeats skipped when
// asked), or null.
Message receive_within(zmq::socket_t& socket, milliseconds timeout, bool skip_heartbeats = true) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    while (auto r = proto::receive(socket, false)) {
      if (!r->message.ok()) {
        ADD_FAILURE() << "undecodable message from the server: " << r->message.error().message;
        continue;
      }
      Message m = std::move(r->message).value();
      if (skip_heartbeats && m->envelope().getBody().which() == Which::HEARTBEAT) continue;
      return m;
    }
    const auto left = std::chrono::ceil<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return nullptr;
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
  }
}

void send_raw(zmq::socket_t& socket, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    ASSERT_TRUE(socket.send(zmq::buffer(frames[i]), flags).has_value());
  }
}

std::string signature() { return std::string("KLN") + static_cast<char>(proto::kProtocolMajor); }

std::string body_of(capnp::MessageBuilder& message) {
  const proto::Encoded encoded = proto::encode(message);
  const auto bytes = encoded.body_bytes();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

void send_message(zmq::socket_t& socket, std::uint64_t id,
                  const std::function<void(schema::Envelope::Builder)>& fill) {
  capnp::MallocMessageBuilder message;
  fill(proto::init_envelope(message, id));
  ASSERT_TRUE(proto::send(socket, "", message));
}

// What one action needs in the store, and the action itself.
struct Fixture {
  cas::Command command;
  cas::Action action;
  cas::Digest action_digest;
  cas::Digest stdout_digest;
  cas::Digest stderr_digest;
};

class ServerTest : public ::testing::Test {
 public:  // the helpers are shared with free functions below
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kiln-server-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    options_.store_dir = dir_ / "store";
    options_.store_map_size = kMapSize;
    // Long enough that fake workers need not heartbeat within a test; the
    // liveness test shortens it.
    options_.policy.heartbeat_interval = milliseconds(500);
    options_.policy.no_worker_timeout = milliseconds(2000);
    options_.drain_timeout = milliseconds(3000);
  }

  void TearDown() override {
    stop();
    server_.reset();
    if (HasFailure()) {
      std::lock_guard lock(log_mutex_);
      for (const auto& line : log_) std::cerr << "server log: " << line << '\n';
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Puts the blobs of an action (salt makes distinct ones) into the store,
  // which must not be open yet.
  Fixture prepare(const std::string& salt = {}) {
    Fixture f;
    cas::StoreOptions store_options;
    store_options.dir = options_.store_dir;
    store_options.map_size = kMapSize;
    auto store = cas::Store::open(store_options);
    EXPECT_TRUE(store.ok()) << store.error().message;
    f.command.arguments = {"echo", "hi"};
    f.command.platform = {{"os", "testos"}};
    const auto command_digest = (*store)->put(cas::encode_command(f.command).value());
    const auto root_digest = (*store)->put(cas::encode_directory({}, kFn).value());
    f.stdout_digest = (*store)->put(std::string_view("hi\n")).value();
    f.stderr_digest = (*store)->put(std::string_view("")).value();
    f.action.command_digest = command_digest.value();
    f.action.input_root_digest = root_digest.value();
    f.action.timeout_ms = 5000;
    f.action.salt = salt;
    f.action_digest = cas::digest_of(kFn, cas::encode_action(f.action, kFn).value());
    return f;
  }

  void start() {
    auto server = Server::create(options_, [this](LogLevel, const std::string& line) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(line);
    });
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    thread_ = std::thread([this] { run_status_ = server_->run(); });
  }

  // Stops the server (if running) and waits for run() to return.
  void stop() {
    if (!thread_.joinable()) return;
    server_->request_stop();
    thread_.join();
  }

  std::unique_ptr<proto::Connection> client() {
    auto c = proto::Connection::open(context_, server_->client_endpoint());
    EXPECT_TRUE(c.ok());
    return std::move(c).value();
  }

  zmq::socket_t dealer(const std::string& endpoint) {
    auto d = proto::make_dealer(context_, endpoint);
    EXPECT_TRUE(d.ok());
    return std::move(d).value();
  }

  // A worker session: hello with the test platform.
  zmq::socket_t worker(std::uint32_t slots = 1) {
    zmq::socket_t w = dealer(server_->worker_endpoint());
    send_message(w, 0, [&](schema::Envelope::Builder env) {
      auto hello = env.getBody().initWorkerHello();
      hello.setWorkerId("fake-worker");
      hello.setSlots(slots);
      hello.setHeartbeatIntervalMs(
          static_cast<std::uint32_t>(options_.policy.heartbeat_interval.count()));
      cas::to_wire(std::vector<cas::Property>{{"os", "testos"}}, hello.initPlatform(1));
    });
    return w;
  }

  // Waits until the server's status satisfies `pred`.
  bool status_until(proto::Connection& c,
                    const std::function<bool(schema::StatusResponse::Reader)>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      auto reply = c.call([](auto env) { env.getBody().initStatusRequest(); }, kPatience);
      if (!reply.ok()) return false;
      const auto body = (*reply)->envelope().getBody();
      if (body.which() != Which::STATUS_RESPONSE) return false;
      if (pred(body.getStatusResponse())) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  bool status_works() {
    auto c = client();
    return status_until(*c, [](auto) { return true; });
  }

  std::uint64_t send_execute(proto::Connection& c, const Fixture& f,
                             const std::string& base_dir = "", bool progress = false) {
    auto id = c.send([&](schema::Envelope::Builder env) {
      auto request = env.getBody().initExecuteRequest();
      request.setDigestFunction(cas::to_wire(kFn));
      cas::to_wire(f.action_digest, request.initActionDigest());
      cas::to_wire(f.action, kFn, request.initAction());
      if (!base_dir.empty()) request.setBaseDir(base_dir);
      request.setProgress(progress);
    });
    EXPECT_TRUE(id.ok());
    return *id;
  }

  // Receives the lease for `f` on a worker socket (with `base_dir`).
  std::uint64_t expect_lease(zmq::socket_t& w, const Fixture& f, const std::string& base_dir = "") {
    Message m = receive_within(w, kPatience);
    EXPECT_NE(m, nullptr) << "no lease";
    if (m == nullptr) return 0;
    const auto body = m->envelope().getBody();
    EXPECT_EQ(body.which(), Which::LEASE);
    if (body.which() != Which::LEASE) return 0;
    const auto lease = body.getLease();
    EXPECT_EQ(cas::from_wire(lease.getActionDigest(), kFn).value(), f.action_digest);
    EXPECT_EQ(cas::from_wire(lease.getAction(), kFn).value(), f.action);
    EXPECT_GT(lease.getQueuedUs(), 0u);
    EXPECT_EQ(std::string(lease.getBaseDir().cStr()), base_dir);
    return lease.getLeaseId();
  }

  void send_result(zmq::socket_t& w, std::uint64_t lease_id, const Fixture& f, int exit_code = 0) {
    send_message(w, 0, [&](schema::Envelope::Builder env) {
      auto result = env.getBody().initLeaseResult();
      result.setLeaseId(lease_id);
      cas::to_wire(f.action_digest, result.initActionDigest());
      cas::ActionResult r;
      r.exit_code = exit_code;
      r.stdout_digest = f.stdout_digest;
      r.stderr_digest = f.stderr_digest;
      r.metadata.worker_id = "fake-worker";
      cas::to_wire(r, result.initResult());
      result.setCacheable(exit_code == 0);
      cas::to_wire(std::vector<cas::Digest>{f.stdout_digest, f.stderr_digest},
                   result.initReferenced(2));
    });
  }

  zmq::context_t context_;
  fs::path dir_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Status run_status_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

schema::ExecuteResponse::Reader execute_response(const Message& m) {
  EXPECT_EQ(m->envelope().getBody().which(), Which::EXECUTE_RESPONSE);
  return m->envelope().getBody().getExecuteResponse();
}

ErrorCode error_code(const Message& m) {
  EXPECT_EQ(m->envelope().getBody().which(), Which::ERROR);
  return m->envelope().getBody().getError().getCode();
}

TEST_F(ServerTest, StatusAnswers) {
  start();
  auto c = client();
  auto reply = c->call([](auto env) { env.getBody().initStatusRequest(); }, kPatience);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  const auto body = (*reply)->envelope().getBody();
  ASSERT_EQ(body.which(), Which::STATUS_RESPONSE);
  const auto status = body.getStatusResponse();
  EXPECT_EQ(status.getWorkers().size(), 0u);
  EXPECT_FALSE(status.getDraining());
  EXPECT_EQ(status.getQueued(), 0u);
}

// A REQ client (one request at a time, an empty delimiter frame on the
// wire) is answered with the delimiter it needs.
TEST_F(ServerTest, ReqClientsAreAnswered) {
  start();
  zmq::socket_t req(context_, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect(server_->client_endpoint());
  capnp::MallocMessageBuilder m;
  proto::init_envelope(m, 4).getBody().initStatusRequest();
  ASSERT_TRUE(proto::send(req, "", m));
  Message reply = receive_within(req, kPatience);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->envelope().getRequestId(), 4u);
  EXPECT_EQ(reply->envelope().getBody().which(), Which::STATUS_RESPONSE);
}

// Garbage of every shape on one endpoint; the server must stay up and keep
// answering a well-behaved client. An unknown body kind is a request it
// answers with unknownKind.
void garbage_survived(ServerTest& test, zmq::socket_t& bad, bool expect_unknown_kind_reply) {
  std::mt19937 random(42);
  std::string noise(1000, '\0');
  for (auto& c : noise) c = static_cast<char>(random());
  send_raw(bad, {noise});                                             // one frame
  send_raw(bad, {"a", "b", "c", "d", "e", "f"});                      // six frames
  send_raw(bad, {signature(), noise.substr(0, 64)});                  // a body of noise
  send_raw(bad, {std::string("KLN") + '\x07', noise.substr(0, 64)});  // another version
  {
    capnp::MallocMessageBuilder m;
    proto::init_envelope(m, 3).getBody().initStatusRequest();
    const std::string body = body_of(m);
    send_raw(bad, {signature(), body.substr(0, body.size() - 8)});  // truncated
  }
  {
    capnp::MallocMessageBuilder m;
    auto env = m.initRoot<testschema::FutureEnvelope>();
    env.setVersion(schema::PROTOCOL_VERSION);
    env.setRequestId(7);
    env.getBody().initNest().setPayload(1);
    send_raw(bad, {signature(), body_of(m)});
  }
  if (expect_unknown_kind_reply) {
    Message reply = receive_within(bad, kPatience);
    ASSERT_NE(reply, nullptr);
    EXPECT_EQ(reply->envelope().getRequestId(), 7u);
    EXPECT_EQ(error_code(reply), ErrorCode::UNKNOWN_KIND);
  }
  EXPECT_EQ(receive_within(bad, kQuiet), nullptr) << "garbage must not be answered";
  EXPECT_TRUE(test.status_works());
}

TEST_F(ServerTest, GarbageOnTheClientEndpoint) {
  start();
  zmq::socket_t bad = dealer(server_->client_endpoint());
  garbage_survived(*this, bad, true);
}

TEST_F(ServerTest, GarbageOnTheWorkerEndpoint) {
  start();
  zmq::socket_t bad = dealer(server_->worker_endpoint());
  garbage_survived(*this, bad, true);
  // A worker with a session survives its own garbage below the limit too.
  zmq::socket_t w = worker();
  send_raw(w, {"x"});
  auto c = client();
  EXPECT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
}

TEST_F(ServerTest, OversizedMessagesAreDropped) {
  start();
  for (const std::string& endpoint : {server_->client_endpoint(), server_->worker_endpoint()}) {
    zmq::socket_t bad = dealer(endpoint);
    send_raw(bad, {signature(), std::string(9u << 20, 'x')});
  }
  EXPECT_TRUE(status_works());
}

TEST_F(ServerTest, RepeatedGarbageEndsThePeer) {
  options_.max_bad_messages = 3;
  start();
  zmq::socket_t bad = dealer(server_->client_endpoint());
  for (int i = 0; i < 4; ++i) send_raw(bad, {"garbage"});
  // Its next, valid, request is ignored; others are still served.
  send_message(bad, 9, [](auto env) { env.getBody().initStatusRequest(); });
  EXPECT_EQ(receive_within(bad, kQuiet), nullptr);
  EXPECT_TRUE(status_works());

  // A worker that keeps sending garbage loses its session.
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  for (int i = 0; i < 4; ++i) send_raw(w, {"garbage"});
  Message m = receive_within(w, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->envelope().getBody().which(), Which::DISCONNECT);
  EXPECT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 0; }));
}

TEST_F(ServerTest, SessionMessagesWithoutHelloGetDisconnect) {
  start();
  zmq::socket_t w = dealer(server_->worker_endpoint());
  send_message(w, 0, [](auto env) { env.getBody().initHeartbeat(); });
  Message m = receive_within(w, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->envelope().getBody().which(), Which::DISCONNECT);
  send_message(w, 0, [](auto env) { env.getBody().initLeaseResult().setLeaseId(1); });
  m = receive_within(w, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->envelope().getBody().which(), Which::DISCONNECT);
  // A client-only request on the worker endpoint is refused, not served.
  send_message(w, 5, [](auto env) { env.getBody().initStatusRequest(); });
  m = receive_within(w, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(error_code(m), ErrorCode::UNKNOWN_KIND);
}

TEST_F(ServerTest, ExecuteRunsOnAWorkerThenHitsTheCache) {
  const Fixture f = prepare();
  start();
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));

  const std::uint64_t id = send_execute(*c, f);
  const std::uint64_t lease = expect_lease(w, f);
  ASSERT_NE(lease, 0u);
  // A result for a lease this worker does not hold changes nothing: the
  // client gets the real one (exit 0) that follows it.
  send_result(w, lease + 1000, f, 1);
  send_result(w, lease, f);
  auto reply = c->wait(id, kPatience);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  {
    const auto response = execute_response(*reply);
    EXPECT_FALSE(response.getHasStatus());
    EXPECT_FALSE(response.getCached());
    EXPECT_EQ(response.getResult().getExitCode(), 0);
    EXPECT_EQ(cas::from_wire(response.getActionDigest(), kFn).value(), f.action_digest);
    EXPECT_EQ(cas::from_wire(response.getResult().getStdoutDigest(), kFn).value(), f.stdout_digest);
  }

  // The worker's result went into the action cache.
  auto again = c->call(
      [&](schema::Envelope::Builder env) {
        auto request = env.getBody().initExecuteRequest();
        request.setDigestFunction(cas::to_wire(kFn));
        cas::to_wire(f.action_digest, request.initActionDigest());
        cas::to_wire(f.action, kFn, request.initAction());
      },
      kPatience);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(execute_response(*again).getCached());
  EXPECT_EQ(receive_within(w, kQuiet), nullptr) << "a cache hit must not lease";
  EXPECT_TRUE(status_until(*c, [](auto s) {
    return s.getExecuted() == 1 && s.getActionCacheHits() == 1 && s.getActionCacheMisses() == 1 &&
           s.getCacheBlobs() >= 3;
  }));
}

// Results arriving together are cached together (one store transaction per
// poll turn, not one fsync per result, which capped the grid at the disk's
// fsync rate: scripts/bench/scale.sh), and every one of them is a hit
// afterwards.
TEST_F(ServerTest, ABurstOfResultsIsCachedTogether) {
  constexpr int kActions = 20;
  std::map<cas::Digest, Fixture> fixtures;
  for (int i = 0; i < kActions; ++i) {
    const Fixture f = prepare("burst-" + std::to_string(i));
    fixtures.emplace(f.action_digest, f);
  }
  start();
  zmq::socket_t w = worker(kActions);
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  std::vector<std::uint64_t> ids;
  for (const auto& [digest, f] : fixtures) ids.push_back(send_execute(*c, f));
  std::vector<std::pair<std::uint64_t, cas::Digest>> leases;
  while (leases.size() < fixtures.size()) {
    Message m = receive_within(w, kPatience);
    ASSERT_NE(m, nullptr) << "only " << leases.size() << " leases";
    ASSERT_EQ(m->envelope().getBody().which(), Which::LEASE);
    const auto lease = m->envelope().getBody().getLease();
    leases.emplace_back(lease.getLeaseId(), cas::from_wire(lease.getActionDigest(), kFn).value());
  }
  for (const auto& [lease, digest] : leases) send_result(w, lease, fixtures.at(digest));
  for (const std::uint64_t id : ids) {
    auto reply = c->wait(id, kPatience);
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_FALSE(execute_response(*reply).getHasStatus());
  }
  for (const auto& [digest, f] : fixtures) {
    auto again = c->wait(send_execute(*c, f), kPatience);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(execute_response(*again).getCached()) << digest.to_string();
  }
  EXPECT_EQ(receive_within(w, kQuiet), nullptr) << "a cache hit must not lease";
}

// CAS requests reach the CasService from clients and from workers (also
// from a worker connection without a session, as a worker's fetch threads
// use); an executeRequest then finds what a client uploaded.
TEST_F(ServerTest, CasIsServedOnBothEndpoints) {
  start();
  auto c = client();
  cas::Command command;
  command.arguments = {"true"};
  const std::string blob = cas::encode_command(command).value();
  const cas::Digest digest = cas::digest_of(kFn, blob);
  auto uploaded = c->call(
      [&](schema::Envelope::Builder env) {
        auto chunk = env.getBody().initUploadChunk();
        chunk.setDigestFunction(cas::to_wire(kFn));
        cas::to_wire(digest, chunk.initDigest());
        chunk.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(blob.data()), blob.size()));
        chunk.setLast(true);
      },
      kPatience);
  ASSERT_TRUE(uploaded.ok());
  ASSERT_EQ((*uploaded)->envelope().getBody().which(), Which::UPLOAD_RESPONSE);
  EXPECT_TRUE((*uploaded)->envelope().getBody().getUploadResponse().getCommitted());

  zmq::socket_t fetcher = dealer(server_->worker_endpoint());
  send_message(fetcher, 11, [&](schema::Envelope::Builder env) {
    auto request = env.getBody().initDownloadRequest();
    request.setDigestFunction(cas::to_wire(kFn));
    cas::to_wire(digest, request.initDigest());
  });
  Message m = receive_within(fetcher, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->envelope().getRequestId(), 11u);
  ASSERT_EQ(m->envelope().getBody().which(), Which::DOWNLOAD_CHUNK);
  const auto data = m->envelope().getBody().getDownloadChunk().getData();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data.begin()), data.size()), blob);

  // The input root is still missing: the scheduler says what to upload.
  cas::Action action;
  action.command_digest = digest;
  action.input_root_digest = cas::digest_of(kFn, cas::encode_directory({}, kFn).value());
  Fixture f;
  f.action = action;
  f.action_digest = cas::digest_of(kFn, cas::encode_action(action, kFn).value());
  auto reply = c->wait(send_execute(*c, f), kPatience);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(error_code(*reply), ErrorCode::NOT_FOUND);
  EXPECT_NE(
      std::string((*reply)->envelope().getBody().getError().getMessage().cStr()).find("input root"),
      std::string::npos);
}

TEST_F(ServerTest, ExecuteRefusesWhatItCannotRun) {
  const Fixture f = prepare();
  start();
  auto c = client();
  // Command not in the central store.
  Fixture missing = f;
  missing.action.command_digest = f.stdout_digest;
  missing.action.command_digest.size += 1;
  missing.action_digest = cas::digest_of(kFn, cas::encode_action(missing.action, kFn).value());
  auto reply = c->wait(send_execute(*c, missing), kPatience);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(error_code(*reply), ErrorCode::NOT_FOUND);
  // A digest that is not the action's.
  Fixture lying = f;
  lying.action_digest = f.stdout_digest;
  reply = c->wait(send_execute(*c, lying), kPatience);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(error_code(*reply), ErrorCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, ABaseDirReachesTheLeaseAndABadOneIsRefused) {
  const Fixture f = prepare();
  start();
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  for (const char* bad : {"relative", "/a/../b", "/a//b", "/a/", "/"}) {
    auto reply = c->wait(send_execute(*c, f, bad), kPatience);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(error_code(*reply), ErrorCode::INVALID_ARGUMENT) << bad;
  }
  auto reply = c->wait(send_execute(*c, f, std::string(5000, 'a').insert(0, "/")), kPatience);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(error_code(*reply), ErrorCode::INVALID_ARGUMENT);
  (void)send_execute(*c, f, "/home/dev/checkout");
  (void)expect_lease(w, f, "/home/dev/checkout");
}

// A request that asks for progress gets an executeProgress (an interim
// reply: the request stays outstanding) when a worker takes the action,
// then its executeResponse; a second request for the running action gets
// its progress at once; one that did not ask gets none.
TEST_F(ServerTest, ProgressIsAnInterimReplyWhenAWorkerTakesTheAction) {
  const Fixture f = prepare();
  start();
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  const std::uint64_t id = send_execute(*c, f, "", true);
  const std::uint64_t lease = expect_lease(w, f);
  auto progress = c->wait(id, kPatience);
  ASSERT_TRUE(progress.ok());
  ASSERT_EQ((*progress)->envelope().getBody().which(), Which::EXECUTE_PROGRESS);
  const auto p = (*progress)->envelope().getBody().getExecuteProgress();
  EXPECT_EQ(cas::from_wire(p.getActionDigest(), kFn).value(), f.action_digest);
  EXPECT_FALSE(std::string(p.getWorkerId().cStr()).empty());

  const std::uint64_t late = send_execute(*c, f, "", true);
  auto late_progress = c->wait(late, kPatience);
  ASSERT_TRUE(late_progress.ok());
  EXPECT_EQ((*late_progress)->envelope().getBody().which(), Which::EXECUTE_PROGRESS);
  const std::uint64_t plain = send_execute(*c, f);

  send_result(w, lease, f);
  for (std::uint64_t request : {id, late, plain}) {
    auto reply = c->wait(request, kPatience);
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    ASSERT_EQ((*reply)->envelope().getBody().which(), Which::EXECUTE_RESPONSE) << request;
    EXPECT_FALSE(execute_response(*reply).getHasStatus());
  }
}

TEST_F(ServerTest, CancelAnswersCancelledAndCancelsTheLease) {
  const Fixture f = prepare();
  start();
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  const std::uint64_t id = send_execute(*c, f);
  const std::uint64_t lease = expect_lease(w, f);
  send_message(c->socket(), 0, [&](schema::Envelope::Builder env) {  // a notification
    auto cancel = env.getBody().initCancelRequest();
    cancel.setExecuteRequestId(id);
    cas::to_wire(f.action_digest, cancel.initActionDigest());
  });
  auto reply = c->wait(id, kPatience);
  ASSERT_TRUE(reply.ok());
  const auto response = execute_response(*reply);
  EXPECT_TRUE(response.getHasStatus());
  EXPECT_EQ(response.getStatus().getCode(), ErrorCode::CANCELLED);
  Message m = receive_within(w, kPatience);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->envelope().getBody().which(), Which::CANCEL_LEASE);
  EXPECT_EQ(m->envelope().getBody().getCancelLease().getLeaseId(), lease);
}

void send_lease_error(zmq::socket_t& w, std::uint64_t lease_id, const Fixture& f, ErrorCode code,
                      bool retryable) {
  send_message(w, 0, [&](schema::Envelope::Builder env) {
    auto result = env.getBody().initLeaseResult();
    result.setLeaseId(lease_id);
    cas::to_wire(f.action_digest, result.initActionDigest());
    result.setHasError(true);
    result.initError().setCode(code);
    result.getError().setMessage("could not stage inputs");
    result.setRetryable(retryable);
  });
}

// A retryable worker error is another attempt; a final one reaches the
// client with the worker's code.
TEST_F(ServerTest, WorkerErrorsRetryThenReachTheClient) {
  const Fixture f = prepare();
  start();
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  const std::uint64_t id = send_execute(*c, f);
  const std::uint64_t first = expect_lease(w, f);
  send_lease_error(w, first, f, ErrorCode::INTERNAL, true);
  const std::uint64_t second = expect_lease(w, f);
  EXPECT_NE(second, first);
  send_lease_error(w, second, f, ErrorCode::INVALID_ARGUMENT, false);
  auto reply = c->wait(id, kPatience);
  ASSERT_TRUE(reply.ok());
  const auto response = execute_response(*reply);
  EXPECT_TRUE(response.getHasStatus());
  EXPECT_EQ(response.getStatus().getCode(), ErrorCode::INVALID_ARGUMENT);
  EXPECT_NE(std::string(response.getStatus().getMessage().cStr()).find("could not stage inputs"),
            std::string::npos);
}

// The scheduler heartbeats every worker at the shorter of the two
// intervals, so a worker that expects them more often keeps its session.
TEST_F(ServerTest, HeartbeatsComeAtTheWorkersPace) {
  start();  // the scheduler's interval is 500 ms
  zmq::socket_t w = dealer(server_->worker_endpoint());
  send_message(w, 0, [&](schema::Envelope::Builder env) {
    auto hello = env.getBody().initWorkerHello();
    hello.setSlots(1);
    hello.setHeartbeatIntervalMs(50);
  });
  int heartbeats = 0;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(450);
  while (std::chrono::steady_clock::now() < deadline) {
    Message m = receive_within(w, milliseconds(100), false);
    if (m != nullptr && m->envelope().getBody().which() == Which::HEARTBEAT) ++heartbeats;
  }
  EXPECT_GE(heartbeats, 4);
}

TEST_F(ServerTest, AHelloWithAnInvalidPlatformIsRefused) {
  start();
  zmq::socket_t w = dealer(server_->worker_endpoint());
  send_message(w, 0, [&](schema::Envelope::Builder env) {
    auto hello = env.getBody().initWorkerHello();
    hello.setSlots(1);
    auto platform = hello.initPlatform(2);  // not sorted
    platform[0].setName("z");
    platform[0].setValue("1");
    platform[1].setName("a");
    platform[1].setValue("1");
  });
  Message m = receive_within(w, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->envelope().getBody().which(), Which::DISCONNECT);
  auto c = client();
  EXPECT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 0; }));
}

TEST_F(ServerTest, ASilentWorkerIsDroppedAndItsLeaseRequeued) {
  const Fixture f = prepare();
  options_.policy.heartbeat_interval = milliseconds(100);
  start();
  zmq::socket_t silent = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  const std::uint64_t id = send_execute(*c, f);
  ASSERT_NE(expect_lease(silent, f), 0u);
  // 3 intervals of silence: disconnect, and the action goes to the next one.
  Message m = receive_within(silent, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->envelope().getBody().which(), Which::DISCONNECT);
  zmq::socket_t w = worker();
  const std::uint64_t lease = expect_lease(w, f);
  send_result(w, lease, f);
  auto reply = c->wait(id, kPatience);
  ASSERT_TRUE(reply.ok());
  EXPECT_FALSE(execute_response(*reply).getHasStatus());
}

TEST_F(ServerTest, StopDrainsRunningWorkThenReturns) {
  const Fixture f = prepare();
  const Fixture other = prepare("other");
  start();
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  const std::uint64_t id = send_execute(*c, f);
  const std::uint64_t lease = expect_lease(w, f);

  server_->request_stop();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getDraining(); }));
  // New work is refused while draining...
  auto refused = c->wait(send_execute(*c, other), kPatience);
  ASSERT_TRUE(refused.ok());
  EXPECT_TRUE(execute_response(*refused).getHasStatus());
  EXPECT_EQ(execute_response(*refused).getStatus().getCode(), ErrorCode::UNAVAILABLE);
  // ...running work finishes, keeping the worker alive meanwhile.
  send_message(w, 0, [](auto env) { env.getBody().initHeartbeat(); });
  send_result(w, lease, f);
  auto reply = c->wait(id, kPatience);
  ASSERT_TRUE(reply.ok());
  EXPECT_FALSE(execute_response(*reply).getHasStatus());
  thread_.join();
  EXPECT_TRUE(run_status_.ok());
  // The worker was told the scheduler went away.
  Message m = receive_within(w, kPatience);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->envelope().getBody().which(), Which::DISCONNECT);
}

TEST_F(ServerTest, DrainTimeoutAnswersWhoStillWaits) {
  const Fixture f = prepare();
  options_.drain_timeout = milliseconds(200);
  start();
  zmq::socket_t w = worker();
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  const std::uint64_t id = send_execute(*c, f);
  ASSERT_NE(expect_lease(w, f), 0u);
  const auto before = std::chrono::steady_clock::now();
  stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, kPatience);
  auto reply = c->wait(id, kPatience);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(execute_response(*reply).getStatus().getCode(), ErrorCode::UNAVAILABLE);
}

TEST_F(ServerTest, IdleStopReturnsAtOnce) {
  start();
  const auto before = std::chrono::steady_clock::now();
  stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, milliseconds(1000));
  EXPECT_TRUE(run_status_.ok());
}

TEST_F(ServerTest, BindFailureIsAnError) {
  start();
  ServerOptions clash = options_;
  clash.store_dir = dir_ / "store2";
  clash.client_endpoint = server_->client_endpoint();
  auto second = Server::create(clash, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::kUnavailable);
}

// /metrics over real HTTP, from a Server whose loop runs real actions with
// a (scripted) worker: the counters and gauges agree with what happened,
// and with `kiln status`.
std::string scrape(int port, const std::string& token = {}) {
  httplib::Client http("127.0.0.1", port);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto reply = http.Get("/metrics", headers);
  if (!reply) return "no reply";
  if (reply->status != 200) return "status " + std::to_string(reply->status);
  return reply->body;
}

// Scrapes until the page has every one of `lines` (the loop publishes
// every metrics_interval), or kPatience passed; returns the last page.
std::string scrape_until(int port, const std::vector<std::string>& lines) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  std::string page;
  do {
    page = scrape(port);
    if (std::all_of(lines.begin(), lines.end(), [&](const std::string& l) {
          return page.find(l + "\n") != std::string::npos;
        })) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return page;
}

int http_port(const Server& server) {
  const std::string endpoint = server.http_endpoint();
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

bool has_all(const std::string& page, const std::vector<std::string>& lines) {
  for (const auto& l : lines) {
    if (page.find(l + "\n") == std::string::npos) {
      ADD_FAILURE() << "missing '" << l << "' in:\n" << page;
      return false;
    }
  }
  return true;
}

TEST_F(ServerTest, MetricsCountWhatTheLoopDid) {
  const Fixture a = prepare("a");
  const Fixture b = prepare("b");
  options_.http_endpoint = "127.0.0.1:0";
  options_.metrics_interval = milliseconds(20);
  start();
  ASSERT_EQ(server_->http_endpoint().rfind("127.0.0.1:", 0), 0u);
  const int port = http_port(*server_);
  EXPECT_TRUE(has_all(scrape(port), {"kiln_workers 0", "kiln_queued_actions 0"}));

  zmq::socket_t w = worker(1);
  auto c = client();
  ASSERT_TRUE(status_until(*c, [](auto s) { return s.getWorkers().size() == 1; }));
  // One slot: a runs, b waits in the queue.
  const std::uint64_t id_a = send_execute(*c, a);
  const std::uint64_t lease_a = expect_lease(w, a);
  const std::uint64_t id_b = send_execute(*c, b);
  EXPECT_TRUE(has_all(
      scrape_until(port, {"kiln_queued_actions 1", "kiln_running_actions 1"}),
      {"kiln_queued_actions 1", "kiln_running_actions 1", "kiln_workers 1", "kiln_worker_slots 1",
       "kiln_worker_slots_busy 1", "kiln_waiting_requests 2", "kiln_action_requests_total 2"}));
  send_result(w, lease_a, a);
  ASSERT_TRUE(c->wait(id_a, kPatience).ok());
  const std::uint64_t lease_b = expect_lease(w, b);
  send_result(w, lease_b, b);
  ASSERT_TRUE(c->wait(id_b, kPatience).ok());
  // a again: a cache hit.
  const std::uint64_t id_hit = send_execute(*c, a);
  ASSERT_TRUE(c->wait(id_hit, kPatience).ok());

  const std::vector<std::string> expected = {
      "kiln_action_requests_total 3",
      "kiln_action_cache_hits_total 1",
      "kiln_action_cache_misses_total 2",
      "kiln_actions_executed_total 2",
      "kiln_queued_actions 0",
      "kiln_running_actions 0",
      "kiln_worker_slots_busy 0",
      "kiln_action_queue_wait_seconds_count 2",
      "kiln_action_execution_seconds_count 2",
      "kiln_action_execution_seconds_bucket{le=\"+Inf\"} 2",
      "kiln_action_requests_failed_total{reason=\"worker_error\"} 0",
      "kiln_refused_connections_total 0",
      "kiln_draining 0"};
  const std::string page = scrape_until(port, expected);
  EXPECT_TRUE(has_all(page, expected));
  EXPECT_NE(page.find("kiln_store_size_bytes "), std::string::npos);
  // The same numbers as statusRequest (kiln status).
  EXPECT_TRUE(status_until(*c, [](auto s) {
    return s.getExecuted() == 2 && s.getActionCacheHits() == 1 && s.getActionCacheMisses() == 2;
  }));

  httplib::Client http("127.0.0.1", port);
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = http.Get("/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
}

TEST_F(ServerTest, MetricsNeedTheTokenWhenOneIsSet) {
  const std::string token = "a-test-token-of-some-length";
  options_.http_endpoint = "127.0.0.1:0";
  options_.http_token = token;
  options_.metrics_interval = milliseconds(20);
  start();
  const int port = http_port(*server_);
  EXPECT_EQ(scrape(port), "status 401");
  EXPECT_EQ(scrape(port, "wrong-token-of-some-length!"), "status 401");
  EXPECT_TRUE(has_all(scrape(port, token), {"kiln_http_unauthorized_requests_total 2"}));
}

TEST_F(ServerTest, HttpOffLoopbackNeedsAToken) {
  options_.http_endpoint = "0.0.0.0:0";
  auto refused = Server::create(options_, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("without a token"), std::string::npos);
  options_.http_endpoint = "127.0.0.1";
  auto malformed = Server::create(options_, nullptr);
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::scheduler
