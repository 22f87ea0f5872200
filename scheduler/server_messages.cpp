// The scheduler's handling of each incoming message: which endpoint serves
// which kind, how an executeRequest is checked and submitted, how worker
// sessions start and results are accepted (and cached), and what counts as
// a bad message. Everything read here is untrusted (proto::decode checked
// the structure, cas::from_wire checks the values); nothing here throws on
// purpose, and server.cpp catches whatever does. See server.cpp for the
// loop around it and PROTOCOL.md section 9 for the behaviour.
#include <capnp/serialize.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cas/model.h"
#include "cas/wire_model.h"
#include "scheduler/server_impl.h"

namespace kiln::scheduler {
namespace {

using Which = schema::Envelope::Body::Which;

// Action timeouts above this are clamped (keeps the policy's arithmetic far
// from overflow); the worker still applies the action's own timeout.
constexpr Millis kMaxActionTimeout{30LL * 24 * 3600 * 1000};
constexpr std::size_t kMaxWorkerName = 256;
constexpr std::uint32_t kMaxSlots = 4096;
constexpr std::size_t kMaxMissingOutputs = 10000;
// The shortest heartbeat interval a worker gets, whatever it asks for.
constexpr Millis kMinHeartbeatInterval{10};
// executeRequests one client may have waiting at once; more are
// resourceExhausted (the policy keeps state for each).
constexpr std::size_t kMaxPendingPerClient = 100000;

}  // namespace

std::string Server::Impl::kind_name(Which kind) {
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
                                           "statusResponse",
                                           "getRecordsRequest",
                                           "getRecordsResponse",
                                           "putRecordsRequest",
                                           "putRecordsResponse",
                                           "executeProgress"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(Which::EXECUTE_PROGRESS) + 1,
                "kNames lists every body kind of wire.capnp, in order");
  const auto index = static_cast<std::size_t>(kind);
  if (index < std::size(kNames)) return kNames[index];
  return "unknown kind " + std::to_string(index);
}

