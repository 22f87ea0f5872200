// Agent: see agent.h. Threads and who owns what:
//
//   session thread (the caller of run())
//     owns the session DEALER, the inproc PULL for finished leases, the
//     table of the current session's leases and the Liveness clock. One
//     zmq::poll over DEALER, PULL and the stop eventfd, with a timeout from
//     Liveness (at most one heartbeat interval).
//   slot threads (AgentOptions::slots of them, for the whole run())
//     each owns a proto::Connection for CAS traffic and an inproc PUSH; it
//     takes a Job from the queue, run_lease()s it, appends the outcome to
//     `done` and pushes one empty wake-up message. The session thread takes
//     outcomes from `done` (wake-ups only shorten its wait, so a lost one
//     costs at most one interval).
//
// Sessions are numbered. When a session ends, its jobs are cancelled as
// abandoned and their outcomes, which carry the old number, are dropped:
// nothing from one session is ever sent on the next. The local store is
// shared by the slots under one mutex (a Store serves one thread at a time);
// commands run outside it.
//
// The file is a little over the usual length: it is one class, the session
// thread's state, whose pieces read best together (the slot side is in
// lease_job.cpp, the pure clocks in liveness.cpp).
#include "worker/agent.h"

#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <zmq.hpp>

#include "cas/remote_cas.h"
#include "cas/store.h"
#include "cas/wire_model.h"
#include "exec/file_cache.h"
#include "exec/host_platform.h"
#include "proto/codec.h"
#include "proto/transport.h"
#include "worker/lease_job.h"
#include "worker/liveness.h"

namespace kiln::worker {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using Which = schema::Envelope::Body::Which;

constexpr const char* kResultsEndpoint = "inproc://kiln-agent-results";
// After the drain timeout the remaining leases are killed; their outcomes
// are waited for at most this long more.
constexpr Millis kKillGrace{5000};
// How long the last messages of a stopping worker may take to leave.
constexpr Millis kStopLinger{1000};
// PROTOCOL.md section 7: this many malformed messages within a minute end
// the session.
constexpr int kMaxMalformed = 10;

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "worker";
  return name;
}

// Text from the peer, made safe for one log line.
std::string printable(capnp::Text::Reader text, std::size_t max = 200) {
  std::string out;
  for (char c : std::string_view(text.begin(), std::min<std::size_t>(text.size(), max))) {
    out += std::isprint(static_cast<unsigned char>(c)) != 0 ? c : '?';
  }
  return out;
}

