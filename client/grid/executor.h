// exec::ActionExecutor for the grid: the action runs on a worker chosen by the
// scheduler at `endpoint` (KILN_SCHEDULER).
//
//   upload  the Command, the Action and the input tree blobs the central
//           store lacks (find_missing first: nothing is sent twice)
//   submit  executeRequest; while waiting, re-submit every resubmit interval
//           (idempotent on the scheduler, which runs identical actions once)
//           so a restarted scheduler picks the request up again
//   fetch   every blob the result names into the local store, which then
//           also records the result in its action cache (the local tier)
//
// A scheduler that does not answer within the action's timeout plus a grace
// period is an error (kUnavailable), never a wrong result.
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
  // The three steps of execute(), each failing with what went wrong.
  Status upload(cas::RemoteCas& remote, const cas::Digest& action_digest,
                const cas::Action& action);
  Result<std::unique_ptr<proto::Decoded>> submit_and_wait(proto::Connection& conn,
                                                          const cas::Digest& action_digest,
                                                          const cas::Action& action);
  Status fetch(cas::RemoteCas& remote, const cas::Digest& action_digest, const cas::Action& action,
               const exec::ExecutedAction& executed);

  cas::Store& local_;
  GridOptions options_;
  zmq::context_t context_;
};

}  // namespace kiln::client::grid
