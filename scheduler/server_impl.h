// Private to scheduler/server*.cpp: the state of a Server, shared by its
// two source files. server.cpp holds the poll loop, the policy's commands
// and the lifecycle; server_messages.cpp turns each incoming message into
// policy events, CAS replies or errors. See server.cpp for the design.
#pragma once

#include <capnp/message.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "cas/cas_service.h"
#include "cas/store.h"
#include "proto/keys.h"
#include "proto/transport.h"
#include "proto/zap.h"
#include "scheduler/access.h"
#include "scheduler/client_records.h"
#include "scheduler/dispatch.h"
#include "scheduler/http.h"
#include "scheduler/invocations.h"
#include "scheduler/metrics.h"
#include "scheduler/pages.h"
#include "scheduler/peer_guard.h"
#include "scheduler/server.h"

namespace kiln::scheduler {

struct Server::Impl {
  using Clock = std::chrono::steady_clock;
  using Which = schema::Envelope::Body::Which;
  using ErrorCode = schema::Error::Code;

  struct LeaseInfo {
    WorkerId worker;
    cas::Digest digest;
    cas::Action action;
    Millis started{0};  // for the execution-time histogram
  };

  struct PendingRequest {
    cas::Digest digest;
    bool delimited = false;  // a REQ peer: its reply needs the empty frame
  };

