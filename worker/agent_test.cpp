// The agent against a fake scheduler: a raw ROUTER that plays the session
// side by hand, and the real CAS service over a temporary central store
// (the slots' CAS connections reach the same ROUTER, as they reach the real
// scheduler's worker endpoint). Heartbeats are 50 ms so that liveness,
// reconnects and backoff take a fraction of a second; timing assertions are
// lower bounds the design guarantees, or generous upper bounds.
#include "worker/agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <zmq.hpp>

#include "cas/cas_service.h"
#include "cas/tree.h"
#include "cas/wire_model.h"
#include "proto/codec.h"
#include "proto/transport.h"

namespace kiln::worker {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using Which = schema::Envelope::Body::Which;
using Code = schema::Error::Code;
constexpr auto kFn = cas::DigestFunction::kXxh3_128;
// Small LMDB maps: sanitizers cannot reserve the default terabyte.
constexpr std::uint64_t kMapSize = 256u << 20;

struct Message {
  std::string peer;
  std::unique_ptr<proto::Decoded> decoded;
  Clock::time_point at;
  schema::Envelope::Reader envelope() const { return decoded->envelope(); }
  Which which() const { return envelope().getBody().which(); }
  std::uint64_t request_id() const { return envelope().getRequestId(); }
};

// The scheduler's worker endpoint, played by hand.
class FakeScheduler {
 public:
  explicit FakeScheduler(const fs::path& store_dir) {
    cas::StoreOptions options;
    options.dir = store_dir;
    options.durable = false;
    options.map_size = kMapSize;
    auto store = cas::Store::open(options);
    EXPECT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    cas_ = std::make_unique<cas::CasService>(*store_);
    bind("tcp://127.0.0.1:0");
  }

  void bind(const std::string& endpoint) {
    auto router = proto::make_router(context_, endpoint);
    ASSERT_TRUE(router.ok()) << router.error().message;
    router_ = std::move(router).value();
    endpoint_ = proto::bound_endpoint(*router_);
  }
  // The scheduler dies: its socket goes away (a later bind() restarts it).
  void close() { router_.reset(); }

  const std::string& endpoint() const { return endpoint_; }
  cas::Store& store() { return *store_; }
  cas::CasService& cas() { return *cas_; }
  // false: the scheduler is silent on the session (CAS is still served).
  std::atomic<bool> answer_heartbeats{true};