namespace {

// Kinds that expect a reply, so they need a non-zero requestId.
bool is_request(Which kind) {
  switch (kind) {
    case Which::FIND_MISSING_REQUEST:
    case Which::UPLOAD_CHUNK:
    case Which::DOWNLOAD_REQUEST:
    case Which::GET_ACTION_RESULT_REQUEST:
    case Which::EXECUTE_REQUEST:
    case Which::STATUS_REQUEST:
    case Which::GET_RECORDS_REQUEST:
    case Which::PUT_RECORDS_REQUEST:
      return true;
    default:
      return false;
  }
}

std::string describe(const Platform& platform) {
  std::string text;
  for (const auto& p : platform) text += (text.empty() ? "" : ",") + p.name + "=" + p.value;
  return text.empty() ? "(none)" : text;
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

}  // namespace

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
  if (!admit(r, Endpoint::kClients, kind, id, now)) return;
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
    case Which::GET_RECORDS_REQUEST:
      on_get_records(r, id, body.getGetRecordsRequest(), now);
      return;
    case Which::PUT_RECORDS_REQUEST:
      on_put_records(r, id, body.getPutRecordsRequest(), now);
      return;
    case Which::ERROR: {
      const auto error = body.getError();
      log(LogLevel::kDebug, "client " + printable(r.peer) + " sent an error (code " +
                                std::to_string(static_cast<int>(error.getCode())) +
                                "): " + peer_text(error.getMessage().cStr()));
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
  if (!admit(r, Endpoint::kWorkers, kind, envelope.getRequestId(), now)) return;
  if (is_request(kind) && envelope.getRequestId() == 0) {
    bad_message(true, r.peer, kind_name(kind) + " with requestId 0", now);
    return;
  }
  switch (kind) {
    case Which::WORKER_HELLO:
      on_hello(r.peer, body.getWorkerHello(), now);
      if (auto session = sessions.find(r.peer); session != sessions.end()) {
        session->second.key = r.user_id;
      }
      return;
    case Which::HEARTBEAT:
      if (has_session(r.peer, kind)) policy.worker_heard(now, r.peer);
      return;
    case Which::LEASE_RESULT:
      if (has_session(r.peer, kind)) on_lease_result(r.peer, body.getLeaseResult(), now);
      return;
    case Which::DISCONNECT:
      if (policy.has_worker(r.peer)) {
        forget_worker(r.peer, "it said: " + peer_text(body.getDisconnect().cStr()), now, false);
      }
      return;
    case Which::ERROR: {
      const auto error = body.getError();
      policy.worker_heard(now, r.peer);
      log(LogLevel::kWarn, "worker " + worker_label(r.peer) + " sent an error (code " +
                               std::to_string(static_cast<int>(error.getCode())) +
                               "): " + peer_text(error.getMessage().cStr()));
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
  if (envelope.getBody().which() == Which::GET_ACTION_RESULT_REQUEST) write_cache_batch();
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

// The platform an action needs (its Command's), once both the Command and
// the input root are in the central store: a worker fetches them from
// here. kNotFound ("upload inputs first"), kInvalidArgument (not a
// Command), or the store's error.
Result<Platform> Server::Impl::required_platform(const cas::Action& action) {
  auto blob = store->get(action.command_digest);
  if (!blob.ok()) return blob.error();
  if (!*blob) {
    return make_error(Errc::kNotFound, "command " + action.command_digest.to_string() +
                                           " is not in the central store; upload inputs first");
  }
  auto command = cas::decode_command(bytes_of(**blob));
  if (!command.ok()) {
    return make_error(Errc::kInvalidArgument, "command " + action.command_digest.to_string() +
                                                  ": " + command.error().message);
  }
  const auto has_root = store->contains(action.input_root_digest);
  if (!has_root.ok()) return has_root.error();
  if (!*has_root) {
    return make_error(Errc::kNotFound, "input root " + action.input_root_digest.to_string() +
                                           " is not in the central store; upload inputs first");
  }
  return std::move(command->platform);
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

  ++action_requests;
  if (!request.getSkipCacheLookup()) {
    write_cache_batch();  // results accepted earlier in this turn count
    auto hit = cas->get_action_result(*digest);
    if (!hit.ok()) {
      log(LogLevel::kWarn, "action cache lookup failed: " + hit.error().message);
    } else if (*hit) {
      ++cache_hits;
      record_hit(r, tag_of(request), *digest, **hit);
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

  // Untrusted like the rest: an absolute, normalized path of sane length
  // (the worker checks it again before using it).
  std::string base_dir(request.getBaseDir().cStr(), request.getBaseDir().size());
  if (!base_dir.empty() && !cas::is_normal_absolute_path(base_dir)) {
    return refuse(ErrorCode::INVALID_ARGUMENT,
                  "baseDir is not an absolute, normalized path of at most 4096 bytes");
  }
  auto platform = required_platform(*action);
  if (!platform.ok()) {
    return refuse(proto::error_code_of(platform.error().code), platform.error().message);
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
  // A REQ peer takes one reply per request: progress only for DEALERs.
  if (request.getProgress() && !r.delimited) {
    progress_wanted.emplace(*digest, std::make_pair(r.peer, id));
    // Running already (for an earlier request of the same action): now.
    for (const auto& [lease_id, lease] : leases) {
      if (lease.digest == *digest) {
        send_progress(*digest, lease.worker);
        break;
      }
    }
  }
  Submission s;
  s.client = r.peer;
  s.request_id = id;
  s.action_digest = *digest;
  s.action = std::make_shared<const std::string>(std::move(*encoded));
  s.platform = std::move(platform).value();
  s.priority = request.getPriority();
  s.base_dir = std::move(base_dir);
  s.timeout = std::min(Millis{static_cast<Millis::rep>(
                           std::min<std::uint64_t>(action->timeout_ms, kMaxActionTimeout.count()))},
                       kMaxActionTimeout);
  log(LogLevel::kDebug, "client " + printable(r.peer) + " request " + std::to_string(id) +
                            ": execute " + digest->to_string());
  record_submit(r, id, tag_of(request), *digest, *action);
  policy.submit(now, std::move(s));
}

void Server::Impl::on_cancel(const ClientId& client, schema::CancelRequest::Reader cancel,
                             Millis now) {
  const std::uint64_t id = cancel.getExecuteRequestId();
  auto it = pending.find({client, id});
  if (it == pending.end()) return;  // answered already, or never ours
  policy.cancel(now, client, id);
  if (http) invocations.cancelled(client, id, it->second.digest.to_string(), wall_us());
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
  const std::string name = peer_text(hello.getWorkerId().cStr(), kMaxWorkerName);
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
  if (interval > options.policy.heartbeat_interval) {
    log(LogLevel::kWarn, "worker " + printable(peer) + " heartbeats every " +
                             std::to_string(interval.count()) + " ms; this scheduler expects " +
                             std::to_string(options.policy.heartbeat_interval.count()) +
                             " ms and ends sessions silent for " +
                             std::to_string(options.policy.liveness) + " of those");
  }
  if (policy.has_worker(peer)) {
    log(LogLevel::kInfo,
        "worker " + worker_label(peer) + " said hello again; its leases are requeued");
    forget_leases_of(peer);
  }
  policy.worker_ready(now, peer, slots, *platform);
  Session& session = sessions[peer];
  session.name = name.empty() ? printable(peer) : name;
  session.heartbeat_interval =
      std::max(kMinHeartbeatInterval, std::min(interval, options.policy.heartbeat_interval));
  session.next_heartbeat = now;  // the first one at once: the session is up
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
    const std::string message = who + ": " + peer_text(error.getMessage().cStr());
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
  execution.observe(static_cast<double>(std::max(Millis{0}, now - lease.started).count()) / 1000.0);
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
  cache_batch.push_back({lease.digest, result, std::move(*referenced)});
  cache_batch_what.push_back(what);
}

// One store transaction for every entry accepted since the last call: a
// durable commit costs an fsync, and one per result capped the whole grid
// at the disk's fsync rate (289 and 1,882 results a second in two runs of
// bench_fleet with 100 workers, docs/scale.md). The answers to the clients
// may leave before the commit; a crash in between loses cache entries,
// never results.
void Server::Impl::write_cache_batch() {
  if (cache_batch.empty()) return;
  auto left_out = cas->put_action_results(cache_batch);
  if (!left_out.ok()) {
    log(LogLevel::kWarn,
        std::to_string(cache_batch.size()) + " results not cached: " + left_out.error().message);
  } else {
    for (const std::size_t i : *left_out) {
      log(LogLevel::kWarn, cache_batch_what[i] + " not cached: a blob it names is not stored");
    }
  }
  cache_batch.clear();
  cache_batch_what.clear();
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
    out.setQuarantinedMsLeft(
        static_cast<std::uint64_t>(std::max(Millis{0}, w.quarantined_until - now).count()));
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
  response.setAuthenticated(authenticated);
  response.setRefusedConnections(refused_connections);
  response.setRefusedMessages(refused_messages);
  response.setRequireSha256(options.require_sha256);
  response.setBackups(stats.backups);
  response.setBackupsWon(stats.backups_won);
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
  ++bad_messages;
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

}  // namespace kiln::scheduler
