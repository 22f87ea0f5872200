// run_lease(): see lease_job.h. Every phase checks the job's cancellation
// first, so a cancelled or abandoned job stops at the next phase boundary;
// the command itself is killed through the job's eventfd (runner.h).
#include "worker/lease_job.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "cas/wire_model.h"

namespace kiln::worker {
namespace {

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

LeaseError error_from(const Error& error, const std::string& during) {
  return LeaseError{proto::error_code_of(error.code), during + ": " + error.message,
                    retryable(error.code)};
}

// A cancelled job's outcome: what the scheduler hears depends on why.
LeaseOutcome cancelled_lease(const Job& job) {
  const CancelReason reason = job.cancelled();
  LeaseOutcome outcome = failed_lease(
      job, reason == CancelReason::kShutdown
               ? LeaseError{schema::Error::Code::UNAVAILABLE, "the worker is stopping", true}
               : LeaseError{schema::Error::Code::CANCELLED, "cancelled", false});
  outcome.cancelled = reason;
  return outcome;
}

// Fetches the input root and the Command blob into the local store.
Status fetch_inputs(Job& job, LeaseContext& context, cas::RemoteCas& remote) {
  const std::lock_guard<std::mutex> lock(context.store_mutex);
  if (auto s = remote.fetch_tree(context.store, job.action.input_root_digest); !s.ok()) return s;
  const cas::Digest command[] = {job.action.command_digest};
  auto missing = context.store.find_missing(command);
  if (!missing.ok()) return missing.error();
  if (missing->empty()) return {};
  return remote.download(context.store, *missing);
}

// Uploads what the central store lacks of `referenced`.
Status upload_outputs(LeaseContext& context, cas::RemoteCas& remote,
                      const std::vector<cas::Digest>& referenced) {
  auto missing = remote.find_missing(referenced);
  if (!missing.ok()) return missing.error();
  if (missing->empty()) return {};
  const std::lock_guard<std::mutex> lock(context.store_mutex);
  return remote.upload(context.store, *missing);
}

}  // namespace

Job::Job() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Job::~Job() { ::close(fd_); }

void Job::cancel(CancelReason reason) {
  int expected = 0;
  reason_.compare_exchange_strong(expected, static_cast<int>(reason));
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

bool retryable(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:  // a bad action is bad everywhere
    case Errc::kNotFound:         // an input (or the program) does not exist
    case Errc::kPermissionDenied:
      return false;
    case Errc::kCorrupt:  // a damaged transfer
    case Errc::kResourceExhausted:
    case Errc::kUnavailable:
    case Errc::kIo:
    case Errc::kInternal:
      break;
  }
  return true;
}

LeaseOutcome failed_lease(const Job& job, LeaseError error) {
  LeaseOutcome outcome = LeaseOutcome::of(job);
  outcome.error = std::move(error);
  return outcome;
}

LeaseOutcome run_lease(Job& job, LeaseContext& context) {
  const std::uint64_t start_us = now_us();
  if (job.cancelled() != CancelReason::kNone) return cancelled_lease(job);
  if (job.function != context.store.digest_function()) {
    return failed_lease(
        job,
        LeaseError{schema::Error::Code::INVALID_ARGUMENT,
                   "this worker's store holds " +
                       std::string(cas::to_string(context.store.digest_function())) + " digests",
                   true});
  }
  cas::RemoteCas remote(context.connection, job.function, context.remote);

  const std::uint64_t fetch_start_us = now_us();
  if (auto s = fetch_inputs(job, context, remote); !s.ok()) {
    return failed_lease(job, error_from(s.error(), "fetching inputs"));
  }
  const std::uint64_t fetch_end_us = now_us();
  if (job.cancelled() != CancelReason::kNone) return cancelled_lease(job);

  exec::ExecutorOptions options = context.executor;
  options.cancel_fd = job.cancel_fd();
  options.store_mutex = &context.store_mutex;
  options.base_dir = job.base_dir;
  auto execution = exec::execute(context.store, job.action, options, job.queued_us);
  if (job.cancelled() != CancelReason::kNone || (execution.ok() && execution->cancelled)) {
    return cancelled_lease(job);
  }
  if (!execution.ok()) return failed_lease(job, error_from(execution.error(), "executing"));

  if (auto s = upload_outputs(context, remote, execution->referenced); !s.ok()) {
    return failed_lease(job, error_from(s.error(), "uploading outputs"));
  }

  LeaseOutcome outcome = LeaseOutcome::of(job);
  outcome.cacheable = cacheable(job.action, *execution);
  outcome.timed_out = execution->timed_out;
  outcome.result = std::move(execution->result);
  outcome.referenced = std::move(execution->referenced);
  outcome.missing_outputs = std::move(execution->missing_outputs);
  cas::ExecutionMetadata& meta = outcome.result.metadata;
  meta.worker_start_us = start_us;
  // The executor timed materializing; the fetch from the central store
  // came before it and belongs to the same phase.
  meta.input_fetch_start_us = fetch_start_us;
  if (meta.input_fetch_end_us < fetch_end_us) meta.input_fetch_end_us = fetch_end_us;
  meta.output_upload_end_us = now_us();
  meta.worker_end_us = meta.output_upload_end_us;
  return outcome;
}

void to_wire(const LeaseOutcome& outcome, schema::LeaseResult::Builder out) {
  out.setLeaseId(outcome.lease_id);
  cas::to_wire(outcome.action_digest, out.initActionDigest());
  if (outcome.error) {
    out.setHasError(true);
    auto error = out.initError();
    error.setCode(outcome.error->code);
    error.setMessage(outcome.error->message);
    out.setRetryable(outcome.error->retryable);
    return;
  }
  cas::to_wire(outcome.result, out.initResult());
  out.setCacheable(outcome.cacheable);
  cas::to_wire(outcome.referenced,
               out.initReferenced(static_cast<unsigned>(outcome.referenced.size())));
  out.setTimedOut(outcome.timed_out);
  auto missing = out.initMissingOutputs(static_cast<unsigned>(outcome.missing_outputs.size()));
  for (unsigned i = 0; i < missing.size(); ++i) missing.set(i, outcome.missing_outputs[i]);
}

}  // namespace kiln::worker