// Polls, treating EINTR as "nothing happened".
void poll_items(zmq::pollitem_t* items, std::size_t count, Millis timeout) {
  try {
    zmq::poll(items, count, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
}

enum class SessionEnd { kFailed, kLost, kDisconnected, kStopped };

}  // namespace

std::vector<cas::Property> default_platform(std::vector<cas::Property> extra) {
  std::vector<cas::Property> platform = exec::host_platform();
  // A name the user gives replaces the automatic value of that name.
  std::erase_if(platform, [&](const cas::Property& p) {
    return std::any_of(extra.begin(), extra.end(),
                       [&](const cas::Property& e) { return e.name == p.name; });
  });
  platform.insert(platform.end(), extra.begin(), extra.end());
  std::sort(platform.begin(), platform.end());
  platform.erase(std::unique(platform.begin(), platform.end()), platform.end());
  return platform;
}

struct Agent::Impl {
  AgentOptions opt;
  std::vector<cas::Property> platform;  // default_platform(opt.platform) and the sandbox's
  Logger log;
  std::optional<exec::Sandbox> sandbox;         // shared by the slots, read-only
  std::unique_ptr<exec::FileCache> file_cache;  // shared by the slots (thread-safe)
  std::unique_ptr<cas::Store> store;
  std::mutex store_mutex;
  zmq::context_t context;
  int stop_fd = -1;  // eventfd: readable once request_stop() was called
  std::atomic<bool> stop{false};
  std::atomic<int> stop_requests{0};  // a second request_stop() kills at once

  // Jobs waiting for a slot.
  std::mutex queue_mutex;
  std::condition_variable queue_cv;
  std::deque<std::shared_ptr<Job>> queue;
  bool slots_exit = false;
  // Finished jobs waiting for the session thread.
  std::mutex done_mutex;
  std::deque<LeaseOutcome> done;

  // Session thread only.
  std::uint64_t session = 0;
  std::map<std::uint64_t, std::shared_ptr<Job>> active;  // lease id -> job
  bool draining = false;

  ~Impl() {
    if (stop_fd >= 0) ::close(stop_fd);
  }

  void say(LogLevel level, const std::string& text) const {
    if (log) log(level, text);
  }

  // ---- slots -------------------------------------------------------------

  void slot_main(std::size_t index) {
    zmq::socket_t wake(context, zmq::socket_type::push);
    wake.set(zmq::sockopt::linger, 0);
    wake.connect(kResultsEndpoint);
    std::unique_ptr<proto::Connection> connection;
    exec::ExecutorOptions executor;
    executor.work_root = opt.work_root;
    executor.worker_id = opt.worker_id;
    executor.sandbox = &*sandbox;
    executor.file_cache = file_cache.get();
    cas::RemoteCasOptions remote;
    remote.timeout = opt.cas_timeout;
    while (true) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(queue_mutex);
        queue_cv.wait(lock, [&] { return slots_exit || !queue.empty(); });
        if (queue.empty()) return;  // slots_exit
        job = std::move(queue.front());
        queue.pop_front();
      }
      if (!connection) {
        auto opened = proto::Connection::open(context, opt.scheduler_endpoint, {}, {},
                                              opt.curve ? &*opt.curve : nullptr);
        if (opened.ok()) {
          connection = std::move(opened).value();
        } else {
          finish(wake, failed_lease(
                           *job, LeaseError{schema::Error::Code::UNAVAILABLE,
                                            "no CAS connection: " + opened.error().message, true}));
          continue;
        }
      }
      say(LogLevel::kDebug,
          "slot " + std::to_string(index) + ": lease " + std::to_string(job->lease_id));
      LeaseContext lease_context{*store, store_mutex, *connection, executor, remote};
      try {
        finish(wake, run_lease(*job, lease_context));
      } catch (const std::exception& e) {  // a bug or no memory: this lease fails, the slot lives
        say(LogLevel::kError, "lease " + std::to_string(job->lease_id) + ": " + e.what());
        finish(wake, failed_lease(*job, LeaseError{schema::Error::Code::INTERNAL, e.what(), true}));
      }
    }
  }

  void finish(zmq::socket_t& wake, LeaseOutcome outcome) {
    {
      const std::lock_guard<std::mutex> lock(done_mutex);
      done.push_back(std::move(outcome));
    }
    wake.send(zmq::message_t(), zmq::send_flags::dontwait);
  }

  std::deque<LeaseOutcome> take_done(zmq::socket_t& pull) {
    zmq::message_t message;
    while (pull.recv(message, zmq::recv_flags::dontwait)) {
    }
    const std::lock_guard<std::mutex> lock(done_mutex);
    return std::exchange(done, {});
  }

  void enqueue(std::shared_ptr<Job> job) {
    {
      const std::lock_guard<std::mutex> lock(queue_mutex);
      queue.push_back(std::move(job));
    }
    queue_cv.notify_one();
  }

  // Leases that hold a slot. A lease the scheduler cancelled stops counting
  // at once, as the scheduler stops counting it when it sends cancelLease
  // (and may send the next lease right behind it); its killed process is
  // reaped, and its `cancelled` answer sent, while the next lease waits
  // for the slot thread.
  std::uint32_t busy_slots() const {
    return static_cast<std::uint32_t>(std::count_if(
        active.begin(), active.end(),
        [](const auto& entry) { return entry.second->cancelled() != CancelReason::kCancelLease; }));
  }

  // ---- sending -----------------------------------------------------------

  // False when the message was dropped (the scheduler's queue is full).
  template <typename Fill>
  bool send(zmq::socket_t& dealer, std::uint64_t request_id, Fill fill) {
    capnp::MallocMessageBuilder message;
    auto envelope = proto::init_envelope(message, request_id);
    fill(envelope.getBody());
    return proto::send(dealer, {}, message);
  }

  void send_heartbeat(zmq::socket_t& dealer) {
    send(dealer, 0, [&](schema::Envelope::Body::Builder body) {
      body.initHeartbeat().setBusySlots(busy_slots());
    });
  }

  void send_error(zmq::socket_t& dealer, std::uint64_t request_id, schema::Error::Code code,
                  const std::string& text) {
    send(dealer, request_id, [&](schema::Envelope::Body::Builder body) {
      auto error = body.initError();
      error.setCode(code);
      error.setMessage(text);
    });
  }

  void send_result(zmq::socket_t& dealer, const LeaseOutcome& outcome) {
    capnp::MallocMessageBuilder message;
    to_wire(outcome, proto::init_envelope(message, outcome.request_id).getBody().initLeaseResult());
    // A result too large for one message (say, an output tree of a million
    // files) would make the scheduler's socket drop the whole connection.
    if (capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word) >
        proto::CodecLimits{}.max_body_bytes - 4096) {
      say(LogLevel::kWarn, "the result of lease " + std::to_string(outcome.lease_id) +
                               " is too large for one message");
      return send_result(dealer, failed_lease_outcome(outcome, "the result is too large to send"));
    }
    if (!proto::send(dealer, {}, message)) {
      say(LogLevel::kWarn, "the result of lease " + std::to_string(outcome.lease_id) +
                               " could not be sent (the scheduler will requeue it)");
    }
  }

  static LeaseOutcome failed_lease_outcome(const LeaseOutcome& outcome, const std::string& why) {
    LeaseOutcome failed = LeaseOutcome::of(outcome);
    failed.error = LeaseError{schema::Error::Code::RESOURCE_EXHAUSTED, why, false};
    return failed;
  }

  // ---- the session -------------------------------------------------------

  void on_lease(zmq::socket_t& dealer, std::uint64_t request_id, schema::Lease::Reader lease) {
    std::shared_ptr<Job> job;
    try {
      job = std::make_shared<Job>();
    } catch (const std::system_error& e) {  // out of file descriptors
      LeaseOutcome outcome;
      outcome.request_id = request_id;
      outcome.lease_id = lease.getLeaseId();
      outcome.error = LeaseError{schema::Error::Code::RESOURCE_EXHAUSTED, e.what(), true};
      send_result(dealer, outcome);
      return;
    }
    job->session = session;
    job->request_id = request_id;
    job->lease_id = lease.getLeaseId();
    job->queued_us = lease.getQueuedUs();
    job->base_dir.assign(lease.getBaseDir().cStr(), lease.getBaseDir().size());
    auto refuse = [&](schema::Error::Code code, const std::string& why, bool retry) {
      say(LogLevel::kWarn, "lease " + std::to_string(job->lease_id) + " refused: " + why);
      send_result(dealer, failed_lease(*job, LeaseError{code, why, retry}));
    };
    if (active.contains(job->lease_id)) {
      say(LogLevel::kWarn, "lease " + std::to_string(job->lease_id) + " is already held; ignored");
      return;
    }
    if (draining) return refuse(schema::Error::Code::UNAVAILABLE, "the worker is stopping", true);
    if (busy_slots() >= opt.slots) {
      return refuse(schema::Error::Code::RESOURCE_EXHAUSTED,
                    "all " + std::to_string(opt.slots) + " slots are busy", true);
    }
    auto function = cas::from_wire(lease.getDigestFunction());
    if (!function.ok())
      return refuse(schema::Error::Code::INVALID_ARGUMENT, function.error().message, false);
    job->function = *function;
    auto digest = cas::from_wire(lease.getActionDigest(), *function);
    if (!digest.ok())
      return refuse(schema::Error::Code::INVALID_ARGUMENT,
                    "action digest: " + digest.error().message, false);
    job->action_digest = *digest;
    auto action = cas::from_wire(lease.getAction(), *function);
    if (!action.ok())
      return refuse(schema::Error::Code::INVALID_ARGUMENT, "action: " + action.error().message,
                    false);
    job->action = std::move(action).value();
    // The result will be cached under the action digest: check that it
    // names this action.
    auto encoded = cas::encode_action(job->action, *function);
    if (!encoded.ok() || cas::digest_of(*function, *encoded) != job->action_digest) {
      return refuse(schema::Error::Code::INVALID_ARGUMENT,
                    "the action digest does not match the action", false);
    }
    say(LogLevel::kDebug,
        "lease " + std::to_string(job->lease_id) + ": action " + job->action_digest.to_string());
    active.emplace(job->lease_id, job);
    enqueue(std::move(job));
  }

  void on_cancel(std::uint64_t lease_id) {
    auto it = active.find(lease_id);
    if (it == active.end()) {
      say(LogLevel::kDebug, "cancelLease for lease " + std::to_string(lease_id) + ", not held");
      return;
    }
    say(LogLevel::kInfo, "lease " + std::to_string(lease_id) + " cancelled by the scheduler");
    it->second->cancel(CancelReason::kCancelLease);
  }

  // Handles one message; returns how the session ends, if it does.
  std::optional<SessionEnd> on_message(zmq::socket_t& dealer, const proto::Decoded& message) {
    const auto envelope = message.envelope();
    const std::uint64_t request_id = envelope.getRequestId();
    const auto body = envelope.getBody();
    switch (body.which()) {
      case Which::HEARTBEAT:
        break;
      case Which::DISCONNECT:
        say(LogLevel::kInfo, "the scheduler ended the session: " + printable(body.getDisconnect()));
        return SessionEnd::kDisconnected;
      case Which::LEASE:
        on_lease(dealer, request_id, body.getLease());
        break;
      case Which::CANCEL_LEASE:
        on_cancel(body.getCancelLease().getLeaseId());
        break;
      case Which::CANCEL_REQUEST: {
        // Also accepted from the scheduler: cancels every lease of that action.
        for (const auto& [id, job] : active) {
          auto named = cas::from_wire(body.getCancelRequest().getActionDigest(), job->function);
          if (named.ok() && *named == job->action_digest) on_cancel(id);
        }
        break;
      }
      case Which::ERROR:
        say(LogLevel::kWarn, "the scheduler reports: " + printable(body.getError().getMessage()));
        break;
      case Which::WORKER_HELLO:
      case Which::FIND_MISSING_RESPONSE:
      case Which::UPLOAD_RESPONSE:
      case Which::DOWNLOAD_CHUNK:
      case Which::GET_ACTION_RESULT_RESPONSE:
      case Which::EXECUTE_RESPONSE:
      case Which::LEASE_RESULT:
      case Which::STATUS_RESPONSE:
        say(LogLevel::kDebug, "ignored a message the worker does not expect on its session");
        break;
      default:  // a request a worker does not serve, or a kind from a newer peer
        if (request_id != 0) {
          send_error(dealer, request_id, schema::Error::Code::UNKNOWN_KIND,
                     "a worker does not serve this request");
        }
        break;
    }
    return std::nullopt;
  }

  // Sends every finished outcome of this session; drops older ones.
  void deliver(zmq::socket_t& dealer, zmq::socket_t& pull) {
    for (LeaseOutcome& outcome : take_done(pull)) {
      if (outcome.session != session) continue;
      auto it = active.find(outcome.lease_id);
      if (it == active.end()) continue;
      active.erase(it);
      if (outcome.cancelled == CancelReason::kAbandoned) continue;
      if (outcome.error) {
        say(LogLevel::kInfo,
            "lease " + std::to_string(outcome.lease_id) + " failed: " + outcome.error->message);
      } else {
        say(LogLevel::kDebug, "lease " + std::to_string(outcome.lease_id) + " done, exit code " +
                                  std::to_string(outcome.result.exit_code));
      }
      send_result(dealer, outcome);
    }
  }

  void abandon_session() {
    for (auto& [id, job] : active) job->cancel(CancelReason::kAbandoned);
    active.clear();
    session = 0;  // outcomes still to come belong to no session
  }

  // One session's socket and clocks.
  struct Session {
    Session(zmq::socket_t socket, Liveness clock)
        : dealer(std::move(socket)), live(clock), malformed_since(Clock::now()) {}
    zmq::socket_t dealer;
    Liveness live;
    bool heard = false;  // anything but a disconnect arrived
    int malformed = 0;
    Clock::time_point malformed_since;
    Clock::time_point drain_deadline{};
    Clock::time_point kill_deadline{};
    bool killed = false;
  };

  // A fresh DEALER with a new identity, and the hello.
  std::optional<Session> open_session(std::uint64_t number) {
    const std::string identity =
        opt.worker_id + "/" + std::to_string(::getpid()) + "/" + std::to_string(number);
    auto made = proto::make_dealer(context, opt.scheduler_endpoint, identity, {},
                                   opt.curve ? &*opt.curve : nullptr);
    if (!made.ok()) {
      say(LogLevel::kWarn,
          "cannot connect to " + opt.scheduler_endpoint + ": " + made.error().message);
      return std::nullopt;
    }
    Session s(std::move(made).value(),
              Liveness(opt.heartbeat_interval, opt.liveness, Clock::now()));
    send(s.dealer, 0, [&](schema::Envelope::Body::Builder body) {
      auto hello = body.initWorkerHello();
      hello.setWorkerId(opt.worker_id);
      hello.setSlots(opt.slots);
      cas::to_wire(platform, hello.initPlatform(static_cast<unsigned>(platform.size())));
      hello.setHeartbeatIntervalMs(static_cast<std::uint32_t>(opt.heartbeat_interval.count()));
    });
    say(LogLevel::kInfo, "session " + identity + " to " + opt.scheduler_endpoint);
    return s;
  }

  // Handles every message waiting on the session socket.
  std::optional<SessionEnd> read_messages(Session& s) {
    while (auto received = proto::receive(s.dealer, false)) {
      if (!received->message.ok()) {
        const auto now = Clock::now();
        if (now - s.malformed_since > std::chrono::minutes(1)) {
          s.malformed = 0;
          s.malformed_since = now;
        }
        if (++s.malformed <= 3) {
          say(LogLevel::kWarn,
              "malformed message from the scheduler: " + received->message.error().message);
        }
        if (s.malformed >= kMaxMalformed) {
          say(LogLevel::kWarn, "too many malformed messages; ending the session");
          return SessionEnd::kLost;
        }
        continue;
      }
      s.live.heard(Clock::now());
      if (auto end = on_message(s.dealer, **received->message)) {
        return draining ? SessionEnd::kStopped : *end;
      }
      s.heard = true;
    }
    return std::nullopt;
  }

  // While stopping: kill what outlasts the drain, then say goodbye.
  std::optional<SessionEnd> drain_step(Session& s, Clock::time_point now) {
    if (active.empty() || (s.killed && now >= s.kill_deadline)) {
      send(s.dealer, 0,
           [](schema::Envelope::Body::Builder body) { body.setDisconnect("worker stopping"); });
      // The last results and the disconnect get a bounded time to leave.
      s.dealer.set(zmq::sockopt::linger, static_cast<int>(kStopLinger.count()));
      return SessionEnd::kStopped;
    }
    if (!s.killed && (now >= s.drain_deadline || stop_requests.load() > 1)) {
      say(LogLevel::kWarn, "drain timeout: killing " + std::to_string(active.size()) + " lease(s)");
      for (auto& [id, job] : active) job->cancel(CancelReason::kShutdown);
      s.killed = true;
      s.kill_deadline = now + kKillGrace;
    }
    return std::nullopt;
  }

  SessionEnd run_session(zmq::socket_t& pull, std::uint64_t number, bool& heard) {
    session = number;
    std::optional<Session> opened = open_session(number);
    if (!opened) return SessionEnd::kFailed;
    Session& s = *opened;
    while (true) {
      if (stop.load() && !draining) {
        draining = true;
        s.drain_deadline = Clock::now() + opt.drain_timeout;
        say(LogLevel::kInfo,
            "stopping: waiting for " + std::to_string(active.size()) + " running lease(s)");
      }
      Millis timeout = s.live.poll_timeout(Clock::now());
      if (draining) timeout = std::min(timeout, Millis(50));
      zmq::pollitem_t items[] = {{s.dealer.handle(), 0, ZMQ_POLLIN, 0},
                                 {pull.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, stop_fd, ZMQ_POLLIN, 0}};
      // Once stopping, the stop eventfd stays readable: leave it out.
      poll_items(items, draining ? 2 : 3, timeout);

      const std::optional<SessionEnd> ended = read_messages(s);
      heard = heard || s.heard;
      if (ended) return *ended;
      deliver(s.dealer, pull);

      const auto now = Clock::now();
      if (draining) {
        if (auto end = drain_step(s, now)) return *end;
      }
      if (s.live.heartbeat_due(now)) {
        send_heartbeat(s.dealer);
        s.live.heartbeat_sent(now);
      }
      if (s.live.peer_dead(now)) {
        say(LogLevel::kWarn, "the scheduler is silent; reconnecting");
        return SessionEnd::kLost;
      }
    }
  }

  // Waits `wait` (or until stopped), dropping outcomes of old sessions.
  void back_off(zmq::socket_t& pull, Millis wait) {
    const auto until = Clock::now() + wait;
    while (!stop.load()) {
      const auto left = std::chrono::ceil<Millis>(until - Clock::now());
      if (left <= Millis(0)) break;
      zmq::pollitem_t items[] = {{pull.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, stop_fd, ZMQ_POLLIN, 0}};
      poll_items(items, 2, std::min(left, Millis(1000)));
      (void)take_done(pull);
    }
  }

  void sessions(zmq::socket_t& pull) {
    Backoff backoff(opt.backoff_initial, opt.backoff_max);
    std::uint64_t number = 0;
    while (!stop.load()) {
      bool heard = false;
      const SessionEnd end = run_session(pull, ++number, heard);
      abandon_session();
      if (end == SessionEnd::kStopped || stop.load()) break;
      if (heard) backoff.reset();
      // A disconnect in a live session (e.g. the scheduler restarted and
      // does not know us) reconnects at once; a refused hello waits.
      if (end == SessionEnd::kDisconnected && heard) continue;
      const Millis wait = backoff.next();
      say(LogLevel::kInfo, "reconnecting in " + std::to_string(wait.count()) + " ms");
      back_off(pull, wait);
    }
  }

  Status run() {
    zmq::socket_t pull(context, zmq::socket_type::pull);
    pull.set(zmq::sockopt::linger, 0);
    pull.bind(kResultsEndpoint);
    std::vector<std::thread> slots;
    auto stop_slots = [&] {
      {
        const std::lock_guard<std::mutex> lock(queue_mutex);
        for (auto& job : queue) job->cancel(CancelReason::kShutdown);
        queue.clear();
        slots_exit = true;
      }
      queue_cv.notify_all();
      for (auto& slot : slots) slot.join();
      slots.clear();
      slots_exit = false;
      const std::lock_guard<std::mutex> lock(done_mutex);
      done.clear();
    };
    try {
      for (std::size_t i = 0; i < opt.slots; ++i) slots.emplace_back([this, i] { slot_main(i); });
      sessions(pull);
    } catch (const std::exception& e) {
      abandon_session();
      stop_slots();
      return make_error(Errc::kInternal, std::string("worker session: ") + e.what());
    }
    stop_slots();
    say(LogLevel::kInfo, "stopped");
    return {};
  }
};

