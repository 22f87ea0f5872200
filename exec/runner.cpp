// run_command: posix_spawn into a new process group, then one poll loop over
// the two output pipes, a pidfd for the child and the caller's cancel fd,
// bounded by the deadline.
// When the child exits (or the deadline passes) the whole group is killed,
// which also closes pipes held open by background grandchildren, and the
// pipes are drained to EOF.
#include "exec/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/process.h"
#include "base/program_path.h"
#include "base/unique_fd.h"

namespace kiln::exec {
namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Resolves argv[0] against PATH from the child's environment, as execvpe
// would, so that the child's PATH (not the worker's) decides; relative
// entries are relative to the child's working directory.
std::string resolve_program(const RunSpec& spec) {
  const std::string& program = spec.argv.front();
  if (program.find('/') != std::string::npos) return program;
  std::string_view path = base::kDefaultPath;
  for (const std::string& entry : spec.env) {
    if (entry.rfind("PATH=", 0) == 0) path = std::string_view(entry).substr(5);
  }
  return base::find_program(program, {.path = path, .cwd = spec.cwd}).value_or(program);
}

struct Capture {
  std::string* data;
  bool* truncated;
  std::size_t cap;
  base::UniqueFd fd;
};

// Reads what is available; returns false at EOF or error.
bool drain_once(Capture& c) {
  std::array<char, 65536> buffer{};
  const ssize_t n = ::read(c.fd.get(), buffer.data(), buffer.size());
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  const std::size_t room = c.cap > c.data->size() ? c.cap - c.data->size() : 0;
  const std::size_t keep = std::min(room, static_cast<std::size_t>(n));
  c.data->append(buffer.data(), keep);
  if (keep < static_cast<std::size_t>(n)) *c.truncated = true;
  return true;
}

}  // namespace

Result<RunOutcome> run_command(const RunSpec& spec) {
  if (spec.argv.empty()) return make_error(Errc::kInvalidArgument, "empty command");
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  // Read ends are non-blocking: the poll loop never blocks in read().
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) return make_error(Errc::kIo, errno_text("pipe"));
  base::UniqueFd out_read(out_pipe[0]);
  base::UniqueFd out_write(out_pipe[1]);
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) return make_error(Errc::kIo, errno_text("pipe"));
  base::UniqueFd err_read(err_pipe[0]);
  base::UniqueFd err_write(err_pipe[1]);
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_read.get(), F_SETFL, O_NONBLOCK);

  base::SpawnSpec child;
  child.argv = spec.argv;
  child.program = resolve_program(spec);
  child.env = spec.env;
  child.cwd = spec.cwd;
  child.stdin_null = true;
  child.stdout_fd = out_write.get();
  child.stderr_fd = err_write.get();
  child.own_process_group = true;
  const auto started = Clock::now();
  auto spawned = base::spawn(child);
  if (!spawned.ok()) return spawned.error();
  const pid_t pid = *spawned;
  out_write.reset();
  err_write.reset();

  RunOutcome outcome;
  base::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  std::array<Capture, 2> captures{Capture{&outcome.stdout_data, &outcome.stdout_truncated,
                                          spec.output_cap, std::move(out_read)},
                                  Capture{&outcome.stderr_data, &outcome.stderr_truncated,
                                          spec.output_cap, std::move(err_read)}};
  const bool has_deadline = spec.timeout.count() > 0;
  const auto deadline = started + spec.timeout;

  bool exited = false;
  int status = 0;
  while (!exited) {
    std::array<pollfd, 4> fds{};
    nfds_t n = 0;
    for (auto& c : captures) {
      if (c.fd.get() >= 0) fds[n++] = pollfd{c.fd.get(), POLLIN, 0};
    }
    if (pidfd.get() >= 0) fds[n++] = pollfd{pidfd.get(), POLLIN, 0};
    if (spec.cancel_fd >= 0) fds[n++] = pollfd{spec.cancel_fd, POLLIN, 0};
    int wait_ms = pidfd.get() >= 0 ? -1 : 20;  // without a pidfd, poll waitpid
    if (has_deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      const int left_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()) + 1);
      wait_ms = wait_ms < 0 ? left_ms : std::min(wait_ms, left_ms);
    }
    const int ready = ::poll(fds.data(), n, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    for (auto& c : captures) {
      if (c.fd.get() < 0) continue;
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].fd == c.fd.get() && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
          if (!drain_once(c)) c.fd.reset();
        }
      }
    }
    const bool cancel = spec.cancel_fd >= 0 && fds[n - 1].fd == spec.cancel_fd &&
                        (fds[n - 1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) {
      exited = true;
    } else if (cancel) {
      outcome.cancelled = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      exited = true;
    } else if (has_deadline && Clock::now() >= deadline) {
      outcome.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      exited = true;
    }
  }
  // No process of the action may outlive it; this also closes pipes that
  // background children still hold, so the drain below ends.
  ::kill(-pid, SIGKILL);
  // A process that escaped the group (setsid) may still hold a pipe: give
  // the drain a bounded time, then stop listening.
  for (auto& c : captures) {
    while (c.fd.get() >= 0) {
      pollfd pfd{c.fd.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 200) <= 0 || !drain_once(c)) c.fd.reset();
    }
  }
  outcome.wall = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  if (WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.signal = WTERMSIG(status);
    outcome.exit_code = 128 + outcome.signal;
  }
  return outcome;
}

}  // namespace kiln::exec