  // Pumps the socket for up to `timeout`, serving CAS requests, and returns
  // the first session message `want` accepts.
  std::optional<Message> next(Millis timeout, const std::function<bool(const Message&)>& want) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (!router_) {
        std::this_thread::sleep_for(10ms);
        continue;
      }
      zmq::pollitem_t item{router_->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 10ms);
      while (auto received = proto::receive(*router_, true)) {
        if (!received->message.ok()) continue;
        Message message{received->peer, std::move(received->message).value(), Clock::now()};
        capnp::MallocMessageBuilder reply;
        if (cas_->handle(message.peer, message.envelope(), reply,
                         std::chrono::duration_cast<Millis>(Clock::now().time_since_epoch()))) {
          proto::send(*router_, message.peer, reply);
          continue;
        }
        if (answer_heartbeats &&
            (message.which() == Which::HEARTBEAT || message.which() == Which::WORKER_HELLO)) {
          // Not checked: the session may already be gone (a slow start).
          capnp::MallocMessageBuilder heartbeat;
          proto::init_envelope(heartbeat, 0).getBody().initHeartbeat();
          proto::send(*router_, message.peer, heartbeat);
        }
        if (want(message)) return message;
      }
    }
    return std::nullopt;
  }
  std::optional<Message> next(Which kind, Millis timeout = 5000ms) {
    return next(timeout, [kind](const Message& m) { return m.which() == kind; });
  }

  template <typename Fill>
  void send(const std::string& peer, std::uint64_t request_id, Fill fill) {
    capnp::MallocMessageBuilder message;
    auto envelope = proto::init_envelope(message, request_id);
    fill(envelope.getBody());
    EXPECT_TRUE(proto::send(*router_, peer, message));
  }

  void send_lease(const std::string& peer, std::uint64_t request_id, std::uint64_t lease_id,
                  const cas::Action& action) {
    auto encoded = cas::encode_action(action, kFn);
    ASSERT_TRUE(encoded.ok());
    const cas::Digest digest = cas::digest_of(kFn, *encoded);
    send(peer, request_id, [&](schema::Envelope::Body::Builder body) {
      auto lease = body.initLease();
      lease.setLeaseId(lease_id);
      lease.setDigestFunction(cas::to_wire(kFn));
      cas::to_wire(digest, lease.initActionDigest());
      cas::to_wire(action, kFn, lease.initAction());
      lease.setQueuedUs(123);
    });
  }

 private:
  zmq::context_t context_;
  std::optional<zmq::socket_t> router_;
  std::string endpoint_;
  std::unique_ptr<cas::Store> store_;
  std::unique_ptr<cas::CasService> cas_;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("kiln-agent-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "input");
    scheduler_ = std::make_unique<FakeScheduler>(base_ / "central");
    options_.scheduler_endpoint = scheduler_->endpoint();
    options_.worker_id = "test-worker";
    options_.slots = 2;
    options_.platform = {{"toolchain", "gcc-12"}};
    options_.store_dir = base_ / "local";
    options_.store_map_size = kMapSize;
    options_.heartbeat_interval = 50ms;
    options_.backoff_initial = 100ms;
    options_.backoff_max = 400ms;
    options_.drain_timeout = 3000ms;
    options_.cas_timeout = 2000ms;
  }
  void TearDown() override {
    stop();
    if (HasFailure()) {
      const std::lock_guard<std::mutex> lock(log_mutex_);
      for (const auto& line : log_) std::cerr << "  agent: " << line << '\n';
    }
    scheduler_.reset();
    fs::remove_all(base_);
  }

  void start() {
    auto agent = Agent::create(options_, [this](LogLevel, const std::string& text) {
      const std::lock_guard<std::mutex> lock(log_mutex_);
      log_.push_back(text);
    });
    ASSERT_TRUE(agent.ok()) << agent.error().message;
    agent_ = std::move(agent).value();
    thread_ = std::thread([this] { status_ = agent_->run(); });
  }
  void stop() {
    if (!agent_) return;
    agent_->request_stop();
    thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.error().message;
    agent_.reset();
  }

  // The first hello: the session's peer.
  std::string session() {
    auto hello = scheduler_->next(Which::WORKER_HELLO);
    EXPECT_TRUE(hello.has_value());
    return hello ? hello->peer : std::string();
  }

  void write_input(const std::string& path, const std::string& text) {
    fs::create_directories((base_ / "input" / path).parent_path());
    std::ofstream(base_ / "input" / path) << text;
  }

  // An action over base_/input, its blobs in the central store (all but the
  // files, with `upload_files` false).
  cas::Action make_action(const std::string& script, std::vector<std::string> outputs = {},
                          bool upload_files = true, const std::string& salt = {}) {
    cas::Store& central = scheduler_->store();
    auto tree = cas::build_tree(base_ / "input", kFn);
    EXPECT_TRUE(tree.ok()) << tree.error().message;
    for (const auto& [digest, bytes] : tree->directories) {
      EXPECT_TRUE(central.put(digest, std::as_bytes(std::span(bytes.data(), bytes.size()))).ok());
    }
    if (upload_files) {
      for (const auto& [digest, path] : tree->files) EXPECT_TRUE(central.put_file(path).ok());
    }
    cas::Command command;
    command.arguments = {"/bin/sh", "-c", script};
    command.environment = {{"PATH", "/usr/bin:/bin"}};
    command.output_files = std::move(outputs);
    auto encoded = cas::encode_command(command);
    EXPECT_TRUE(encoded.ok());
    auto command_digest = central.put(*encoded);
    EXPECT_TRUE(command_digest.ok());
    cas::Action action;
    action.command_digest = *command_digest;
    action.input_root_digest = tree->root;
    action.salt = salt;
    return action;
  }

  // Serves the session (answering heartbeats) for `time`: a test that slept
  // instead would look like a dead scheduler after 150 ms.
  void pump(Millis time) {
    scheduler_->next(time, [](const Message&) { return false; });
  }

  std::optional<Message> lease_result(Millis timeout = 10000ms) {
    return scheduler_->next(Which::LEASE_RESULT, timeout);
  }

  fs::path base_;
  std::unique_ptr<FakeScheduler> scheduler_;
  AgentOptions options_;
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
  Status status_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

