// The kiln-scheduler poll loop; see server.h for what it serves.
//
// One thread owns everything: both ROUTER sockets, the central Store, the
// CasService and the DispatchPolicy. Each turn of run():
//   1. poll the two sockets, an eventfd (request_stop) and the optional
//      signalfd, for at most the time left until the next heartbeat;
//   2. read up to kMaxMessagesPerTurn messages from each socket and turn
//      each into policy events or a CAS reply, inside its own try/catch, so
//      no message can end the process; garbage is counted per peer
//      (PeerGuard) and logged rate-limited (LogLimiter);
//   3. every heartbeat interval, send heartbeats to the workers;
//   4. tick() the policy, expire idle uploads, and turn the policy's
//      commands into messages (flush_commands).
//
// State kept beside the policy (which is pure and keeps its own):
//   pending   every executeRequest the policy holds, so a cancel can be
//             answered "cancelled", a REQ peer's reply gets its delimiter,
//             and requests left at shutdown are answered;
//   leases    every lease the policy started (worker, action digest,
//             action), so a result is checked against the lease it claims
//             and cached under the lease's digest, never the worker's word.
//
// Payloads: the policy carries the canonical encoded Action for a job, and
// as a result the flat-array encoding of the ExecuteResponse to send (built
// from the validated ActionResult), so Complete needs no further decoding.
#include "scheduler/server.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "cas/cas_service.h"
#include "cas/store.h"
#include "cas/wire_model.h"
#include "proto/transport.h"
#include "scheduler/peer_guard.h"

namespace kiln::scheduler {
namespace {

using Clock = std::chrono::steady_clock;
using Which = schema::Envelope::Body::Which;
using ErrorCode = schema::Error::Code;

// Per socket and turn, so a flood on one endpoint cannot starve the other.
constexpr std::size_t kMaxMessagesPerTurn = 256;
// Action timeouts above this are clamped (keeps the policy's arithmetic far
// from overflow); the worker still applies the action's own timeout.
constexpr Millis kMaxActionTimeout{30LL * 24 * 3600 * 1000};
constexpr std::size_t kMaxWorkerName = 256;
constexpr std::uint32_t kMaxSlots = 4096;
constexpr std::size_t kMaxMissingOutputs = 10000;
// executeRequests one client may have waiting at once; more are
// resourceExhausted (the policy keeps state for each).
constexpr std::size_t kMaxPendingPerClient = 100000;
// Time given to the last messages (answers, disconnects) at shutdown.
constexpr int kShutdownLingerMs = 500;

// A routing id fit for a log line: as is when printable, else hex.
std::string printable(const std::string& id) {
  const bool plain = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isprint(static_cast<unsigned char>(c)) != 0;
  });
  if (plain) return id;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (const char c : id) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

std::string kind_name(Which kind) {
  static constexpr const char* kNames[] = {"error",
                                           "workerHello",
                                           "heartbeat",
                                           "disconnect",
                                           "findMissingRequest",
                                           "findMissingResponse",
                                           "uploadChunk",
                                           "uploadResponse",
                                           "downloadRequest",
                                           "downloadChunk",
                                           "getActionResultRequest",
                                           "getActionResultResponse",
                                           "executeRequest",
                                           "executeResponse",
                                           "cancelRequest",
                                           "lease",
                                           "leaseResult",
                                           "cancelLease",
                                           "statusRequest",
                                           "statusResponse"};
  const auto index = static_cast<std::size_t>(kind);
  if (index < std::size(kNames)) return kNames[index];
  return "unknown kind " + std::to_string(index);
}

// Kinds that expect a reply, so they need a non-zero requestId.
bool is_request(Which kind) {
  switch (kind) {
    case Which::FIND_MISSING_REQUEST:
    case Which::UPLOAD_CHUNK:
    case Which::DOWNLOAD_REQUEST:
    case Which::GET_ACTION_RESULT_REQUEST:
    case Which::EXECUTE_REQUEST:
    case Which::STATUS_REQUEST:
      return true;
    default:
      return false;
  }
}

std::span<const std::byte> bytes_of(const std::string& text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

std::string describe(const Platform& platform) {
  std::string text;
  for (const auto& p : platform) text += (text.empty() ? "" : ",") + p.name + "=" + p.value;
  return text.empty() ? "(none)" : text;
}

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// The ExecuteResponse a finished lease answers its waiters with, as bytes.
Payload result_payload(const cas::Digest& action_digest, const cas::ActionResult& result,
                       bool timed_out, const std::vector<std::string>& missing_outputs) {
  capnp::MallocMessageBuilder message;
  auto response = message.initRoot<schema::ExecuteResponse>();
  cas::to_wire(action_digest, response.initActionDigest());
  cas::to_wire(result, response.initResult());
  response.setTimedOut(timed_out);
  auto missing = response.initMissingOutputs(static_cast<unsigned>(missing_outputs.size()));
  for (unsigned i = 0; i < missing_outputs.size(); ++i) missing.set(i, missing_outputs[i]);
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const auto bytes = words.asBytes();
  return std::make_shared<const std::string>(reinterpret_cast<const char*>(bytes.begin()),
                                             bytes.size());
}

struct LeaseInfo {
  WorkerId worker;
  cas::Digest digest;
  cas::Action action;
};

struct PendingRequest {
  cas::Digest digest;
  bool delimited = false;  // a REQ peer: its reply needs the empty frame
};

}  // namespace

struct Server::Impl {
  Impl(ServerOptions opts, Logger logger)
      : options(std::move(opts)),
        log(std::move(logger)),
        policy(options.policy),
        client_guard(guard_options(options)),
        worker_guard(guard_options(options)) {}
  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  static PeerGuard::Options guard_options(const ServerOptions& o) {
    PeerGuard::Options g;
    g.max_bad = o.max_bad_messages;
    return g;
  }

