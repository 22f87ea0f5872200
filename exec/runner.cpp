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

// A pipe whose read end is non-blocking (the poll loop never blocks in
// read()) and whose write end is for the child.
struct Pipe {
  base::UniqueFd read;
  base::UniqueFd write;
};

Result<Pipe> output_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return make_error(Errc::kIo, errno_text("pipe"));
  Pipe pipe{base::UniqueFd(fds[0]), base::UniqueFd(fds[1])};
  ::fcntl(pipe.read.get(), F_SETFL, O_NONBLOCK);
  return pipe;
}

// How the wait for the child ended.
enum class Ending { kExited, kCancelled, kTimedOut };

// Polls the child's pipes, its pidfd and the cancel fd until it exits, the
// cancel fd becomes readable or the deadline passes (then the group is
// killed); reads what the pipes hold as it arrives. `status` is waitpid's.
Ending supervise(pid_t pid, const RunSpec& spec, Clock::time_point started,
                 std::array<Capture, 2>& captures, int& status) {
  const base::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const bool has_deadline = spec.timeout.count() > 0;
  const auto deadline = started + spec.timeout;
  for (;;) {
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
    if (ready < 0 && errno != EINTR) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return Ending::kExited;
    }
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
    if (::waitpid(pid, &status, WNOHANG) == pid) return Ending::kExited;
    const bool late = has_deadline && Clock::now() >= deadline;
    if (cancel || late) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return cancel ? Ending::kCancelled : Ending::kTimedOut;
    }
  }
}

// After the child: no process of the action may outlive it, which also
// closes pipes that background children still hold, so the drain ends. A
// process that escaped the group (setsid) may still hold a pipe: give the
// drain a bounded time, then stop listening.
void end_group(pid_t pid, std::array<Capture, 2>& captures) {
  ::kill(-pid, SIGKILL);
  for (auto& c : captures) {
    while (c.fd.get() >= 0) {
      pollfd pfd{c.fd.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 200) <= 0 || !drain_once(c)) c.fd.reset();
    }
  }
}

}  // namespace

Result<RunOutcome> run_command(const RunSpec& spec) {
  if (spec.argv.empty()) return make_error(Errc::kInvalidArgument, "empty command");
  auto out = output_pipe();
  if (!out.ok()) return out.error();
  auto err = output_pipe();
  if (!err.ok()) return err.error();

  base::SpawnSpec child;
  child.argv = spec.argv;
  child.program = resolve_program(spec);
  child.env = spec.env;
  child.cwd = spec.cwd;
  child.stdin_null = true;
  child.stdout_fd = out->write.get();
  child.stderr_fd = err->write.get();
  child.own_process_group = true;
  child.inherit_fds = spec.inherit_fds;
  const auto started = Clock::now();
  auto spawned = base::spawn(child);
  if (!spawned.ok()) return spawned.error();
  const pid_t pid = *spawned;
  out->write.reset();
  err->write.reset();

  RunOutcome outcome;
  std::array<Capture, 2> captures{Capture{&outcome.stdout_data, &outcome.stdout_truncated,
                                          spec.output_cap, std::move(out->read)},
                                  Capture{&outcome.stderr_data, &outcome.stderr_truncated,
                                          spec.output_cap, std::move(err->read)}};
  int status = 0;
  const Ending ending = supervise(pid, spec, started, captures, status);
  outcome.cancelled = ending == Ending::kCancelled;
  outcome.timed_out = ending == Ending::kTimedOut;
  end_group(pid, captures);
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
