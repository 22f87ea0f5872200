// The scheduler's dispatch policy: which action runs where and when, and
// what happens when workers die, results arrive, or clients give up.
//
// Pure: events and the current time go in, commands come out; no sockets,
// no clock, no store. The poll loop (scheduler/main) turns messages into
// events and commands into messages. Tests drive it with a fake clock.
//
// Rules (DESIGN.md "Scheduling"):
//  - Identical actions (same action digest) in flight at once run once;
//    every waiting request gets the result.
//  - The queue is fair across clients: free slots go to clients in
//    round-robin order, so a 10,000-action build cannot starve a 10-action
//    one. Within one client: higher priority first, then arrival order.
//  - An action runs only on a worker whose platform has every property the
//    action requires (same name and value).
//  - A worker silent for `liveness` heartbeat intervals is dead: its leases
//    go back to the queue. An action is tried at most `max_attempts` times,
//    then its waiters get an error. A result for a lease the worker does not
//    hold (late, after requeue, or made up) is ignored.
//  - A lease outlives neither the action's timeout plus `lease_grace` nor
//    its worker; an expired lease counts as a failed attempt.
//  - A retry goes to a worker the action has not failed on, while one that
//    could run it is connected. A worker whose leases fail
//    `quarantine_after` times in a row (a full disk, a broken toolchain)
//    gets no lease for `quarantine`; its next success ends the count.
//  - Backups (a slow or stuck worker must not hold a build): when a worker
//    is free and nothing queued can use it, an action that has run longer
//    than `backup_factor` times the median of recent leases (and at least
//    `backup_min`) is started on it too; the first result wins and the
//    other lease is cancelled. One backup per action.
//  - An action no connected worker can run fails after no_worker_timeout.
//  - After drain() nothing new is dispatched; running leases finish.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "cas/digest.h"
#include "cas/model.h"

namespace kiln::scheduler {

using Millis = std::chrono::milliseconds;  // time since an arbitrary epoch
using ClientId = std::string;              // opaque (a ZeroMQ routing id)
using WorkerId = std::string;
using Platform = std::vector<cas::Property>;

// An opaque, shared action payload (the encoded Action) and result (the
// encoded ActionResult): the policy moves them around without reading them.
using Payload = std::shared_ptr<const std::string>;

struct Submission {
  ClientId client;
  std::uint64_t request_id = 0;
  cas::Digest action_digest;
  Payload action;
  Platform platform;  // required properties
  int priority = 0;   // higher first, within this client
  Millis timeout{0};  // the action's execution timeout (0: default)
  // Where the action's /.kiln-base is on the client (wire.capnp
  // ExecuteRequest.baseDir), handed to the worker; the first request's
  // when identical ones share the action.
  std::string base_dir{};
};

// --- Commands -------------------------------------------------------------

// Send this action to this worker under this lease.
struct StartLease {
  WorkerId worker;
  std::uint64_t lease_id = 0;
  cas::Digest action_digest;
  Payload action;
  Millis queued_at{0};
  int attempt = 1;
  std::string base_dir{};
};

// Tell a worker to stop a lease (cancelled, expired, or given up on).
struct CancelLease {
  WorkerId worker;
  std::uint64_t lease_id = 0;
};

// Answer one waiting request with a result.
struct Complete {
  ClientId client;
  std::uint64_t request_id = 0;
  cas::Digest action_digest;
  Payload result;
};

enum class FailReason { kRetriesExhausted, kNoMatchingWorker, kWorkerError, kDraining };

// Answer one waiting request with an error.
struct Fail {
  ClientId client;
  std::uint64_t request_id = 0;
  cas::Digest action_digest;
  FailReason reason = FailReason::kWorkerError;
  std::string message;
};

// Drop a worker's session (dead, or speaking out of turn).
struct DropWorker {
  WorkerId worker;
  std::string reason;
};

using Command = std::variant<StartLease, CancelLease, Complete, Fail, DropWorker>;

// What lease_result() did with a result, for logging.
enum class ResultDisposition { kAccepted, kUnknownWorker, kUnknownLease, kNotYourLease };

struct DispatchStats {
  std::size_t workers = 0;
  std::size_t total_slots = 0;
  std::size_t busy_slots = 0;
  std::size_t queued = 0;   // distinct actions waiting for a slot
  std::size_t running = 0;  // distinct actions under lease
  std::size_t waiting_requests = 0;
  std::size_t quarantined = 0;    // workers
  std::uint64_t backups = 0;      // backup leases started so far
  std::uint64_t backups_won = 0;  // ... whose result came first
  std::uint64_t retries = 0;      // actions queued again after a failed attempt
};

struct WorkerView {
  WorkerId id;
  std::uint32_t slots = 0;
  std::uint32_t busy = 0;
  Millis last_heard{0};
  Platform platform;
  Millis quarantined_until{0};  // past: not quarantined
};

class DispatchPolicy {
 public:
  struct Options {
    Millis heartbeat_interval{1000};
    int liveness = 3;  // missed intervals before a worker is dead
    int max_attempts = 3;
    Millis lease_grace{10000};  // beyond the action's timeout
    Millis default_timeout{600000};
    // A queued action that no connected worker could ever run fails after
    // this long (kNoMatchingWorker), so a client can fall back.
    Millis no_worker_timeout{30000};
    // Failed leases in a row that quarantine a worker, and for how long.
    int quarantine_after = 3;
    Millis quarantine{30000};
    // Backups: 0 turns them off.
    double backup_factor = 3.0;
    Millis backup_min{10000};
  };

