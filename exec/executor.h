// The executor: one action, from digests to an ActionResult.
//
//   execute(store, action) = read the Command from the store
//                          → materialize the input root into a fresh directory
//                          → create the parents of declared outputs
//                          → run the command with its environment, in the
//                            options' Sandbox (sandbox.h) or straight
//                            (runner.h)
//                          → collect declared outputs into the store
//                          → store stdout/stderr, fill in timings
//
// An action with platform input-root=filesystem (sandbox.h) has an input
// root that is its whole file system: it runs only in the bubblewrap
// sandbox, which shows the tree read-only at "/" and the outputs'
// directories read-write; its working directory and outputs are paths in
// that tree. Its files are linked from options.file_cache when there is one.
//
// The store must already hold the Command and every input blob (the worker
// loop fetches what is missing first). Outputs are confined to the sandbox:
// a declared path that is absolute or has "..", or that resolves through a
// symlink, is refused; a declared output that was not produced is listed in
// Execution::missing_outputs. Writing the action cache is the caller's job
// (only workers write it, and only for results worth caching).
//
// Concurrency: several threads may execute against one Store if they share
// ExecutorOptions::store_mutex; every store access is made under it, the
// command itself runs outside it. Cancellation: ExecutorOptions::cancel_fd
// is handed to run_command (runner.h); a cancelled run collects nothing.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"
#include "cas/store.h"
#include "exec/file_cache.h"
#include "exec/sandbox.h"

namespace kiln::exec {

struct ExecutorOptions {
  std::filesystem::path work_root;  // sandboxes are created under it
  std::string worker_id;
  std::size_t output_cap = 64u << 20;  // per stream
  std::chrono::milliseconds default_timeout{600000};
  bool keep_sandbox = false;  // for debugging
  // Readable = kill the command's process group (see RunSpec::cancel_fd).
  int cancel_fd = -1;
  // When set, held around every access to the store (a Store is used by
  // one thread at a time), never while the command runs.
  std::mutex* store_mutex = nullptr;
  // Where the command runs (sandbox.h); nullptr: straight in its
  // directory, as this process's user, with everything this process sees.
  const Sandbox* sandbox = nullptr;
  // Where the files of input-root=filesystem trees are linked from
  // (file_cache.h); nullptr: they are written for each action.
  FileCache* file_cache = nullptr;
  // Where a rootfs action's /.kiln-base directory goes (wire.capnp
  // ExecuteRequest.baseDir): the tree's ".kiln-base" is moved there, and
  // "/.kiln-base" in its arguments, environment and working directory
  // becomes this path. Empty, or an action without one: nothing moves.
  std::string base_dir;
};

struct Execution {
  cas::ActionResult result;
  bool timed_out = false;
  // Killed through cancel_fd: no outputs were collected, result holds only
  // the exit code and metadata.
  bool cancelled = false;
  std::vector<std::string> missing_outputs;
  // Every blob the result names (outputs, whole output trees, stdout and
  // stderr): what an action-cache entry for it must reference.
  std::vector<cas::Digest> referenced;
};

// Fails with kNotFound when the Command or an input blob is not in the
// store, kInvalidArgument for a malformed Command or a hostile input tree or
// output path, kNotFound/kPermissionDenied when the program cannot be
// started, kIo/kResourceExhausted for local trouble. `queued_us` is copied
// into the result's metadata.
Result<Execution> execute(cas::Store& store, const cas::Action& action,
                          const ExecutorOptions& options, std::uint64_t queued_us = 0);

// Whether an execution's result belongs in the action cache: it ran to
// completion (not timed out, not cancelled) with exit code 0, produced every
// declared output, and the action did not opt out.
bool cacheable(const cas::Action& action, const Execution& execution);

}  // namespace kiln::exec