  ServerOptions options;
  Logger log;
  const Clock::time_point started = Clock::now();
  // Declared before the sockets, so it is destroyed after them.
  zmq::context_t context{1};
  zmq::socket_t clients;
  zmq::socket_t workers;
  std::string client_endpoint;
  std::string worker_endpoint;
  // The store outlives the service that refers to it.
  std::unique_ptr<cas::Store> store;
  std::unique_ptr<cas::CasService> cas;
  cas::DigestFunction fn = cas::DigestFunction::kXxh3_128;
  DispatchPolicy policy;
  PeerGuard client_guard;
  PeerGuard worker_guard;
  LogLimiter bad_log{10, Millis{10000}};

  int wake_fd = -1;
  std::atomic<bool> stop_requested{false};
  int signals_seen = 0;
  bool draining = false;
  bool stop_now = false;
  Millis drain_started{0};

  std::map<std::pair<ClientId, std::uint64_t>, PendingRequest> pending;
  std::unordered_map<ClientId, std::size_t> pending_per_client;
  std::unordered_map<std::uint64_t, LeaseInfo> leases;
  std::map<WorkerId, std::string> worker_names;  // routing id -> workerHello's id
  // Error codes of non-retryable worker errors, by action, until the Fail
  // commands they cause are sent (cleared by every flush).
  std::unordered_map<cas::Digest, ErrorCode, cas::DigestHash> worker_errors;

  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t executed = 0;

  Millis now() const { return std::chrono::duration_cast<Millis>(Clock::now() - started); }

  // --- the loop ----------------------------------------------------------

  Status run();
  Status serve(zmq::socket_t& socket, bool worker_side);
  void handle(proto::Received& received, bool worker_side);
  void read_signals();
  void begin_drain(Millis now);
  void shutdown();

  // --- messages ----------------------------------------------------------

  void on_client_message(const proto::Received& r, Millis now);
  void on_worker_message(const proto::Received& r, Millis now);
  void serve_cas_or_refuse(zmq::socket_t& socket, const proto::Received& r, Millis now,
                           const char* endpoint);
  void on_execute(const proto::Received& r, std::uint64_t id,
                  schema::ExecuteRequest::Reader request, Millis now);
  void on_cancel(const ClientId& client, schema::CancelRequest::Reader cancel, Millis now);
  void on_hello(const WorkerId& peer, schema::WorkerHello::Reader hello, Millis now);
  void on_lease_result(const WorkerId& peer, schema::LeaseResult::Reader result, Millis now);
  void cache_result(const LeaseInfo& lease, const cas::ActionResult& result, bool all_present,
                    bool timed_out, capnp::List<schema::Digest>::Reader claimed);
  void send_status(const proto::Received& r, std::uint64_t id, Millis now);
  bool has_session(const WorkerId& peer, Which kind);
  void bad_message(bool worker_side, const std::string& peer, const std::string& reason,
                   Millis now);

  // --- commands and replies ----------------------------------------------

  void flush_commands(Millis now);
  void apply(const StartLease& c, Millis now);
  void apply(const CancelLease& c, Millis now);
  void apply(const Complete& c, Millis now);
  void apply(const Fail& c, Millis now);
  void apply(const DropWorker& c, Millis now);
  void send_heartbeats(Millis now);
  void reply_to_client(const ClientId& client, std::uint64_t request_id,
                       capnp::MessageBuilder& message, Millis now);
  void forget_worker(const WorkerId& worker, const std::string& reason, Millis now, bool notify);
  void forget_leases_of(const WorkerId& worker);
  bool send_disconnect(const WorkerId& worker, const std::string& reason);
  bool reply_error(zmq::socket_t& socket, const std::string& peer, bool delimited, std::uint64_t id,
                   ErrorCode code, const std::string& message);
  std::string worker_label(const WorkerId& worker) const;
  void warn_limited(const std::string& line, Millis now);
};

// ---------------------------------------------------------------------------
// The loop

Status Server::Impl::run() {
  const Millis interval = options.policy.heartbeat_interval;
  log(LogLevel::kInfo, "serving clients on " + client_endpoint + ", workers on " + worker_endpoint +
                           ", store " + options.store_dir.string());
  Millis next_heartbeat = now() + interval;
  while (true) {
    Millis t = now();
    if (stop_requested.load() && !draining) begin_drain(t);
    if (draining) {
      if (policy.idle() || stop_now || t - drain_started >= options.drain_timeout) break;
    }
    Millis wait = std::clamp(next_heartbeat - t, Millis{0}, interval);
    if (draining) wait = std::clamp(drain_started + options.drain_timeout - t, Millis{0}, wait);
    std::vector<zmq::pollitem_t> items = {
        {static_cast<void*>(clients), 0, ZMQ_POLLIN, 0},
        {static_cast<void*>(workers), 0, ZMQ_POLLIN, 0},
        {nullptr, wake_fd, ZMQ_POLLIN, 0},
    };
    if (options.signal_fd >= 0) items.push_back({nullptr, options.signal_fd, ZMQ_POLLIN, 0});
    try {
      zmq::poll(items, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return make_error(Errc::kIo, std::string("poll failed: ") + e.what());
    }
    if ((items[2].revents & ZMQ_POLLIN) != 0) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd, &count, sizeof count);
    }
    if (items.size() > 3 && (items[3].revents & ZMQ_POLLIN) != 0) read_signals();
    if (Status s = serve(clients, false); !s.ok()) return s;
    if (Status s = serve(workers, true); !s.ok()) return s;

    t = now();
    try {
      if (t >= next_heartbeat) {
        send_heartbeats(t);
        client_guard.prune(t);
        worker_guard.prune(t);
        next_heartbeat = t + interval;
      }
      policy.tick(t);
      cas->expire(t);
      flush_commands(t);
    } catch (const kj::Exception& e) {
      log(LogLevel::kError, std::string("periodic work failed: ") + e.getDescription().cStr());
    } catch (const std::exception& e) {
      log(LogLevel::kError, std::string("periodic work failed: ") + e.what());
    }
  }
  shutdown();
  return {};
}

