// Starting child processes: the one posix_spawn of kiln. posix_spawn runs
// nothing between fork and exec in the child, so a parent with threads or
// ZeroMQ sockets is safe. Waiting with limits and capture through pipes
// is exec/runner.h's job; this layer starts, waits plainly, and captures
// into memory files for a child that must not be slowed by a full pipe.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace kiln::base {

struct SpawnSpec {
  // What the child sees as its arguments.
  std::vector<std::string> argv{};
  // The file to run; empty: argv[0]. A path: no PATH search here
  // (program_path.h finds programs).
  std::string program{};
  // The child's whole environment ("NAME=value"); nullopt: this process's.
  std::optional<std::vector<std::string>> env{};
  std::filesystem::path cwd{};  // empty: this process's
  // Descriptors for the child's 0, 1, 2; -1 inherits ours. stdin_null
  // wins over stdin_fd.
  bool stdin_null = false;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // More descriptors for the child: (ours, its number there). Its numbers
  // are above 2 and none of ours is one of them (kInvalidArgument
  // otherwise); every other descriptor opened close-on-exec stays closed.
  std::vector<std::pair<int, int>> inherit_fds{};
  // Its own process group (so the whole group can be killed), with an
  // empty signal mask and default dispositions.
  bool own_process_group = false;
};

// Starts the child. kNotFound / kPermissionDenied / kIo ("cannot run
// <argv[0]>: <why>") when it cannot be started. A program written a moment ago can be busy
// (ETXTBSY: another thread's child still holds its write descriptor until it execs): that is
// retried for about a second.
Result<pid_t> spawn(const SpawnSpec& spec);

// Waits for `pid` (retrying EINTR): its exit status, or 128 + the signal
// that ended it.
Result<int> wait_exit_code(pid_t pid);

struct Captured {
  int exit_code = 0;  // as wait_exit_code
  std::string out;
  std::string err;
};

// Runs `argv` with our environment, stdin and process group, stdout and
// stderr each captured in a memory file (nothing to drain while it runs,
// so a chatty compiler never blocks), and waits for it.
Result<Captured> run_captured(const std::vector<std::string>& argv);

}  // namespace kiln::base
