// Running one command as a child process: its own process group, only the
// environment it is given, stdout/stderr captured up to a cap, and the whole
// group killed on timeout (and when the command exits, so no background
// child outlives its action).
//
// The child is started with posix_spawn: nothing runs between fork and exec
// in the child, so a parent holding ZeroMQ sockets or threads is safe.
//
// Cancellation: another thread makes RunSpec::cancel_fd readable (an
// eventfd written once, a pipe's write end closed...). The wait loop polls
// it with the child's pipes, kills the whole group with SIGKILL and reports
// RunOutcome::cancelled. The fd is only polled, never read, so one fd can
// cancel several steps of the same job.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace kiln::exec {

struct RunSpec {
  std::vector<std::string> argv;         // argv[0] is looked up in env PATH if it has no '/'
  std::vector<std::string> env;          // "NAME=value", the child's whole environment
  std::filesystem::path cwd;             // must exist
  std::chrono::milliseconds timeout{0};  // 0: none
  std::size_t output_cap = 64u << 20;    // per stream; the rest is discarded
  int cancel_fd = -1;                    // readable = kill the group now; -1: none
  // More descriptors for the child (base::SpawnSpec::inherit_fds).
  std::vector<std::pair<int, int>> inherit_fds{};
};

struct RunOutcome {
  int exit_code = 0;       // the exit status, or 128 + signal
  int signal = 0;          // the signal that ended it, if any
  bool timed_out = false;  // killed by the timeout (signal is SIGKILL)
  bool cancelled = false;  // killed because cancel_fd became readable
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::chrono::microseconds wall{0};
};

// Runs the command and waits for it. Fails (kNotFound / kPermissionDenied /
// kIo) only when the command could not be started; a command that runs and
// fails is an outcome, not an error.
Result<RunOutcome> run_command(const RunSpec& spec);

}  // namespace kiln::exec
