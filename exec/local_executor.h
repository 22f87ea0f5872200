// The embedded default: actions run on this machine through the executor
// (executor.h), against the local store, which plays the worker's local
// tier. This is also the one place a client writes the action cache:
// what it ran itself, not what a peer told it.
//
// Thread safety: with LocalExecutorOptions::store_mutex set, several
// LocalExecutors (one per thread) may share one Store; every store access
// holds the mutex, the command runs outside it.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "cas/store.h"
#include "exec/action_executor.h"
#include "exec/executor.h"

namespace kiln::exec {

struct LocalExecutorOptions {
  std::filesystem::path work_root{};  // sandboxes are created under it
  int cancel_fd = -1;                 // readable = kill the running action
  std::mutex* store_mutex = nullptr;
  // Where commands run (sandbox.h), shared by the executors of one
  // command; nullptr: straight in their directory.
  std::shared_ptr<const Sandbox> sandbox{};
};

class LocalExecutor final : public ActionExecutor {
 public:
  LocalExecutor(cas::Store& store, const LocalExecutorOptions& options);

  // execute() (executor.h), then the result into the action cache when
  // cacheable(). Errors: execute()'s, and the store's when the result
  // cannot be recorded.
  Result<ExecutedAction> execute(const cas::Digest& action_digest,
                                 const cas::Action& action) override;
  std::string where() const override { return "local"; }

 private:
  cas::Store& store_;
  std::shared_ptr<const Sandbox> sandbox_;
  ExecutorOptions options_;
};

}  // namespace kiln::exec