TEST_F(AgentTest, HelloCarriesIdSlotsPlatformAndInterval) {
  start();
  auto hello = scheduler_->next(Which::WORKER_HELLO);
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->request_id(), 0u);
  EXPECT_EQ(hello->peer.rfind("test-worker/", 0), 0u) << hello->peer;
  auto body = hello->envelope().getBody().getWorkerHello();
  EXPECT_EQ(std::string(body.getWorkerId().cStr()), "test-worker");
  EXPECT_EQ(body.getSlots(), 2u);
  EXPECT_EQ(body.getHeartbeatIntervalMs(), 50u);
  auto platform = cas::from_wire(body.getPlatform());
  ASSERT_TRUE(platform.ok()) << platform.error().message;
  // The sandbox, network and input-root properties come with the platform
  // the user gave.
  EXPECT_EQ(*platform, default_platform({{"toolchain", "gcc-12"},
                                         {"sandbox", "bubblewrap"},
                                         {"network", "on"},
                                         {"input-root", "filesystem"}}));
}

TEST(DefaultPlatform, HasOsAndArchSortedAndUserValuesWin) {
  auto platform = default_platform({{"zz", "1"}, {"arch", "custom"}});
  EXPECT_TRUE(std::is_sorted(platform.begin(), platform.end()));
  EXPECT_NE(std::find(platform.begin(), platform.end(), cas::Property{"os", "linux"}),
            platform.end());
  EXPECT_NE(std::find(platform.begin(), platform.end(), cas::Property{"arch", "custom"}),
            platform.end());
  EXPECT_EQ(std::count_if(platform.begin(), platform.end(),
                          [](const cas::Property& p) { return p.name == "arch"; }),
            1);
}

TEST_F(AgentTest, HeartbeatsArriveEveryInterval) {
  start();
  const std::string peer = session();
  int heartbeats = 0;
  scheduler_->next(600ms, [&](const Message& m) {
    if (m.which() == Which::HEARTBEAT && m.peer == peer) {
      ++heartbeats;
      EXPECT_EQ(m.envelope().getBody().getHeartbeat().getBusySlots(), 0u);
    }
    return false;
  });
  EXPECT_GE(heartbeats, 5);  // 12 expected
  EXPECT_LE(heartbeats, 16);
}

TEST_F(AgentTest, SilentSchedulerMeansANewSessionOnAFreshSocket) {
  scheduler_->answer_heartbeats = false;
  start();
  auto first = scheduler_->next(Which::WORKER_HELLO);
  ASSERT_TRUE(first);
  auto second = scheduler_->next(Which::WORKER_HELLO);
  ASSERT_TRUE(second);
  EXPECT_NE(first->peer, second->peer);
  EXPECT_EQ(second->peer.rfind("test-worker/", 0), 0u);
  // 3 silent intervals, then the first backoff.
  EXPECT_GE(second->at - first->at, 150ms + 100ms - 20ms);
}

TEST_F(AgentTest, BackoffDoublesBetweenFailedSessions) {
  scheduler_->answer_heartbeats = false;
  start();
  std::vector<Clock::time_point> hellos;
  for (int i = 0; i < 4; ++i) {
    auto hello = scheduler_->next(Which::WORKER_HELLO);
    ASSERT_TRUE(hello);
    hellos.push_back(hello->at);
  }
  // Each gap is 3 intervals of silence plus the backoff: 100, 200, 400 ms.
  // The times are when the fake scheduler's thread read each hello: under
  // load one read late shortens the next gap (seen: 227 ms for 250), so
  // the slack is generous, and still far below each doubling.
  const Millis slack = 50ms;
  EXPECT_GE(hellos[1] - hellos[0], 150ms + 100ms - slack);
  EXPECT_GE(hellos[2] - hellos[1], 150ms + 200ms - slack);
  EXPECT_GE(hellos[3] - hellos[2], 150ms + 400ms - slack);
}

TEST_F(AgentTest, DisconnectEndsTheSessionAndALiveOneReconnectsAtOnce) {
  start();
  const std::string peer = session();
  ASSERT_TRUE(scheduler_->next(Which::HEARTBEAT));
  const auto sent = Clock::now();
  scheduler_->send(peer, 0, [](auto body) { body.setDisconnect("go away"); });
  auto hello = scheduler_->next(Which::WORKER_HELLO);
  ASSERT_TRUE(hello);
  EXPECT_NE(hello->peer, peer);
  EXPECT_LT(hello->at - sent, 100ms + 150ms);  // no backoff, no liveness wait
}

