// local_executor.h: the executor plus the action-cache write.
#include "exec/local_executor.h"

namespace kiln::exec {

LocalExecutor::LocalExecutor(cas::Store& store, const LocalExecutorOptions& options)
    : store_(store), sandbox_(options.sandbox) {
  options_.work_root = options.work_root;
  options_.worker_id = "local";
  options_.cancel_fd = options.cancel_fd;
  options_.store_mutex = options.store_mutex;
  options_.sandbox = sandbox_.get();
}

Result<ExecutedAction> LocalExecutor::execute(const cas::Digest& action_digest,
                                              const cas::Action& action) {
  auto execution = exec::execute(store_, action, options_);
  if (!execution.ok()) return execution.error();
  if (cacheable(action, *execution)) {
    std::unique_lock<std::mutex> lock;
    if (options_.store_mutex != nullptr) lock = std::unique_lock(*options_.store_mutex);
    auto encoded = cas::encode_action_result(execution->result, store_.digest_function());
    if (!encoded.ok()) return encoded.error();
    if (auto stored = store_.put_action_result(action_digest, *encoded, execution->referenced);
        !stored.ok()) {
      return stored.error();
    }
  }
  return ExecutedAction{std::move(execution->result), execution->timed_out,
                        std::move(execution->missing_outputs)};
}

}  // namespace kiln::exec