  explicit DispatchPolicy(Options options);
  ~DispatchPolicy();
  DispatchPolicy(const DispatchPolicy&) = delete;
  DispatchPolicy& operator=(const DispatchPolicy&) = delete;

  // A client asks for an action. Joins an identical action already queued
  // or running, else queues it.
  void submit(Millis now, Submission submission);
  // The client no longer wants the answer to `request_id`. When nobody waits
  // for the action any more it is dequeued, or its lease cancelled.
  void cancel(Millis now, const ClientId& client, std::uint64_t request_id);
  // Forget every request of a client (it disconnected).
  void client_gone(Millis now, const ClientId& client);

  // A worker announces itself (or again, after reconnecting: its old leases
  // are requeued, since a reconnected worker has lost them).
  void worker_ready(Millis now, const WorkerId& worker, std::uint32_t slots, Platform platform);
  // Any message from a worker counts as a heartbeat.
  void worker_heard(Millis now, const WorkerId& worker);
  // The worker is gone (it said so, or the transport did): requeue its leases.
  void worker_gone(Millis now, const WorkerId& worker, const std::string& reason);
  bool has_worker(const WorkerId& worker) const;

  // A worker finished a lease. `result` is the encoded ActionResult; on
  // `error` (the worker could not run it at all) the attempt counts as failed
  // and is retried if `retryable`, else every waiter gets the error.
  ResultDisposition lease_result(Millis now, const WorkerId& worker, std::uint64_t lease_id,
                                 Payload result);
  ResultDisposition lease_error(Millis now, const WorkerId& worker, std::uint64_t lease_id,
                                const std::string& error, bool retryable);

  // Expires dead workers and overdue leases, ends quarantines, starts
  // backups. Call at least once per heartbeat interval.
  void tick(Millis now);

  // Stop dispatching; queued actions fail with kDraining, leases finish.
  void drain(Millis now);
  bool idle() const;  // nothing queued or running

  // Commands produced since the last call, in order.
  std::vector<Command> take_commands();

  DispatchStats stats() const;
  std::vector<WorkerView> workers() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// True when `offered` has every (name, value) pair of `required`.
bool platform_satisfies(const Platform& offered, const Platform& required);

}  // namespace kiln::scheduler