  Impl(ServerOptions opts, Logger logger)
      : options(std::move(opts)),
        log(std::move(logger)),
        policy(options.policy),
        client_guard(guard_options(options)),
        worker_guard(guard_options(options)),
        invocations(InvocationLog::Options{.max_invocations = options.keep_invocations}) {}
  ~Impl() {
    // First: its threads read `published` and call now().
    http.reset();
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
  // What clients keep for each other (client_records.h), apart from it.
  std::unique_ptr<ClientRecords> records;
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
  // The pending requests that asked for an executeProgress when a worker
  // takes their action (sent once; entries whose request is gone by then
  // are dropped unsent).
  std::multimap<cas::Digest, std::pair<ClientId, std::uint64_t>> progress_wanted;
  std::unordered_map<ClientId, std::size_t> pending_per_client;
  std::unordered_map<std::uint64_t, LeaseInfo> leases;
  // Per worker session (by routing id): the workerHello's id, and when it
  // gets its next heartbeat. It gets one every min(its interval, ours), so
  // a worker configured with a shorter interval than the scheduler does not
  // take the scheduler for dead.
  struct Session {
    std::string name;
    Millis heartbeat_interval{1000};
    Millis next_heartbeat{0};
    std::string key;  // its CURVE public key; "" without authentication
  };
  std::map<WorkerId, Session> sessions;
  // Error codes of non-retryable worker errors, by action, until the Fail
  // commands they cause are sent (cleared by every flush).
  std::unordered_map<cas::Digest, ErrorCode, cas::DigestHash> worker_errors;

  // Action-cache entries accepted since the last write_cache_batch(), with
  // what each is for the log. Written once per serve() (and before anything
  // reads the action cache), so a burst of results costs one commit.
  std::vector<cas::CasService::ActionResultEntry> cache_batch;
  std::vector<std::string> cache_batch_what;

  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t executed = 0;
  // The rest of what /metrics counts (metrics.h); the policy counts
  // backups and retries itself.
  std::uint64_t action_requests = 0;
  std::array<std::uint64_t, kFailureKinds> failed{};
  std::uint64_t bad_messages = 0;
  Histogram queue_wait{duration_buckets_seconds()};
  Histogram execution{duration_buckets_seconds()};

  // HTTP (server_http.cpp). The loop owns every number above; the HTTP
  // threads must not read them. Every metrics_interval the loop copies
  // them into a fresh MetricsSnapshot and swaps it in under the mutex; a
  // request takes the pointer under the mutex and renders outside it, so
  // neither side waits for the other longer than a pointer copy.
  std::unique_ptr<HttpServer> http;
  std::mutex published_mutex;
  std::shared_ptr<const MetricsSnapshot> published;
  // The workers table of the status page, published with the snapshot.
  std::shared_ptr<const std::vector<WorkerRow>> published_workers;
  Millis next_publish{0};
  // What the pages show of invocations (server_invocations.cpp); recorded
  // only while `http` runs. Thread-safe itself.
  InvocationLog invocations;

  // Trust (server_trust.cpp; docs/security.md). The ZAP handler is bound
  // before the routers, so no handshake happens without it. The monitors
  // report every handshake that failed (a key the handler refused, a peer
  // without CURVE).
  bool authenticated = false;
  std::optional<proto::ZapHandler> zap;
  proto::AuthorizedKeys keys;
  zmq::socket_t client_monitor;
  zmq::socket_t worker_monitor;
  std::uint64_t refused_connections = 0;
  std::uint64_t refused_messages = 0;
  std::atomic<bool> reload_requested{false};
  // One limit per kind of refusal, so a plain peer retrying its handshake
  // every 100 ms cannot hide the refusal of a key.
  enum class Refusal { kHandshake, kKey, kMessage };
  std::array<LogLimiter, 3> trust_logs{LogLimiter{10, Millis{10000}}, LogLimiter{10, Millis{10000}},
                                       LogLimiter{10, Millis{10000}}};

  Millis now() const { return std::chrono::duration_cast<Millis>(Clock::now() - started); }

  // --- the loop (server.cpp) ----------------------------------------------------------

  Status run();
  Status serve(zmq::socket_t& socket, bool worker_side);
  void handle(proto::Received& received, bool worker_side);
  void read_signals();
  void begin_drain(Millis now);
  void shutdown();

  // --- trust (server_trust.cpp) -------------------------------------------------

  // In create(), before the routers bind: the keys, the ZAP handler; or the
  // check that plain TCP stays on loopback.
  Status setup_trust();
  // After the routers bind: their monitors.
  Status monitor_handshakes();
  Result<proto::AuthorizedKeys> read_keys() const;
  void reload_keys_now(Millis now);
  std::optional<std::string> decide_connection(const proto::ZapRequest& request, Millis now);
  void read_monitor(zmq::socket_t& monitor, Endpoint endpoint, Millis now);
  // Whether the sender of `r` may send `kind` here. A sender whose key is
  // not (or no longer) allowed on this endpoint gets nothing: false, the
  // message counted and logged (rate-limited). A read-only key sending what
  // it may not is answered permissionDenied: false.
  bool admit(const proto::Received& r, Endpoint endpoint, Which kind, std::uint64_t id, Millis now);
  void trust_warning(Refusal refusal, const std::string& line, Millis now);

  // --- HTTP (server_http.cpp) ---------------------------------------------------

  // In create(), after the routers bind.
  Status start_http();
  // On the loop's thread: a snapshot of everything /metrics shows.
  void publish_metrics(Millis now);
  std::shared_ptr<const MetricsSnapshot> last_metrics();
  // On an HTTP thread: these read only `published` (and now()).
  HttpReply metrics_page(std::uint64_t unauthorized);
  HttpReply health_page(bool readiness);

  // --- invocations and pages (server_invocations.cpp) ----------------------------------

  static std::int64_t wall_us();
  // The request's tag, sanitized ("" id: none).
  static InvocationTagValue tag_of(schema::ExecuteRequest::Reader request);
  // The client as the pages name it: its key's name, else its connection.
  std::string client_name(const proto::Received& r) const;
  // The digests of the files (and directories) of the action's input root,
  // bounded (invocations.h).
  std::vector<std::string> input_digests(const cas::Action& action);
  void record_hit(const proto::Received& r, const InvocationTagValue& tag,
                  const cas::Digest& digest, const cas::ActionResult& result);
  void record_submit(const proto::Received& r, std::uint64_t id, const InvocationTagValue& tag,
                     const cas::Digest& digest, const cas::Action& action);
  void record_complete(const Complete& c, schema::ExecuteResponse::Reader response);
  // On the loop's thread, with publish_metrics().
  void publish_workers(Millis now);
  std::vector<HttpRoute> page_routes();
  // On an HTTP thread.
  HttpReply status_reply(bool json);
  HttpReply invocations_reply(bool json);
  HttpReply invocation_reply(std::string_view path, bool json);

  // --- messages (server_messages.cpp) ----------------------------------------------------------

  void on_client_message(const proto::Received& r, Millis now);
  void on_worker_message(const proto::Received& r, Millis now);
  void serve_cas_or_refuse(zmq::socket_t& socket, const proto::Received& r, Millis now,
                           const char* endpoint);
  void on_execute(const proto::Received& r, std::uint64_t id,
                  schema::ExecuteRequest::Reader request, Millis now);
  Result<Platform> required_platform(const cas::Action& action);
  void on_cancel(const ClientId& client, schema::CancelRequest::Reader cancel, Millis now);
  void on_hello(const WorkerId& peer, schema::WorkerHello::Reader hello, Millis now);
  void on_lease_result(const WorkerId& peer, schema::LeaseResult::Reader result, Millis now);
  void cache_result(const LeaseInfo& lease, const cas::ActionResult& result, bool all_present,
                    bool timed_out, capnp::List<schema::Digest>::Reader claimed);
  void write_cache_batch();
  void send_status(const proto::Received& r, std::uint64_t id, Millis now);

  // --- client records (server_records.cpp) ----------------------------------------------

  // The namespace `r`'s records are filed under: its key's name.
  std::string record_space(const proto::Received& r) const;
  // Whether a records request names the store's digest function.
  bool records_function_ok(schema::DigestFunction function) const;
  void on_get_records(const proto::Received& r, std::uint64_t id,
                      schema::GetRecordsRequest::Reader request, Millis now);
  void on_put_records(const proto::Received& r, std::uint64_t id,
                      schema::PutRecordsRequest::Reader request, Millis now);
  bool has_session(const WorkerId& peer, Which kind);
  void bad_message(bool worker_side, const std::string& peer, const std::string& reason,
                   Millis now);

  // --- commands and replies (server.cpp) ----------------------------------------------

  void flush_commands(Millis now);
  void apply(const StartLease& c, Millis now);
  // executeProgress to the requests of `action` that asked for it.
  void send_progress(const cas::Digest& action, const WorkerId& worker);
  // Forgets a pending request's wish for progress.
  void drop_progress(const cas::Digest& action, const ClientId& client, std::uint64_t request_id);
  void apply(const CancelLease& c, Millis now);
  void apply(const Complete& c, Millis now);
  void apply(const Fail& c, Millis now);
  void apply(const DropWorker& c, Millis now);
  // Sends the heartbeats that are due; returns when the next one is.
  Millis send_heartbeats(Millis now);
  void reply_to_client(const ClientId& client, std::uint64_t request_id,
                       capnp::MessageBuilder& message, Millis now);
  void forget_worker(const WorkerId& worker, const std::string& reason, Millis now, bool notify);
  void forget_leases_of(const WorkerId& worker);
  bool send_disconnect(const WorkerId& worker, const std::string& reason);
  bool reply_error(zmq::socket_t& socket, const std::string& peer, bool delimited, std::uint64_t id,
                   ErrorCode code, const std::string& message);
  std::string worker_label(const WorkerId& worker) const;
  // A routing id fit for a log line: as is when printable, else hex.
  static std::string printable(const std::string& id);
  // Text a peer sent, fit for a log line or a message to another peer:
  // control characters replaced, at most `max` bytes.
  static std::string peer_text(std::string_view text, std::size_t max = 1000);
  static std::span<const std::byte> bytes_of(const std::string& text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
  }
  void warn_limited(const std::string& line, Millis now);
  static std::string kind_name(Which kind);
};

}  // namespace kiln::scheduler