TEST_F(AgentTest, SurvivesASchedulerRestart) {
  start();
  session();
  const std::string endpoint = scheduler_->endpoint();
  scheduler_->close();
  std::this_thread::sleep_for(300ms);
  scheduler_->bind(endpoint);
  auto hello = scheduler_->next(Which::WORKER_HELLO, 5000ms);
  ASSERT_TRUE(hello);
}

TEST_F(AgentTest, RunsALeaseAndUploadsItsOutputs) {
  write_input("in.txt", "hello\n");
  const cas::Action action = make_action("tr a-z A-Z < in.txt > out.txt; echo ran", {"out.txt"});
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 41, 7, action);
  auto reply = lease_result();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->request_id(), 41u);
  auto result = reply->envelope().getBody().getLeaseResult();
  EXPECT_EQ(result.getLeaseId(), 7u);
  ASSERT_FALSE(result.getHasError()) << result.getError().getMessage().cStr();
  EXPECT_TRUE(result.getCacheable());
  EXPECT_FALSE(result.getTimedOut());
  EXPECT_EQ(result.getMissingOutputs().size(), 0u);
  auto action_result = cas::from_wire(result.getResult(), kFn);
  ASSERT_TRUE(action_result.ok()) << action_result.error().message;
  EXPECT_EQ(action_result->exit_code, 0);
  ASSERT_EQ(action_result->output_files.size(), 1u);
  auto out = scheduler_->store().get(action_result->output_files[0].digest);
  ASSERT_TRUE(out.ok() && out->has_value());
  EXPECT_EQ(**out, "HELLO\n");
  auto stdout_data = scheduler_->store().get(action_result->stdout_digest);
  ASSERT_TRUE(stdout_data.ok() && stdout_data->has_value());
  EXPECT_EQ(**stdout_data, "ran\n");
  auto referenced = cas::from_wire(result.getReferenced(), kFn);
  ASSERT_TRUE(referenced.ok());
  EXPECT_EQ(referenced->size(), 3u);  // out.txt, stdout, stderr
  auto missing = scheduler_->store().find_missing(*referenced);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  const auto& meta = action_result->metadata;
  EXPECT_EQ(meta.worker_id, "test-worker");
  EXPECT_EQ(meta.queued_us, 123u);
  EXPECT_GT(meta.input_fetch_start_us, 0u);
  EXPECT_LE(meta.worker_start_us, meta.input_fetch_start_us);
  EXPECT_LE(meta.input_fetch_start_us, meta.input_fetch_end_us);
  EXPECT_LE(meta.input_fetch_end_us, meta.execution_start_us);
  EXPECT_LE(meta.execution_end_us, meta.output_upload_start_us);
  EXPECT_LE(meta.output_upload_start_us, meta.output_upload_end_us);
  EXPECT_LE(meta.output_upload_end_us, meta.worker_end_us);
  // The slot is free again.
  auto heartbeat = scheduler_->next(Which::HEARTBEAT);
  ASSERT_TRUE(heartbeat);
  EXPECT_EQ(heartbeat->envelope().getBody().getHeartbeat().getBusySlots(), 0u);
}

TEST_F(AgentTest, InputsAlreadyInTheLocalStoreAreNotFetchedAgain) {
  write_input("data/big.txt", std::string(100000, 'x'));
  const cas::Action first = make_action("wc -c < data/big.txt", {}, true, "1");
  const cas::Action second = make_action("wc -c < data/big.txt", {}, true, "2");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 1, 1, first);
  auto reply = lease_result();
  ASSERT_TRUE(reply);
  ASSERT_FALSE(reply->envelope().getBody().getLeaseResult().getHasError());
  const auto downloads = scheduler_->cas().stats().downloads;
  EXPECT_GT(downloads, 0u);
  scheduler_->send_lease(peer, 2, 2, second);
  reply = lease_result();
  ASSERT_TRUE(reply);
  ASSERT_FALSE(reply->envelope().getBody().getLeaseResult().getHasError());
  EXPECT_EQ(scheduler_->cas().stats().downloads, downloads);
}