Result<std::unique_ptr<Agent>> Agent::create(AgentOptions options, Logger log) {
  if (options.scheduler_endpoint.empty()) {
    return make_error(Errc::kInvalidArgument, "no scheduler endpoint");
  }
  if (options.worker_id.empty()) options.worker_id = host_name() + "-" + std::to_string(::getpid());
  if (options.worker_id.size() > 200)
    return make_error(Errc::kInvalidArgument, "worker id is too long");
  if (options.slots == 0) options.slots = std::max(1u, std::thread::hardware_concurrency());
  if (options.heartbeat_interval <= Millis(0))
    return make_error(Errc::kInvalidArgument, "heartbeat interval must be positive");
  if (options.liveness < 1)
    return make_error(Errc::kInvalidArgument, "liveness must be at least 1");
  if (options.store_dir.empty()) return make_error(Errc::kInvalidArgument, "no store directory");
  if (options.work_root.empty()) options.work_root = options.store_dir / "sandbox";
  for (const auto& property : options.platform) {
    if (property.name.empty())
      return make_error(Errc::kInvalidArgument, "a platform property has no name");
  }

  auto impl = std::make_unique<Impl>();
  impl->log = std::move(log);
  cas::StoreOptions store_options;
  store_options.dir = options.store_dir;
  store_options.max_size = options.max_store_bytes;
  store_options.function = options.digest_function;
  if (options.store_map_size != 0) store_options.map_size = options.store_map_size;
  store_options.durable = false;  // a local tier: a crash may lose blobs, never serve wrong ones
  Impl* raw = impl.get();
  store_options.warn = [raw](std::string_view text) {
    raw->say(LogLevel::kWarn, std::string(text));
  };
  auto store = cas::Store::open(store_options);
  if (!store.ok()) {
    return make_error(store.error().code,
                      "local store " + options.store_dir.string() + ": " + store.error().message);
  }
  impl->store = std::move(store).value();
  impl->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->stop_fd < 0) return make_error(Errc::kIo, "eventfd failed");

  std::error_code ec;
  std::filesystem::create_directories(options.work_root, ec);
  if (ec) {
    return make_error(Errc::kIo,
                      "work directory " + options.work_root.string() + ": " + ec.message());
  }
  options.sandbox.scratch = options.work_root;
  auto sandbox = exec::Sandbox::create(options.sandbox);
  if (!sandbox.ok()) return sandbox.error();
  impl->sandbox.emplace(std::move(*sandbox));
  impl->say(LogLevel::kInfo, "sandbox: " + impl->sandbox->describe());
  std::vector<cas::Property> platform = options.platform;
  const auto named = [&](std::string_view name) {
    return std::any_of(platform.begin(), platform.end(),
                       [&](const cas::Property& p) { return p.name == name; });
  };
  if (!named(exec::kSandboxProperty)) {
    platform.push_back(
        {std::string(exec::kSandboxProperty), std::string(exec::to_string(impl->sandbox->kind()))});
  }
  if (!named(exec::kNetworkProperty) && impl->sandbox->allows_network()) {
    platform.push_back({std::string(exec::kNetworkProperty), std::string(exec::kNetworkOn)});
  }
  if (impl->sandbox->kind() == exec::SandboxKind::kBubblewrap) {
    auto cache = exec::FileCache::open(options.work_root / ".files", options.file_cache_bytes);
    if (!cache.ok()) return cache.error();
    impl->file_cache = std::move(cache).value();
    if (!named(exec::kInputRootProperty)) {
      platform.push_back(
          {std::string(exec::kInputRootProperty), std::string(exec::kInputRootFilesystem)});
    }
  }
  impl->platform = default_platform(std::move(platform));
  impl->opt = std::move(options);
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

Status Agent::run() { return impl_->run(); }

void Agent::request_stop() {
  impl_->stop_requests.fetch_add(1);
  impl_->stop.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(impl_->stop_fd, &one, sizeof one);
}

}  // namespace kiln::worker
