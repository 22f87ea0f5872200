// The kiln-scheduler daemon's core: two ROUTER sockets around the dispatch
// policy, the central store and the CAS service.
//
//   client endpoint  ROUTER  executeRequest, cancelRequest, CAS and action-
//                            cache requests, statusRequest
//   worker endpoint  ROUTER  workerHello, heartbeat, leaseResult (the only
//                            way the action cache is written), CAS requests
//
// One thread, one poll loop with a bounded timeout (never an infinite
// poll): receive → decode (a malformed or unknown message is logged, and
// answered or dropped; repeated garbage ends the peer) → event into the
// DispatchPolicy / CasService → commands out as messages. Before an action
// is queued the action cache is consulted. Heartbeats go to every worker
// each interval; the policy's tick() expires the silent ones.
//
// Shutdown: request_stop() (from SIGTERM/SIGINT in main) drains — no new
// work is taken, queued work fails with "shutting down", running leases may
// finish until drain_timeout — then run() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "base/log.h"
#include "base/result.h"
#include "cas/digest.h"
#include "scheduler/dispatch.h"

namespace kiln::scheduler {

struct ServerOptions {
  std::string client_endpoint = "tcp://127.0.0.1:0";  // port 0: pick one
  std::string worker_endpoint = "tcp://127.0.0.1:0";
  std::filesystem::path store_dir;    // the central store
  std::uint64_t max_store_bytes = 0;  // 0: unlimited
  std::uint64_t store_map_size = 0;   // LMDB address space; 0: the store's default
  DispatchPolicy::Options policy;
  std::chrono::milliseconds drain_timeout{30000};
  int max_bad_messages = 10;  // per peer per minute, then it is dropped
  // Optional: a signalfd (non-blocking) for the signals that stop the
  // server, polled by run() beside the sockets. main() blocks SIGTERM and
  // SIGINT in every thread and passes one here, so no signal handler and no
  // global is needed. The first signal drains (request_stop); a second one
  // while draining stops at once. SIGHUP, if the signalfd has it, re-reads
  // the authorized keys instead. -1: none. The caller keeps it open.
  int signal_fd = -1;
  // The digest function of a new central store (an existing store keeps
  // its own).
  cas::DigestFunction digest_function = cas::DigestFunction::kXxh3_128;

  // Trust (docs/security.md). With `secret_key` (this scheduler's CURVE
  // secret key, Z85), both endpoints are CURVE servers: a peer connects only
  // with a key that `authorized_keys_file` admits on that endpoint (workers
  // on the worker endpoint, clients and read-only clients on the client
  // endpoint), and each of its messages is checked against its role; the
  // file is re-read on reload_keys() and SIGHUP, and a key no longer in it
  // is refused from its next message on. Without `secret_key`, plain TCP:
  // create() accepts that only for loopback endpoints.
  std::string secret_key;
  std::filesystem::path authorized_keys_file;
  // Untrusted clients: the central store must use SHA-256, and a client
  // naming XXH3-128 (whose collisions can be made to order) is refused with
  // a message that says so.
  bool require_sha256 = false;

  // HTTP (/metrics, /healthz, /ready; docs/metrics.md): "HOST:PORT" to
  // serve it, "" for none. Port 0 picks a free port (http_endpoint() says
  // which). Anything but a loopback host needs `http_token`, which clients
  // then send as "Authorization: Bearer TOKEN" (the probes need none).
  std::string http_endpoint;
  std::string http_token;
  // How often the loop publishes the numbers the HTTP threads serve: a
  // scrape sees them at most this old.
  std::chrono::milliseconds metrics_interval{1000};
  // How many invocations the pages keep (/invocations; invocations.h).
  std::size_t keep_invocations = 100;
};

class Server {
 public:
  // Opens the store and binds both endpoints. kUnavailable (bind failed),
  // store errors as Store::open reports them, kInvalidArgument for trust
  // settings that do not hold together (a bad key, an unreadable or
  // malformed authorized-keys file, plain TCP on a non-loopback endpoint,
  // require_sha256 with an XXH3 store, an HTTP endpoint that is not
  // HOST:PORT or not loopback without a token). Binds HTTP too, when asked:
  // it serves from then on, from a snapshot run() publishes.
  static Result<std::unique_ptr<Server>> create(ServerOptions options, Logger log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound endpoints, with real ports.
  std::string client_endpoint() const;
  std::string worker_endpoint() const;
  // The bound HTTP address ("127.0.0.1:PORT"), "" without HTTP.
  std::string http_endpoint() const;

  // Serves until stopped and drained. Returns an error only for a fatal
  // condition of the process (e.g. the poll itself failing); a bad message
  // never ends it.
  Status run();
  // Thread- and signal-safe: begin the drain.
  void request_stop();
  // Thread- and signal-safe: re-read the authorized keys on the server's
  // thread (as SIGHUP does). A file that cannot be read or parsed keeps the
  // keys in force (logged).
  void reload_keys();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::scheduler
