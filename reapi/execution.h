// The API's Execution service: Execute and WaitExecution, on kiln's grid.
//
// Execute starts an operation ("operations/<random hex>") and streams its
// stages to the caller; the operation belongs to the server, not to the
// call: a client that disconnects leaves it running, and WaitExecution with
// its name reattaches, to a running operation or to one finished in the
// last `keep_done`. Identical actions asked for while one is in flight
// share that one operation.
//
// An operation:
//   CACHE_CHECK  the REAPI action cache (under the REAPI action digest)
//                unless skip_cache_lookup;
//                the Action, its Command and its input tree are read from
//                the CAS; whatever is missing ends it FAILED_PRECONDITION
//                with a PreconditionFailure naming each blob ("MISSING",
//                "blobs/HASH/SIZE"), which is what makes Bazel upload and
//                retry; the kiln Command, Directories and Action are
//                written to the store (reapi/translate.h)
//   QUEUED       submitted to the scheduler as a kiln client would
//                (executeRequest, resubmitted every resubmit_interval while
//                no answer comes, as kiln's own grid client does)
//   EXECUTING    a worker has taken it (the scheduler's executeProgress,
//                an interim reply the request asks for)
//   COMPLETED    the ExecuteResponse: the result translated back (output
//                paths relative to the working directory, each output
//                directory as a Tree blob), ExecutedActionMetadata with the
//                worker and its timings, cached_result when the grid had
//                it; a result worth caching (kiln's rule: exit 0, complete,
//                not timed out, not do_not_cache) is written to the REAPI
//                action cache.
#pragma once

#include <build/bazel/remote/execution/v2/remote_execution.grpc.pb.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "base/log.h"
#include "proto/curve.h"
#include "reapi/digests.h"
#include "reapi/shared_store.h"
#include "reapi/status.h"

namespace kiln::reapi {

struct ExecutionOptions {
  std::string scheduler_endpoint;               // the scheduler's client endpoint
  std::optional<proto::CurveClientKeys> curve;  // none: plain TCP on loopback
  std::chrono::milliseconds resubmit_interval{30000};
  std::chrono::milliseconds keep_done{10 * 60 * 1000};
  std::size_t max_running = 4096;  // operations in flight; more: RESOURCE_EXHAUSTED
};

class ExecutionService final : public v2::Execution::Service {
 public:
  ExecutionService(SharedStore& store, const Gate& gate, zmq::context_t& context,
                   ExecutionOptions options, Logger log);
  // Stops: streams end UNAVAILABLE, operations are abandoned (the grid
  // still finishes what it started), their threads joined.
  ~ExecutionService() override;
  // Begins the stop the destructor finishes: open streams end UNAVAILABLE
  // (call before the gRPC server's Shutdown, which waits for them).
  void stop();
  ExecutionService(const ExecutionService&) = delete;
  ExecutionService& operator=(const ExecutionService&) = delete;

  grpc::Status Execute(grpc::ServerContext* context, const v2::ExecuteRequest* request,
                       grpc::ServerWriter<google::longrunning::Operation>* writer) override;
  grpc::Status WaitExecution(grpc::ServerContext* context, const v2::WaitExecutionRequest* request,
                             grpc::ServerWriter<google::longrunning::Operation>* writer) override;

  struct Operation;

 private:
  std::shared_ptr<Operation> start(const cas::Digest& action, bool skip_cache_lookup, int priority,
                                   grpc::Status& refused);
  void run(const std::shared_ptr<Operation>& op);
  grpc::Status stream(grpc::ServerContext& context, Operation& op,
                      grpc::ServerWriter<google::longrunning::Operation>& writer);
  void forget_old();

  SharedStore& store_;
  const Gate& gate_;
  zmq::context_t& context_;
  ExecutionOptions options_;
  Logger log_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Operation>> by_name_;
  std::map<cas::Digest, std::shared_ptr<Operation>> running_;  // by REAPI action digest
  // Each operation runs on a thread of its own, detached; the destructor
  // waits until none is left.
  std::size_t live_threads_ = 0;
  std::condition_variable threads_done_;
};

}  // namespace kiln::reapi