TEST_F(AgentTest, MissingInputBlobIsNotRetryable) {
  write_input("in.txt", "never uploaded\n");
  const cas::Action action = make_action("cat in.txt", {}, false);
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 5, 5, action);
  auto reply = lease_result();
  ASSERT_TRUE(reply);
  auto result = reply->envelope().getBody().getLeaseResult();
  ASSERT_TRUE(result.getHasError());
  EXPECT_EQ(result.getError().getCode(), Code::NOT_FOUND) << result.getError().getMessage().cStr();
  EXPECT_FALSE(result.getRetryable());
  EXPECT_FALSE(result.getCacheable());
}

TEST_F(AgentTest, CancelLeaseKillsTheAction) {
  const cas::Action action = make_action("sleep 30");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 9, 9, action);
  // Wait until the worker reports the slot busy, then a little for the spawn.
  ASSERT_TRUE(scheduler_->next(5000ms, [](const Message& m) {
    return m.which() == Which::HEARTBEAT &&
           m.envelope().getBody().getHeartbeat().getBusySlots() == 1;
  }));
  pump(200ms);
  const auto sent = Clock::now();
  scheduler_->send(peer, 0, [](auto body) { body.initCancelLease().setLeaseId(9); });
  auto reply = lease_result(5000ms);
  ASSERT_TRUE(reply);
  EXPECT_LT(reply->at - sent, 2000ms);
  auto result = reply->envelope().getBody().getLeaseResult();
  EXPECT_EQ(result.getLeaseId(), 9u);
  ASSERT_TRUE(result.getHasError());
  EXPECT_EQ(result.getError().getCode(), Code::CANCELLED);
  EXPECT_FALSE(result.getRetryable());
}

TEST_F(AgentTest, CancelRequestFromTheSchedulerCancelsLeasesOfThatAction) {
  const cas::Action action = make_action("sleep 30");
  auto encoded = cas::encode_action(action, kFn);
  ASSERT_TRUE(encoded.ok());
  const cas::Digest digest = cas::digest_of(kFn, *encoded);
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 9, 9, action);
  pump(200ms);
  scheduler_->send(peer, 0, [&](schema::Envelope::Body::Builder body) {
    cas::to_wire(digest, body.initCancelRequest().initActionDigest());
  });
  auto reply = lease_result(5000ms);
  ASSERT_TRUE(reply);
  auto result = reply->envelope().getBody().getLeaseResult();
  EXPECT_EQ(result.getLeaseId(), 9u);
  EXPECT_EQ(result.getError().getCode(), Code::CANCELLED);
}

TEST_F(AgentTest, LeaseBeyondFreeSlotsIsRefusedAsRetryable) {
  options_.slots = 1;
  write_input("in.txt", "x");
  const cas::Action slow = make_action("sleep 30", {}, true, "slow");
  const cas::Action other = make_action("true", {}, true, "other");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 1, 1, slow);
  scheduler_->send_lease(peer, 2, 2, other);
  auto reply = lease_result(3000ms);
  ASSERT_TRUE(reply);
  auto result = reply->envelope().getBody().getLeaseResult();
  EXPECT_EQ(result.getLeaseId(), 2u);
  ASSERT_TRUE(result.getHasError());
  EXPECT_EQ(result.getError().getCode(), Code::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(result.getRetryable());
  scheduler_->send(peer, 0, [](auto body) { body.initCancelLease().setLeaseId(1); });
  reply = lease_result(5000ms);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->envelope().getBody().getLeaseResult().getLeaseId(), 1u);
}

TEST_F(AgentTest, ACancelledLeaseFreesItsSlotAtOnce) {
  // The scheduler counts the slot free when it sends cancelLease and may
  // send the next lease right behind it.
  options_.slots = 1;
  write_input("in.txt", "x");
  const cas::Action slow = make_action("sleep 30", {}, true, "slow");
  const cas::Action next = make_action("cat in.txt", {}, true, "next");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 1, 1, slow);
  pump(200ms);
  scheduler_->send(peer, 0, [](auto body) { body.initCancelLease().setLeaseId(1); });
  scheduler_->send_lease(peer, 2, 2, next);
  std::map<std::uint64_t, Code> errors;
  std::optional<Message> done;
  for (int i = 0; i < 2; ++i) {
    auto reply = lease_result(5000ms);
    ASSERT_TRUE(reply);
    auto result = reply->envelope().getBody().getLeaseResult();
    if (result.getHasError()) {
      errors[result.getLeaseId()] = result.getError().getCode();
    } else {
      EXPECT_EQ(result.getLeaseId(), 2u);
      done = std::move(reply);
    }
  }
  EXPECT_EQ(errors, (std::map<std::uint64_t, Code>{{1, Code::CANCELLED}}));
  ASSERT_TRUE(done);
}

