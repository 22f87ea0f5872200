// One lease on its way through an executor slot of the agent:
//
//   fetch   RemoteCas::fetch_tree(input root) + the Command blob, only what
//           the local store lacks (so repeated inputs are fetched once)
//   run     exec::execute() against the local store, cancellable
//   upload  find_missing(referenced) on the central store + upload those
//
// and the LeaseResult it becomes. The session thread owns the Job; a slot
// thread runs it; cancel() may come from any thread at any time and kills
// the running command (or skips what has not started).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cas/digest.h"
#include "cas/model.h"
#include "cas/remote_cas.h"
#include "cas/store.h"
#include "exec/executor.h"
#include "proto/transport.h"
#include "proto/wire.capnp.h"

namespace kiln::worker {

// Why a job was cancelled; the first reason wins.
enum class CancelReason : int {
  kNone = 0,
  kCancelLease,  // the scheduler said cancelLease: answer `cancelled`
  kAbandoned,    // its session is gone: the result is never sent
  kShutdown,     // the worker stops: answer `unavailable`, retryable
};

// Which lease a job or its outcome is: what a leaseResult echoes.
struct LeaseIdentity {
  std::uint64_t session = 0;     // the agent's session number
  std::uint64_t request_id = 0;  // of the lease; echoed by the leaseResult
  std::uint64_t lease_id = 0;
  cas::DigestFunction function = cas::DigestFunction::kXxh3_128;
  cas::Digest action_digest;
};

class Job : public LeaseIdentity {
 public:
  // Throws std::system_error if no eventfd can be made.
  Job();
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  cas::Action action;
  std::uint64_t queued_us = 0;
  std::string base_dir;  // wire.capnp Lease.baseDir (checked by the executor)

  // Thread- and signal-safe.
  void cancel(CancelReason reason);
  CancelReason cancelled() const { return static_cast<CancelReason>(reason_.load()); }
  // Readable once cancel() was called (for RunSpec::cancel_fd).
  int cancel_fd() const { return fd_; }

 private:
  std::atomic<int> reason_{0};
  int fd_ = -1;
};

struct LeaseError {
  schema::Error::Code code = schema::Error::Code::INTERNAL;
  std::string message;
  bool retryable = false;  // another worker may succeed
};

// What a slot hands back to the session thread.
struct LeaseOutcome : LeaseIdentity {
  // An outcome for `lease`, with nothing in it yet.
  static LeaseOutcome of(const LeaseIdentity& lease) {
    LeaseOutcome outcome;
    static_cast<LeaseIdentity&>(outcome) = lease;
    return outcome;
  }

  cas::ActionResult result;
  bool cacheable = false;
  bool timed_out = false;
  std::vector<cas::Digest> referenced;
  std::vector<std::string> missing_outputs;
  std::optional<LeaseError> error;
  CancelReason cancelled = CancelReason::kNone;
};

struct LeaseContext {
  cas::Store& store;
  std::mutex& store_mutex;  // held around every use of `store`
  proto::Connection& connection;
  exec::ExecutorOptions executor;  // cancel_fd and store_mutex are set per job
  cas::RemoteCasOptions remote;
};

// Runs the job to its outcome. Never throws for a failure of the action,
// the store or the network: those are LeaseErrors. Inputs absent from the
// central store (kNotFound) and bad actions are not retryable; transfer
// and local trouble are.
LeaseOutcome run_lease(Job& job, LeaseContext& context);

// The error for a job that did not run: `code`, `message`, `retryable`.
LeaseOutcome failed_lease(const Job& job, LeaseError error);

// Whether an action that failed with `code` may succeed on another worker.
bool retryable(Errc code);

// Fills a LeaseResult body from an outcome.
void to_wire(const LeaseOutcome& outcome, schema::LeaseResult::Builder out);

}  // namespace kiln::worker
