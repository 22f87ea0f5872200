// The kiln-worker daemon's core: a session with the scheduler and N
// executor slots.
//
// Session (PROTOCOL.md, Paranoid Pirate): a DEALER connects to the
// scheduler's worker endpoint, sends workerHello (id, slots, platform,
// heartbeat interval), then heartbeats every interval while it hears from
// the scheduler. If the scheduler is silent for 3 intervals (or says
// disconnect), the worker closes the socket, waits (1 s, doubling to 32 s),
// and starts over on a fresh socket: so it survives a scheduler restart.
// Leases it held across a reconnect are abandoned (the scheduler requeues
// them).
//
// Execution: each lease runs on one of N threads. A thread fetches the
// action's missing input blobs from the central store into the local store
// (RemoteCas over its own connection), runs the executor, uploads outputs
// and stdout/stderr, and hands a LeaseResult to the session thread through
// an inproc socket. Only the session thread touches the session socket.
// cancelLease kills the action's process group.
//
// Choices (PROTOCOL.md section 5 lists them for peers):
// - The session socket's identity is "<worker id>/<pid>/<session number>",
//   so every session is a new peer to the scheduler.
// - A lease beyond the free slots is not queued: it is answered at once
//   with a leaseResult error resourceExhausted, retryable (the scheduler
//   should never send one; if it does, another worker may take it). A
//   lease the scheduler cancelled stops counting as busy at once (as on the
//   scheduler's side), so a lease sent right behind a cancelLease is
//   accepted and waits the moment its slot thread needs to reap the kill.
// - A disconnect in a session that had heard the scheduler reconnects at
//   once (typically: the scheduler restarted and does not know us); a
//   disconnect answering the hello waits as a failed attempt does.
// - The slots share the local store under one mutex (cas::Store serves one
//   thread at a time): transfers and store reads of different slots take
//   turns, the commands themselves run in parallel.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "cas/model.h"
#include "exec/sandbox.h"
#include "proto/curve.h"

namespace kiln::worker {

struct AgentOptions {
  std::string scheduler_endpoint;       // the scheduler's worker endpoint
  std::string worker_id;                // default: hostname-pid
  std::uint32_t slots = 0;              // 0: number of cores
  std::vector<cas::Property> platform;  // os/arch/… are added automatically
  std::filesystem::path store_dir;      // the local tier
  std::uint64_t max_store_bytes = 0;
  std::uint64_t store_map_size = 0;  // LMDB address space; 0: the store's default
  std::filesystem::path work_root;   // the actions' directories
  // Where actions run (exec/sandbox.h). Its scratch is the work root.
  exec::SandboxSettings sandbox{};
  // The files of input-root=filesystem actions (shipped toolchains and
  // headers) are linked from <work_root>/.files (exec/file_cache.h),
  // emptied when it grows past this.
  std::uint64_t file_cache_bytes = std::uint64_t{4} << 30;
  std::chrono::milliseconds heartbeat_interval{1000};
  int liveness = 3;
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{32000};
  // request_stop(): how long running leases may take before they are killed.
  std::chrono::milliseconds drain_timeout{30000};
  // Per CAS request of a slot (RemoteCasOptions::timeout).
  std::chrono::milliseconds cas_timeout{10000};
  // This worker's CURVE keys and the scheduler's public key, for every
  // connection to the scheduler; nullopt: plain TCP (docs/security.md).
  std::optional<proto::CurveClientKeys> curve;
  // The digest function of a new local store; it must be the scheduler's.
  cas::DigestFunction digest_function = cas::DigestFunction::kXxh3_128;
};

// The platform properties every worker reports: os, arch (uname) and the
// user's extra ones, sorted. (Agent::create adds sandbox=<kind>, when
// actions may have it network=on, and with the bubblewrap sandbox
// input-root=filesystem, unless the user named them.)
std::vector<cas::Property> default_platform(std::vector<cas::Property> extra);

class Agent {
 public:
  // Checks the options, opens the local store (its errors as
  // cas::Store::open reports them; kInvalidArgument for bad options) and
  // makes the sandbox in the work root (exec::Sandbox::create's errors:
  // kUnavailable when bubblewrap cannot work here). `log`
  // is called from the agent's threads, concurrently: it must be
  // thread-safe.
  static Result<std::unique_ptr<Agent>> create(AgentOptions options, Logger log);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs sessions (reconnecting as needed) until request_stop(). Call once.
  // Fails only when the process cannot go on (kInternal: a ZeroMQ call
  // failed); a lost scheduler is retried, never an error.
  Status run();
  // Thread- and signal-safe; may come before run(). Graceful: no new
  // leases are taken (they are answered `unavailable`, retryable), running
  // ones may finish for drain_timeout and are then killed (answered
  // `unavailable`, retryable), then the worker sends `disconnect` and run()
  // returns. Without a session, run() returns at once. A second call kills
  // the running leases without waiting for drain_timeout.
  void request_stop();

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::worker