TEST_F(AgentTest, ResultsOfALostSessionAreNotSentOnTheNext) {
  const cas::Action action = make_action("sleep 1; echo late");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 3, 3, action);
  scheduler_->answer_heartbeats = false;
  auto hello = scheduler_->next(Which::WORKER_HELLO, 5000ms);
  ASSERT_TRUE(hello);
  scheduler_->answer_heartbeats = true;
  EXPECT_FALSE(lease_result(1500ms)) << "a result crossed sessions";
}

TEST_F(AgentTest, StopLetsRunningLeasesFinishThenDisconnects) {
  const cas::Action action = make_action("sleep 0.3; echo finished");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 4, 4, action);
  pump(100ms);
  agent_->request_stop();
  auto reply = lease_result(5000ms);
  ASSERT_TRUE(reply);
  auto result = reply->envelope().getBody().getLeaseResult();
  EXPECT_FALSE(result.getHasError()) << result.getError().getMessage().cStr();
  auto bye = scheduler_->next(Which::DISCONNECT, 3000ms);
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->peer, peer);
  stop();
}

TEST_F(AgentTest, StopKillsLeasesThatOutlastTheDrainTimeout) {
  options_.drain_timeout = 200ms;
  const cas::Action action = make_action("sleep 30");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 4, 4, action);
  pump(200ms);
  agent_->request_stop();
  auto reply = lease_result(5000ms);
  ASSERT_TRUE(reply);
  auto result = reply->envelope().getBody().getLeaseResult();
  ASSERT_TRUE(result.getHasError());
  EXPECT_EQ(result.getError().getCode(), Code::UNAVAILABLE);
  EXPECT_TRUE(result.getRetryable());
  ASSERT_TRUE(scheduler_->next(Which::DISCONNECT, 3000ms));
  stop();
}

TEST_F(AgentTest, SecondStopKillsRunningLeasesAtOnce) {
  options_.drain_timeout = 60000ms;
  const cas::Action action = make_action("sleep 30");
  start();
  const std::string peer = session();
  scheduler_->send_lease(peer, 4, 4, action);
  pump(200ms);
  agent_->request_stop();
  pump(100ms);
  const auto asked = Clock::now();
  agent_->request_stop();
  auto reply = lease_result(5000ms);
  ASSERT_TRUE(reply);
  EXPECT_LT(reply->at - asked, 3000ms);
  EXPECT_EQ(reply->envelope().getBody().getLeaseResult().getError().getCode(), Code::UNAVAILABLE);
  ASSERT_TRUE(scheduler_->next(Which::DISCONNECT, 3000ms));
  stop();
}

TEST_F(AgentTest, StopWithoutASchedulerReturnsPromptly) {
  scheduler_->close();
  start();
  std::this_thread::sleep_for(100ms);
  const auto asked = Clock::now();
  stop();
  EXPECT_LT(Clock::now() - asked, 2000ms);
}

TEST_F(AgentTest, RequestsAWorkerDoesNotServeAreAnsweredUnknownKind) {
  start();
  const std::string peer = session();
  scheduler_->send(peer, 77, [](auto body) { body.initStatusRequest(); });
  auto reply = scheduler_->next(Which::ERROR);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->request_id(), 77u);
  EXPECT_EQ(reply->envelope().getBody().getError().getCode(), Code::UNKNOWN_KIND);
}

TEST_F(AgentTest, MismatchedActionDigestIsRefused) {
  const cas::Action action = make_action("true");
  start();
  const std::string peer = session();
  scheduler_->send(peer, 8, [&](schema::Envelope::Body::Builder body) {
    auto lease = body.initLease();
    lease.setLeaseId(8);
    lease.setDigestFunction(cas::to_wire(kFn));
    cas::to_wire(cas::digest_of(kFn, "something else"), lease.initActionDigest());
    cas::to_wire(action, kFn, lease.initAction());
  });
  auto reply = lease_result(3000ms);
  ASSERT_TRUE(reply);
  auto result = reply->envelope().getBody().getLeaseResult();
  ASSERT_TRUE(result.getHasError());
  EXPECT_EQ(result.getError().getCode(), Code::INVALID_ARGUMENT);
  EXPECT_FALSE(result.getRetryable());
}

}  // namespace
}  // namespace kiln::worker