Status Server::Impl::serve(zmq::socket_t& socket, bool worker_side) {
  for (std::size_t i = 0; i < kMaxMessagesPerTurn; ++i) {
    std::optional<proto::Received> received;
    try {
      received = proto::receive(socket, true);
    } catch (const zmq::error_t& e) {
      return make_error(Errc::kIo, std::string("receive failed: ") + e.what());
    }
    if (!received) return {};
    handle(*received, worker_side);
  }
  return {};
}

// One message, start to end; whatever it does, the loop goes on.
void Server::Impl::handle(proto::Received& received, bool worker_side) {
  const Millis t = now();
  std::string failure;
  try {
    if (worker_side) {
      on_worker_message(received, t);
    } else {
      on_client_message(received, t);
    }
    flush_commands(t);
    return;
  } catch (const kj::Exception& e) {
    failure = e.getDescription().cStr();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  try {
    bad_message(worker_side, received.peer, "handling it failed: " + failure, t);
    flush_commands(t);
  } catch (...) {
    log(LogLevel::kError, "could not even account for a failed message: " + failure);
  }
}

void Server::Impl::read_signals() {
  signalfd_siginfo info{};
  while (::read(options.signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    const std::string name = ::strsignal(static_cast<int>(info.ssi_signo));
    if (++signals_seen == 1) {
      log(LogLevel::kInfo, "received " + name + ": draining (send it again to stop now)");
    } else {
      log(LogLevel::kWarn, "received " + name + " again: stopping now");
      stop_now = true;
    }
    stop_requested.store(true);
  }
}

void Server::Impl::begin_drain(Millis now) {
  draining = true;
  drain_started = now;
  const DispatchStats s = policy.stats();
  log(LogLevel::kInfo, "draining: " + std::to_string(s.queued) + " queued actions fail, " +
                           std::to_string(s.running) + " running may finish within " +
                           std::to_string(options.drain_timeout.count()) + " ms");
  policy.drain(now);
  flush_commands(now);
}

// After the loop: answer whoever still waits, end the worker sessions, and
// give those last messages a moment to leave.
void Server::Impl::shutdown() {
  const Millis t = now();
  if (!pending.empty()) {
    log(LogLevel::kWarn, "stopping with " + std::to_string(pending.size()) +
                             " requests unanswered; telling their clients");
  }
  try {
    const auto waiting = pending;
    for (const auto& [key, request] : waiting) {
      capnp::MallocMessageBuilder m;
      auto response = proto::init_envelope(m, key.second).getBody().initExecuteResponse();
      cas::to_wire(request.digest, response.initActionDigest());
      response.setHasStatus(true);
      auto status = response.initStatus();
      status.setCode(ErrorCode::UNAVAILABLE);
      status.setMessage("the scheduler stopped before the action finished");
      (void)proto::send(clients, key.first, m, request.delimited);
    }
    pending.clear();
    pending_per_client.clear();
    for (const WorkerView& w : policy.workers()) {
      (void)send_disconnect(w.id, "scheduler shutting down");
    }
    clients.set(zmq::sockopt::linger, kShutdownLingerMs);
    workers.set(zmq::sockopt::linger, kShutdownLingerMs);
  } catch (const std::exception& e) {
    log(LogLevel::kWarn, std::string("shutdown: ") + e.what());
  }
  log(LogLevel::kInfo, "stopped after " + std::to_string(t.count()) + " ms; " +
                           std::to_string(executed) + " actions executed, " +
                           std::to_string(cache_hits) + " cache hits");
}

// ---------------------------------------------------------------------------
// Messages

void Server::Impl::on_client_message(const proto::Received& r, Millis now) {
  if (client_guard.banned(r.peer, now)) return;
  if (!r.message.ok()) {
    std::string reason = r.message.error().message;
    if (r.foreign_version) reason = "peer speaks protocol " + std::to_string(*r.foreign_version);
    bad_message(false, r.peer, reason, now);
    return;
  }
  const auto envelope = (*r.message)->envelope();
  const std::uint64_t id = envelope.getRequestId();
  const auto body = envelope.getBody();
  const Which kind = body.which();
  if (is_request(kind) && id == 0) {
    bad_message(false, r.peer, kind_name(kind) + " with requestId 0", now);
    return;
  }
  switch (kind) {
    case Which::EXECUTE_REQUEST:
      on_execute(r, id, body.getExecuteRequest(), now);
      return;
    case Which::CANCEL_REQUEST:
      on_cancel(r.peer, body.getCancelRequest(), now);
      return;
    case Which::STATUS_REQUEST:
      send_status(r, id, now);
      return;
    case Which::ERROR: {
      const auto error = body.getError();
      log(LogLevel::kDebug, "client " + printable(r.peer) + " sent an error (code " +
                                std::to_string(static_cast<int>(error.getCode())) +
                                "): " + error.getMessage().cStr());
      return;
    }
    default:
      serve_cas_or_refuse(clients, r, now, "client");
      return;
  }
}

void Server::Impl::on_worker_message(const proto::Received& r, Millis now) {
  if (worker_guard.banned(r.peer, now)) return;
  if (!r.message.ok()) {
    std::string reason = r.message.error().message;
    if (r.foreign_version) reason = "peer speaks protocol " + std::to_string(*r.foreign_version);
    bad_message(true, r.peer, reason, now);
    return;
  }
  const auto envelope = (*r.message)->envelope();
  const auto body = envelope.getBody();
  const Which kind = body.which();
  if (is_request(kind) && envelope.getRequestId() == 0) {
    bad_message(true, r.peer, kind_name(kind) + " with requestId 0", now);
    return;
  }
  switch (kind) {
    case Which::WORKER_HELLO:
      on_hello(r.peer, body.getWorkerHello(), now);
      return;
    case Which::HEARTBEAT:
      if (has_session(r.peer, kind)) policy.worker_heard(now, r.peer);
      return;
    case Which::LEASE_RESULT:
      if (has_session(r.peer, kind)) on_lease_result(r.peer, body.getLeaseResult(), now);
      return;
    case Which::DISCONNECT:
      if (policy.has_worker(r.peer)) {
        forget_worker(r.peer, std::string("it said: ") + body.getDisconnect().cStr(), now, false);
      }
      return;
    case Which::ERROR: {
      const auto error = body.getError();
      policy.worker_heard(now, r.peer);
      log(LogLevel::kWarn, "worker " + worker_label(r.peer) + " sent an error (code " +
                               std::to_string(static_cast<int>(error.getCode())) +
                               "): " + error.getMessage().cStr());
      return;
    }
    default:
      policy.worker_heard(now, r.peer);  // CAS traffic is a sign of life too
      serve_cas_or_refuse(workers, r, now, "worker");
      return;
  }
}

// CAS and action-cache requests go to the CasService; any other request is
// answered unknownKind, any other notification ignored.
void Server::Impl::serve_cas_or_refuse(zmq::socket_t& socket, const proto::Received& r, Millis now,
                                       const char* endpoint) {
  const auto envelope = (*r.message)->envelope();
  const std::uint64_t id = envelope.getRequestId();
  capnp::MallocMessageBuilder reply;
  if (cas->handle(r.peer, envelope, reply, now)) {
    if (!proto::send(socket, r.peer, reply, r.delimited)) {
      log(LogLevel::kDebug, "CAS reply to " + printable(r.peer) + " not delivered (peer gone)");
    }
    return;
  }
  const Which kind = envelope.getBody().which();
  if (id == 0) {
    log(LogLevel::kDebug, "ignoring " + kind_name(kind) + " notification from " +
                              printable(r.peer) + " on the " + endpoint + " endpoint");
    return;
  }
  (void)reply_error(socket, r.peer, r.delimited, id, ErrorCode::UNKNOWN_KIND,
                    kind_name(kind) + " is not served on the " + endpoint + " endpoint");
}

void Server::Impl::on_execute(const proto::Received& r, std::uint64_t id,
                              schema::ExecuteRequest::Reader request, Millis now) {
  auto refuse = [&](ErrorCode code, const std::string& message) {
    (void)reply_error(clients, r.peer, r.delimited, id, code, message);
  };
  const auto function = cas::from_wire(request.getDigestFunction());
  if (!function.ok()) return refuse(ErrorCode::INVALID_ARGUMENT, function.error().message);
  if (*function != fn) {
    return refuse(ErrorCode::INVALID_ARGUMENT, "this scheduler's store uses " +
                                                   std::string(cas::to_string(fn)) + ", not " +
                                                   std::string(cas::to_string(*function)));
  }
  const auto digest = cas::from_wire(request.getActionDigest(), fn);
  if (!digest.ok())
    return refuse(ErrorCode::INVALID_ARGUMENT, "actionDigest: " + digest.error().message);
  const auto action = cas::from_wire(request.getAction(), fn);
  if (!action.ok()) return refuse(ErrorCode::INVALID_ARGUMENT, "action: " + action.error().message);
  auto encoded = cas::encode_action(*action, fn);
  if (!encoded.ok())
    return refuse(ErrorCode::INVALID_ARGUMENT, "action: " + encoded.error().message);
  // The digest is the cache key and the key identical requests share: it
  // must be the action's own.
  if (cas::digest_of(fn, *encoded) != *digest) {
    return refuse(ErrorCode::INVALID_ARGUMENT,
                  "actionDigest " + digest->to_string() + " is not the digest of the action sent");
  }

  if (!request.getSkipCacheLookup()) {
    auto hit = cas->get_action_result(*digest);
    if (!hit.ok()) {
      log(LogLevel::kWarn, "action cache lookup failed: " + hit.error().message);
    } else if (*hit) {
      ++cache_hits;
      capnp::MallocMessageBuilder m;
      auto response = proto::init_envelope(m, id).getBody().initExecuteResponse();
      cas::to_wire(*digest, response.initActionDigest());
      cas::to_wire(**hit, response.initResult());
      response.setCached(true);
      (void)proto::send(clients, r.peer, m, r.delimited);
      return;
    }
    ++cache_misses;
  }

  // The policy needs the platform and the timeout; the Command has the
  // former, and both it and the input root must be here for a worker.
  auto command_blob = store->get(action->command_digest);
  if (!command_blob.ok()) return refuse(ErrorCode::INTERNAL, command_blob.error().message);
  if (!*command_blob) {
    return refuse(ErrorCode::NOT_FOUND, "command " + action->command_digest.to_string() +
                                            " is not in the central store; upload inputs first");
  }
  const auto command = cas::decode_command(bytes_of(**command_blob));
  if (!command.ok()) {
    return refuse(ErrorCode::INVALID_ARGUMENT,
                  "command " + action->command_digest.to_string() + ": " + command.error().message);
  }
  const auto has_root = store->contains(action->input_root_digest);
  if (!has_root.ok()) return refuse(ErrorCode::INTERNAL, has_root.error().message);
  if (!*has_root) {
    return refuse(ErrorCode::NOT_FOUND, "input root " + action->input_root_digest.to_string() +
                                            " is not in the central store; upload inputs first");
  }

  if (pending.count({r.peer, id}) == 0) {
    std::size_t& count = pending_per_client[r.peer];
    if (count >= kMaxPendingPerClient) {
      return refuse(ErrorCode::RESOURCE_EXHAUSTED,
                    std::to_string(count) + " executeRequests of this client are waiting already");
    }
    ++count;
  }
  pending[{r.peer, id}] = PendingRequest{*digest, r.delimited};
  Submission s;
  s.client = r.peer;
  s.request_id = id;
  s.action_digest = *digest;
  s.action = std::make_shared<const std::string>(std::move(*encoded));
  s.platform = command->platform;
  s.priority = request.getPriority();
  s.timeout = std::min(Millis{static_cast<Millis::rep>(
                           std::min<std::uint64_t>(action->timeout_ms, kMaxActionTimeout.count()))},
                       kMaxActionTimeout);
  log(LogLevel::kDebug, "client " + printable(r.peer) + " request " + std::to_string(id) +
                            ": execute " + digest->to_string());
  policy.submit(now, std::move(s));
}

void Server::Impl::on_cancel(const ClientId& client, schema::CancelRequest::Reader cancel,
                             Millis now) {
  const std::uint64_t id = cancel.getExecuteRequestId();
  auto it = pending.find({client, id});
  if (it == pending.end()) return;  // answered already, or never ours
  policy.cancel(now, client, id);
  capnp::MallocMessageBuilder m;
  auto response = proto::init_envelope(m, id).getBody().initExecuteResponse();
  cas::to_wire(it->second.digest, response.initActionDigest());
  response.setHasStatus(true);
  auto status = response.initStatus();
  status.setCode(ErrorCode::CANCELLED);
  status.setMessage("cancelled by the client");
  reply_to_client(client, id, m, now);
}

void Server::Impl::on_hello(const WorkerId& peer, schema::WorkerHello::Reader hello, Millis now) {
  std::string name = hello.getWorkerId().cStr();
  if (name.size() > kMaxWorkerName) name.resize(kMaxWorkerName);
  const std::uint32_t slots = std::min(hello.getSlots(), kMaxSlots);
  auto platform = cas::from_wire(hello.getPlatform());
  std::string refusal;
  if (slots == 0) refusal = "workerHello with 0 slots";
  if (!platform.ok()) refusal = "workerHello with an invalid platform: " + platform.error().message;
  if (!refusal.empty()) {
    log(LogLevel::kWarn, "worker " + printable(peer) + " refused: " + refusal);
    if (policy.has_worker(peer)) forget_worker(peer, refusal, now, false);
    (void)send_disconnect(peer, refusal);
    return;
  }
  const std::uint32_t interval_ms = hello.getHeartbeatIntervalMs();
  const Millis interval{interval_ms == 0 ? 1000 : interval_ms};
  if (interval != options.policy.heartbeat_interval) {
    log(LogLevel::kWarn, "worker " + printable(peer) + " heartbeats every " +
                             std::to_string(interval.count()) + " ms; this scheduler expects " +
                             std::to_string(options.policy.heartbeat_interval.count()) + " ms");
  }
  if (policy.has_worker(peer)) {
    log(LogLevel::kInfo,
        "worker " + worker_label(peer) + " said hello again; its leases are requeued");
    forget_leases_of(peer);
  }
  policy.worker_ready(now, peer, slots, *platform);
  worker_names[peer] = name.empty() ? printable(peer) : name;
  log(LogLevel::kInfo, "worker " + worker_label(peer) + " joined: " + std::to_string(slots) +
                           " slots, platform " + describe(*platform));
}

void Server::Impl::on_lease_result(const WorkerId& peer, schema::LeaseResult::Reader result,
                                   Millis now) {
  const std::uint64_t lease_id = result.getLeaseId();
  auto it = leases.find(lease_id);
  if (it == leases.end() || it->second.worker != peer) {
    // Late (after a requeue), someone else's, or made up: the policy
    // would say the same; it is not told, so nothing changes.
    log(LogLevel::kInfo, "ignoring a result for lease " + std::to_string(lease_id) +
                             " from worker " + worker_label(peer) +
                             (it == leases.end() ? ": no such lease" : ": not its lease"));
    return;
  }
  const LeaseInfo lease = std::move(it->second);
  leases.erase(it);
  const std::string who = "worker " + worker_label(peer);

  if (result.getHasError()) {
    const auto error = result.getError();
    const bool retryable = result.getRetryable();
    if (!retryable) worker_errors[lease.digest] = error.getCode();
    const std::string message = who + ": " + error.getMessage().cStr();
    log(LogLevel::kInfo, "lease " + std::to_string(lease_id) + " failed" +
                             (retryable ? " (retryable): " : ": ") + message);
    (void)policy.lease_error(now, peer, lease_id, message, retryable);
    return;
  }

  auto action_result = cas::from_wire(result.getResult(), fn);
  std::string problem;
  if (!action_result.ok()) {
    problem = "an invalid result: " + action_result.error().message;
  } else if (auto claimed = cas::from_wire(result.getActionDigest(), fn);
             !claimed.ok() || *claimed != lease.digest) {
    problem = "a result naming another action than its lease";
  }
  if (!problem.empty()) {
    log(LogLevel::kWarn, who + " sent " + problem + " (lease " + std::to_string(lease_id) + ")");
    (void)policy.lease_error(now, peer, lease_id, who + " sent " + problem, true);
    return;
  }

  std::vector<std::string> missing;
  for (const auto text : result.getMissingOutputs()) {
    if (missing.size() == kMaxMissingOutputs) break;
    missing.emplace_back(text.cStr());
  }
  const bool timed_out = result.getTimedOut();
  const Payload payload = result_payload(lease.digest, *action_result, timed_out, missing);
  const ResultDisposition disposition = policy.lease_result(now, peer, lease_id, payload);
  if (disposition != ResultDisposition::kAccepted) {
    log(LogLevel::kWarn,
        "the policy refused the result of lease " + std::to_string(lease_id) + " from " + who);
    return;
  }
  ++executed;
  log(LogLevel::kDebug, "lease " + std::to_string(lease_id) + " done by " + who + ": exit " +
                            std::to_string(action_result->exit_code));
  if (result.getCacheable()) {
    cache_result(lease, *action_result, missing.empty() && result.getMissingOutputs().size() == 0,
                 timed_out, result.getReferenced());
  }
}

// Writes the action-cache entry a worker asked for, if the scheduler agrees
// that the result deserves one. Every blob the result names directly is
// referenced, whatever the worker listed.
void Server::Impl::cache_result(const LeaseInfo& lease, const cas::ActionResult& result,
                                bool all_present, bool timed_out,
                                capnp::List<schema::Digest>::Reader claimed) {
  const std::string what =
      "result of " + lease.digest.to_string() + " from worker " + worker_label(lease.worker);
  if (!cas::worth_caching(lease.action, result, timed_out, all_present)) {
    log(LogLevel::kWarn, what + " claims to be cacheable but is not; not cached");
    return;
  }
  auto referenced = cas::from_wire(claimed, fn);
  if (!referenced.ok()) {
    log(LogLevel::kWarn,
        what + ": invalid referenced list (" + referenced.error().message + "); not cached");
    return;
  }
  std::vector<cas::Digest> direct = {result.stdout_digest, result.stderr_digest};
  for (const auto& f : result.output_files) direct.push_back(f.digest);
  for (const auto& d : result.output_directories) direct.push_back(d.tree_digest);
  for (const auto& d : direct) {
    if (std::find(referenced->begin(), referenced->end(), d) == referenced->end()) {
      referenced->push_back(d);
    }
  }
  if (Status s = cas->put_action_result(lease.digest, result, *referenced); !s.ok()) {
    log(LogLevel::kWarn, what + " not cached: " + s.error().message);
  }
}

void Server::Impl::send_status(const proto::Received& r, std::uint64_t id, Millis now) {
  const DispatchStats stats = policy.stats();
  const std::vector<WorkerView> views = policy.workers();
  capnp::MallocMessageBuilder m;
  auto response = proto::init_envelope(m, id).getBody().initStatusResponse();
  auto list = response.initWorkers(static_cast<unsigned>(views.size()));
  for (unsigned i = 0; i < views.size(); ++i) {
    const WorkerView& w = views[i];
    auto out = list[i];
    out.setWorkerId(worker_label(w.id));
    out.setSlots(w.slots);
    out.setBusy(w.busy);
    out.setLastHeardMsAgo(
        static_cast<std::uint64_t>(std::max(Millis{0}, now - w.last_heard).count()));
    cas::to_wire(w.platform, out.initPlatform(static_cast<unsigned>(w.platform.size())));
  }
  response.setQueued(stats.queued);
  response.setRunning(stats.running);
  response.setWaitingRequests(stats.waiting_requests);
  if (auto store_stats = store->stats(); store_stats.ok()) {
    response.setCacheBlobs(store_stats->blob_count);
    response.setCacheBytes(store_stats->total_bytes);
    response.setCacheMaxBytes(store_stats->max_size);
  } else {
    log(LogLevel::kWarn, "store stats: " + store_stats.error().message);
  }
  response.setActionCacheHits(cache_hits);
  response.setActionCacheMisses(cache_misses);
  response.setExecuted(executed);
  response.setUptimeMs(static_cast<std::uint64_t>(now.count()));
  response.setDraining(draining);
  (void)proto::send(clients, r.peer, m, r.delimited);
}

// Majordomo: a session message from a peer without a session gets
// `disconnect`, so the worker starts over with a hello.
bool Server::Impl::has_session(const WorkerId& peer, Which kind) {
  if (policy.has_worker(peer)) return true;
  log(LogLevel::kDebug,
      kind_name(kind) + " from " + printable(peer) + " without a session; answering disconnect");
  (void)send_disconnect(peer, "no session: send workerHello first");
  return false;
}

void Server::Impl::bad_message(bool worker_side, const std::string& peer, const std::string& reason,
                               Millis now) {
  const std::string who =
      std::string(worker_side ? "worker-endpoint" : "client") + " peer " + printable(peer);
  warn_limited("dropped a message from " + who + ": " + reason, now);
  PeerGuard& guard = worker_side ? worker_guard : client_guard;
  if (!guard.record_bad(peer, now)) return;
  log(LogLevel::kWarn, who + " sent more than " + std::to_string(options.max_bad_messages) +
                           " bad messages within a minute; ignoring it for a minute");
  if (worker_side && policy.has_worker(peer)) {
    forget_worker(peer, "too many malformed messages", now, true);
  }
  cas->peer_gone(peer);
}

// ---------------------------------------------------------------------------
// Commands and replies

void Server::Impl::flush_commands(Millis now) {
  for (auto commands = policy.take_commands(); !commands.empty();
       commands = policy.take_commands()) {
    for (const Command& command : commands) {
      try {
        std::visit([&](const auto& c) { apply(c, now); }, command);
      } catch (const kj::Exception& e) {
        log(LogLevel::kError,
            std::string("sending a command failed: ") + e.getDescription().cStr());
      } catch (const std::exception& e) {
        log(LogLevel::kError, std::string("sending a command failed: ") + e.what());
      }
    }
  }
  worker_errors.clear();
}

void Server::Impl::apply(const StartLease& c, Millis now) {
  auto action = cas::decode_action(bytes_of(*c.action), fn);
  if (!action.ok()) {  // we encoded it ourselves: a bug, not a peer's fault
    log(LogLevel::kError, "lease " + std::to_string(c.lease_id) +
                              ": cannot decode the queued action: " + action.error().message);
    (void)policy.lease_error(now, c.worker, c.lease_id, "internal: undecodable action", false);
    return;
  }
  leases[c.lease_id] = LeaseInfo{c.worker, c.action_digest, *action};
  capnp::MallocMessageBuilder m;
  auto lease = proto::init_envelope(m, c.lease_id).getBody().initLease();
  lease.setLeaseId(c.lease_id);
  lease.setDigestFunction(cas::to_wire(fn));
  cas::to_wire(c.action_digest, lease.initActionDigest());
  cas::to_wire(*action, fn, lease.initAction());
  const auto waited_us =
      static_cast<std::uint64_t>(std::max(Millis{0}, now - c.queued_at).count()) * 1000;
  lease.setQueuedUs(wall_clock_us() - std::min(waited_us, wall_clock_us()));
  log(LogLevel::kDebug, "lease " + std::to_string(c.lease_id) + ": " + c.action_digest.to_string() +
                            " to worker " + worker_label(c.worker) + " (attempt " +
                            std::to_string(c.attempt) + ")");
  if (!proto::send(workers, c.worker, m)) forget_worker(c.worker, "unreachable", now, false);
}

void Server::Impl::apply(const CancelLease& c, Millis now) {
  leases.erase(c.lease_id);
  capnp::MallocMessageBuilder m;
  proto::init_envelope(m, 0).getBody().initCancelLease().setLeaseId(c.lease_id);
  if (!proto::send(workers, c.worker, m)) forget_worker(c.worker, "unreachable", now, false);
}

void Server::Impl::apply(const Complete& c, Millis now) {
  const std::string& bytes = *c.result;
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
  capnp::FlatArrayMessageReader reader(words);
  capnp::MallocMessageBuilder m;
  proto::init_envelope(m, c.request_id)
      .getBody()
      .setExecuteResponse(reader.getRoot<schema::ExecuteResponse>());
  reply_to_client(c.client, c.request_id, m, now);
}

void Server::Impl::apply(const Fail& c, Millis now) {
  ErrorCode code = ErrorCode::UNAVAILABLE;
  if (c.reason == FailReason::kWorkerError) {
    auto it = worker_errors.find(c.action_digest);
    code = it != worker_errors.end() ? it->second : ErrorCode::INTERNAL;
  }
  capnp::MallocMessageBuilder m;
  auto response = proto::init_envelope(m, c.request_id).getBody().initExecuteResponse();
  cas::to_wire(c.action_digest, response.initActionDigest());
  response.setHasStatus(true);
  auto status = response.initStatus();
  status.setCode(code);
  status.setMessage(c.message);
  log(LogLevel::kInfo, "request " + std::to_string(c.request_id) + " of client " +
                           printable(c.client) + " failed: " + c.message);
  reply_to_client(c.client, c.request_id, m, now);
}

void Server::Impl::apply(const DropWorker& c, Millis /*now*/) {
  log(LogLevel::kWarn, "worker " + worker_label(c.worker) + " dropped: " + c.reason);
  forget_leases_of(c.worker);
  worker_names.erase(c.worker);
  cas->peer_gone(c.worker);
  (void)send_disconnect(c.worker, c.reason);
}

void Server::Impl::send_heartbeats(Millis now) {
  for (const WorkerView& w : policy.workers()) {
    capnp::MallocMessageBuilder m;
    proto::init_envelope(m, 0).getBody().initHeartbeat().setBusySlots(0);
    if (!proto::send(workers, w.id, m)) forget_worker(w.id, "unreachable", now, false);
  }
}

void Server::Impl::reply_to_client(const ClientId& client, std::uint64_t request_id,
                                   capnp::MessageBuilder& message, Millis now) {
  bool delimited = false;
  if (auto it = pending.find({client, request_id}); it != pending.end()) {
    delimited = it->second.delimited;
    pending.erase(it);
    if (auto c = pending_per_client.find(client);
        c != pending_per_client.end() && --c->second == 0) {
      pending_per_client.erase(c);
    }
  }
  if (proto::send(clients, client, message, delimited)) return;
  // The client is gone: nobody else of its requests needs an answer.
  log(LogLevel::kInfo, "client " + printable(client) + " is gone; dropping its requests");
  for (auto it = pending.lower_bound({client, 0});
       it != pending.end() && it->first.first == client;) {
    it = pending.erase(it);
  }
  pending_per_client.erase(client);
  policy.client_gone(now, client);
}

void Server::Impl::forget_worker(const WorkerId& worker, const std::string& reason, Millis now,
                                 bool notify) {
  log(LogLevel::kInfo, "worker " + worker_label(worker) + " left: " + reason);
  forget_leases_of(worker);
  worker_names.erase(worker);
  policy.worker_gone(now, worker, reason);
  cas->peer_gone(worker);
  if (notify) (void)send_disconnect(worker, reason);
}

void Server::Impl::forget_leases_of(const WorkerId& worker) {
  std::erase_if(leases, [&](const auto& entry) { return entry.second.worker == worker; });
}

bool Server::Impl::send_disconnect(const WorkerId& worker, const std::string& reason) {
  capnp::MallocMessageBuilder m;
  proto::init_envelope(m, 0).getBody().setDisconnect(reason);
  return proto::send(workers, worker, m);
}

bool Server::Impl::reply_error(zmq::socket_t& socket, const std::string& peer, bool delimited,
                               std::uint64_t id, ErrorCode code, const std::string& message) {
  capnp::MallocMessageBuilder m;
  proto::set_error(proto::init_envelope(m, id), code, message);
  return proto::send(socket, peer, m, delimited);
}

std::string Server::Impl::worker_label(const WorkerId& worker) const {
  auto it = worker_names.find(worker);
  return it != worker_names.end() ? it->second : printable(worker);
}

void Server::Impl::warn_limited(const std::string& line, Millis now) {
  std::uint64_t suppressed = 0;
  const bool allowed = bad_log.allow(now, suppressed);
  if (suppressed > 0) {
    log(LogLevel::kWarn, std::to_string(suppressed) + " similar warnings suppressed");
  }
  if (allowed) log(LogLevel::kWarn, line);
}

// ---------------------------------------------------------------------------
// Server

Result<std::unique_ptr<Server>> Server::create(ServerOptions options, Logger log) {
  if (!log) log = [](LogLevel, const std::string&) {};
  if (options.policy.heartbeat_interval.count() <= 0) {
    return make_error(Errc::kInvalidArgument, "the heartbeat interval must be positive");
  }
  if (options.max_bad_messages <= 0) {
    return make_error(Errc::kInvalidArgument, "max_bad_messages must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(log));
  const ServerOptions& o = impl->options;

  std::error_code ec;
  std::filesystem::create_directories(o.store_dir, ec);
  if (ec) {
    return make_error(Errc::kIo, "cannot create " + o.store_dir.string() + ": " + ec.message());
  }
  cas::StoreOptions store_options;
  store_options.dir = o.store_dir;
  store_options.max_size = o.max_store_bytes;
  store_options.warn = [log = impl->log](std::string_view line) {
    log(LogLevel::kWarn, "store: " + std::string(line));
  };
  auto store = cas::Store::open(std::move(store_options));
  if (!store.ok()) return store.error();
  impl->store = std::move(store).value();
  impl->fn = impl->store->digest_function();
  impl->cas = std::make_unique<cas::CasService>(*impl->store);

  auto clients = proto::make_router(impl->context, o.client_endpoint);
  if (!clients.ok()) return clients.error();
  impl->clients = std::move(clients).value();
  auto workers = proto::make_router(impl->context, o.worker_endpoint);
  if (!workers.ok()) return workers.error();
  impl->workers = std::move(workers).value();
  impl->client_endpoint = proto::bound_endpoint(impl->clients);
  impl->worker_endpoint = proto::bound_endpoint(impl->workers);

  impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) {
    return make_error(Errc::kIo, std::string("eventfd: ") + std::strerror(errno));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

std::string Server::client_endpoint() const { return impl_->client_endpoint; }
std::string Server::worker_endpoint() const { return impl_->worker_endpoint; }

Status Server::run() { return impl_->run(); }

void Server::request_stop() {
  impl_->stop_requested.store(true);
  const std::uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);  // async-signal-safe
}

}  // namespace kiln::scheduler
