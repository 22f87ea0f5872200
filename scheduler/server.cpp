// The kiln-scheduler poll loop; see server.h for what it serves. This file
// holds the loop, the policy's commands and the lifecycle;
// server_messages.cpp the handling of each message; server_impl.h the
// state they share.
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
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <vector>

#include "cas/wire_model.h"
#include "scheduler/server_impl.h"

namespace kiln::scheduler {
namespace {

// Per socket and turn, so a flood on one endpoint cannot starve the other.
constexpr std::size_t kMaxMessagesPerTurn = 256;
// Time given to the last messages (answers, disconnects) at shutdown.
constexpr int kShutdownLingerMs = 500;

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

std::string Server::Impl::printable(const std::string& id) {
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

std::string Server::Impl::peer_text(std::string_view text, std::size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  if (text.size() > max) out += "...";
  return out;
}

// ---------------------------------------------------------------------------
// The loop

Status Server::Impl::run() {
  const Millis interval = options.policy.heartbeat_interval;
  log(LogLevel::kInfo, "serving clients on " + client_endpoint + ", workers on " + worker_endpoint +
                           ", store " + options.store_dir.string());
  Millis next_heartbeat = now() + interval;
  Millis next_prune = now() + interval;
  while (true) {
    Millis t = now();
    if (stop_requested.load() && !draining) begin_drain(t);
    if (draining) {
      if (policy.idle() || stop_now || t - drain_started >= options.drain_timeout) break;
    }
    Millis wait = std::clamp(next_heartbeat - t, Millis{0}, interval);
    if (http) wait = std::clamp(next_publish - t, Millis{0}, wait);
    if (draining) wait = std::clamp(drain_started + options.drain_timeout - t, Millis{0}, wait);
    std::vector<zmq::pollitem_t> items = {
        {static_cast<void*>(clients), 0, ZMQ_POLLIN, 0},
        {static_cast<void*>(workers), 0, ZMQ_POLLIN, 0},
        {nullptr, wake_fd, ZMQ_POLLIN, 0},
        {nullptr, options.signal_fd, static_cast<short>(options.signal_fd >= 0 ? ZMQ_POLLIN : 0),
         0},
    };
    if (authenticated) {
      items.push_back({static_cast<void*>(zap->socket()), 0, ZMQ_POLLIN, 0});
      items.push_back({static_cast<void*>(client_monitor), 0, ZMQ_POLLIN, 0});
      items.push_back({static_cast<void*>(worker_monitor), 0, ZMQ_POLLIN, 0});
    }
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
    if ((items[3].revents & ZMQ_POLLIN) != 0) read_signals();
    if (reload_requested.exchange(false)) reload_keys_now(now());
    if (authenticated) {
      // Handshakes first: a peer's messages can only follow its handshake.
      zap->serve(
          [this](const proto::ZapRequest& request) { return decide_connection(request, now()); });
      read_monitor(client_monitor, Endpoint::kClients, now());
      read_monitor(worker_monitor, Endpoint::kWorkers, now());
    }
    if (Status s = serve(clients, false); !s.ok()) return s;
    if (Status s = serve(workers, true); !s.ok()) return s;

    t = now();
    try {
      next_heartbeat = std::min(send_heartbeats(t), t + interval);
      if (t >= next_prune) {
        client_guard.prune(t);
        worker_guard.prune(t);
        next_prune = t + interval;
      }
      policy.tick(t);
      cas->expire(t);
      flush_commands(t);
      if (http && t >= next_publish) {
        publish_metrics(t);
        next_publish = t + options.metrics_interval;
      }
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
  Status status;
  for (std::size_t i = 0; i < kMaxMessagesPerTurn; ++i) {
    std::optional<proto::Received> received;
    try {
      received = proto::receive(socket, true);
    } catch (const zmq::error_t& e) {
      status = make_error(Errc::kIo, std::string("receive failed: ") + e.what());
      break;
    }
    if (!received) break;
    handle(*received, worker_side);
  }
  write_cache_batch();
  return status;
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
    if (info.ssi_signo == SIGHUP) {
      log(LogLevel::kInfo, "received SIGHUP: reloading the authorized keys");
      reload_requested.store(true);
      continue;
    }
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
  if (http) publish_metrics(now);  // /ready says "draining" at once
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
    progress_wanted.clear();
    pending_per_client.clear();
    for (const WorkerView& w : policy.workers()) {
      (void)send_disconnect(w.id, "scheduler shutting down");
    }
    clients.set(zmq::sockopt::linger, kShutdownLingerMs);
    workers.set(zmq::sockopt::linger, kShutdownLingerMs);
  } catch (const std::exception& e) {
    log(LogLevel::kWarn, std::string("shutdown: ") + e.what());
  }
  if (http) publish_metrics(now());  // the last numbers, while HTTP lives on until ~Server
  log(LogLevel::kInfo, "stopped after " + std::to_string(t.count()) + " ms; " +
                           std::to_string(executed) + " actions executed, " +
                           std::to_string(cache_hits) + " cache hits");
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
  leases[c.lease_id] = LeaseInfo{c.worker, c.action_digest, *action, now};
  if (http) invocations.started(c.action_digest.to_string(), worker_label(c.worker), wall_us());
  // The first lease only: a retry's or a backup's wait would count the
  // failed or slow attempt before it.
  if (c.attempt == 1) {
    queue_wait.observe(static_cast<double>(std::max(Millis{0}, now - c.queued_at).count()) /
                       1000.0);
  }
  capnp::MallocMessageBuilder m;
  auto lease = proto::init_envelope(m, c.lease_id).getBody().initLease();
  lease.setLeaseId(c.lease_id);
  lease.setDigestFunction(cas::to_wire(fn));
  cas::to_wire(c.action_digest, lease.initActionDigest());
  cas::to_wire(*action, fn, lease.initAction());
  const auto waited_us =
      static_cast<std::uint64_t>(std::max(Millis{0}, now - c.queued_at).count()) * 1000;
  lease.setQueuedUs(wall_clock_us() - std::min(waited_us, wall_clock_us()));
  if (!c.base_dir.empty()) lease.setBaseDir(c.base_dir);
  send_progress(c.action_digest, c.worker);
  log(LogLevel::kDebug, "lease " + std::to_string(c.lease_id) + ": " + c.action_digest.to_string() +
                            " to worker " + worker_label(c.worker) + " (attempt " +
                            std::to_string(c.attempt) + ")");
  if (!proto::send(workers, c.worker, m)) forget_worker(c.worker, "unreachable", now, false);
}

void Server::Impl::send_progress(const cas::Digest& action, const WorkerId& worker) {
  const auto [first, last] = progress_wanted.equal_range(action);
  for (auto it = first; it != last; ++it) {
    const auto& [client, request_id] = it->second;
    if (pending.count({client, request_id}) == 0) continue;
    capnp::MallocMessageBuilder m;
    auto progress = proto::init_envelope(m, request_id).getBody().initExecuteProgress();
    cas::to_wire(action, progress.initActionDigest());
    progress.setWorkerId(worker_label(worker));
    (void)proto::send(clients, client, m);
  }
  progress_wanted.erase(first, last);
}

void Server::Impl::drop_progress(const cas::Digest& action, const ClientId& client,
                                 std::uint64_t request_id) {
  const auto [first, last] = progress_wanted.equal_range(action);
  for (auto it = first; it != last; ++it) {
    if (it->second.first == client && it->second.second == request_id) {
      progress_wanted.erase(it);
      return;
    }
  }
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
  record_complete(c, reader.getRoot<schema::ExecuteResponse>());
  capnp::MallocMessageBuilder m;
  proto::init_envelope(m, c.request_id)
      .getBody()
      .setExecuteResponse(reader.getRoot<schema::ExecuteResponse>());
  reply_to_client(c.client, c.request_id, m, now);
}

void Server::Impl::apply(const Fail& c, Millis now) {
  static_assert(static_cast<int>(FailReason::kDraining) ==
                static_cast<int>(FailureKind::kDraining));
  ++failed[static_cast<std::size_t>(c.reason)];
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
  if (http)
    invocations.failed(c.client, c.request_id, c.action_digest.to_string(), wall_us(), c.message);
  reply_to_client(c.client, c.request_id, m, now);
}

void Server::Impl::apply(const DropWorker& c, Millis /*now*/) {
  log(LogLevel::kWarn, "worker " + worker_label(c.worker) + " dropped: " + c.reason);
  forget_leases_of(c.worker);
  sessions.erase(c.worker);
  cas->peer_gone(c.worker);
  (void)send_disconnect(c.worker, c.reason);
}

Millis Server::Impl::send_heartbeats(Millis now) {
  Millis next = now + options.policy.heartbeat_interval;
  std::vector<WorkerId> unreachable;
  for (auto& [id, session] : sessions) {
    if (now >= session.next_heartbeat) {
      capnp::MallocMessageBuilder m;
      proto::init_envelope(m, 0).getBody().initHeartbeat().setBusySlots(0);
      if (!proto::send(workers, id, m)) unreachable.push_back(id);
      session.next_heartbeat = now + session.heartbeat_interval;
    }
    next = std::min(next, session.next_heartbeat);
  }
  for (const WorkerId& id : unreachable) forget_worker(id, "unreachable", now, false);
  return next;
}

void Server::Impl::reply_to_client(const ClientId& client, std::uint64_t request_id,
                                   capnp::MessageBuilder& message, Millis now) {
  bool delimited = false;
  if (auto it = pending.find({client, request_id}); it != pending.end()) {
    delimited = it->second.delimited;
    drop_progress(it->second.digest, client, request_id);
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
    drop_progress(it->second.digest, client, it->first.second);
    it = pending.erase(it);
  }
  pending_per_client.erase(client);
  policy.client_gone(now, client);
  if (http) invocations.client_gone(client, wall_us());
}

void Server::Impl::forget_worker(const WorkerId& worker, const std::string& reason, Millis now,
                                 bool notify) {
  log(LogLevel::kInfo, "worker " + worker_label(worker) + " left: " + reason);
  forget_leases_of(worker);
  sessions.erase(worker);
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
  auto it = sessions.find(worker);
  return it != sessions.end() ? it->second.name : printable(worker);
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
  store_options.function = o.digest_function;
  if (o.store_map_size != 0) store_options.map_size = o.store_map_size;
  store_options.warn = [log = impl->log](std::string_view line) {
    log(LogLevel::kWarn, "store: " + std::string(line));
  };
  auto store = cas::Store::open(std::move(store_options));
  if (!store.ok()) return store.error();
  impl->store = std::move(store).value();
  impl->fn = impl->store->digest_function();
  impl->cas = std::make_unique<cas::CasService>(*impl->store);
  // Client records beside it, a sixteenth of its size (at least 16 MiB).
  ClientRecordsOptions records_options;
  records_options.dir = o.store_dir / "client-records";
  records_options.function = impl->fn;
  records_options.max_bytes =
      o.max_store_bytes == 0 ? 0 : std::max<std::uint64_t>(o.max_store_bytes / 16, 16u << 20);
  records_options.warn = [log = impl->log](std::string_view line) {
    log(LogLevel::kWarn, "client records: " + std::string(line));
  };
  auto records = ClientRecords::open(std::move(records_options));
  if (!records.ok()) return records.error();
  impl->records = std::move(records).value();

  // The ZAP handler first: a CURVE server without one admits any key.
  if (auto trust = impl->setup_trust(); !trust.ok()) return trust.error();
  const proto::CurveServerKeys client_keys{o.secret_key, zap_domain(Endpoint::kClients)};
  const proto::CurveServerKeys worker_keys{o.secret_key, zap_domain(Endpoint::kWorkers)};
  auto clients = proto::make_router(impl->context, o.client_endpoint, {},
                                    impl->authenticated ? &client_keys : nullptr);
  if (!clients.ok()) return clients.error();
  impl->clients = std::move(clients).value();
  auto workers = proto::make_router(impl->context, o.worker_endpoint, {},
                                    impl->authenticated ? &worker_keys : nullptr);
  if (!workers.ok()) return workers.error();
  impl->workers = std::move(workers).value();
  impl->client_endpoint = proto::bound_endpoint(impl->clients);
  impl->worker_endpoint = proto::bound_endpoint(impl->workers);
  if (auto monitored = impl->monitor_handshakes(); !monitored.ok()) return monitored.error();
  if (auto http = impl->start_http(); !http.ok()) return http.error();

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
std::string Server::http_endpoint() const {
  return impl_->http ? impl_->http->address().to_string() : std::string();
}

Status Server::run() { return impl_->run(); }

void Server::reload_keys() {
  impl_->reload_requested.store(true);
  const std::uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);  // async-signal-safe
}

void Server::request_stop() {
  impl_->stop_requested.store(true);
  const std::uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);  // async-signal-safe
}

}  // namespace kiln::scheduler
