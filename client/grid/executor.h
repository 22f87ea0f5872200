// exec::ActionExecutor for the grid: the action runs on a worker chosen by the
// scheduler at `endpoint` (KILN_SCHEDULER).
//
//   upload  the Command, the Action and the input tree blobs the central
//           store lacks (find_missing first: nothing is sent twice)
//   submit  executeRequest; while waiting, re-submit every resubmit interval
//           (idempotent on the scheduler, which runs identical actions once)
//   fetch   every blob the result names into the local store, which then
//           also records the result in its action cache (the local tier;
//           not with GridOptions::record_locally off, for a read-only cache)
//
// Faults (docs/architecture.md, "When the scheduler goes away"): the
// connection knows when its session with the scheduler is lost (the
// process died or restarted, or went silent for about 10 s: TCP keepalive).
// A request in flight then fails at once, and the three steps
// start over as soon as a session is back (a restarted scheduler: in
// milliseconds), each of them idempotent. Bounds, all hard:
//   - no session within `reconnect_wait` (at the start, or after one was
//     lost): kUnavailable, and the caller falls back (a compile compiles
//     here);
//   - no result within the action's timeout plus `grace` from the start:
//     kUnavailable.
// Never a wrong result: only a reply to this request is taken.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "cas/remote_cas.h"
#include "cas/store.h"
#include "client/grid/options.h"
#include "exec/action_executor.h"
#include "proto/transport.h"

namespace kiln::client::grid {

// The platform of every worker connected to the scheduler (its
// statusResponse): what the launcher's remote_mode=auto chooses by. Fails
// with the connection's error when the scheduler does not answer in time.
Result<std::vector<std::vector<cas::Property>>> worker_platforms(const GridOptions& options,
                                                                 std::chrono::milliseconds timeout);

class GridExecutor final : public exec::ActionExecutor {
 public:
  // Connects lazily: constructing never fails.
  GridExecutor(cas::Store& local, GridOptions options);
  ~GridExecutor() override;
  GridExecutor(const GridExecutor&) = delete;
  GridExecutor& operator=(const GridExecutor&) = delete;

  Result<exec::ExecutedAction> execute(const cas::Digest& action_digest,
                                       const cas::Action& action) override;
  std::string where() const override { return options_.endpoint; }

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  // One pass of the three steps on the current session.
  Result<exec::ExecutedAction> attempt(proto::Connection& conn, const cas::Digest& action_digest,
                                       const cas::Action& action, Deadline deadline);
  // The three steps, each failing with what went wrong.
  Status upload(cas::RemoteCas& remote, const cas::Digest& action_digest,
                const cas::Action& action);
  Result<std::unique_ptr<proto::Decoded>> submit_and_wait(proto::Connection& conn,
                                                          const cas::Digest& action_digest,
                                                          const cas::Action& action,
                                                          Deadline deadline);
  Status fetch(cas::RemoteCas& remote, const cas::Digest& action_digest, const cas::Action& action,
               const exec::ExecutedAction& executed);

  cas::Store& local_;
  GridOptions options_;
  zmq::context_t context_;
};

}  // namespace kiln::client::grid
