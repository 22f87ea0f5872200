// process.h: posix_spawn, waitpid, and capture into memfds.
#include "base/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/files.h"
#include "base/os_error.h"
#include "base/unique_fd.h"

extern char** environ;  // NOLINT: POSIX's name for the process environment

namespace kiln::base {
namespace {

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// posix_spawn's file actions and attributes, released when it goes.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_{};
  posix_spawnattr_t attr_{};
};

}  // namespace

Result<pid_t> spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return make_error(Errc::kInvalidArgument, "empty command");
  SpawnSetup setup;
  if (spec.stdin_null) {
    posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (spec.stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(setup.actions(), spec.stdout_fd, STDOUT_FILENO);
  }
  if (spec.stderr_fd >= 0) {
    posix_spawn_file_actions_adddup2(setup.actions(), spec.stderr_fd, STDERR_FILENO);
  }
  for (const auto& [ours, theirs] : spec.inherit_fds) {
    const bool clobbers =
        std::any_of(spec.inherit_fds.begin(), spec.inherit_fds.end(),
                    [ours = ours](const auto& fds) { return fds.second == ours; });
    if (theirs <= STDERR_FILENO || clobbers) {
      return make_error(Errc::kInvalidArgument, "cannot hand descriptor " + std::to_string(ours) +
                                                    " to the child as " + std::to_string(theirs));
    }
    posix_spawn_file_actions_adddup2(setup.actions(), ours, theirs);
  }
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(setup.actions(), spec.cwd.c_str());
  if (spec.own_process_group) {
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(setup.attr(), &none);
    posix_spawnattr_setsigdefault(setup.attr(), &all);
    posix_spawnattr_setpgroup(setup.attr(), 0);
    posix_spawnattr_setflags(
        setup.attr(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  auto argv = pointers(spec.argv);
  std::vector<char*> envp;
  if (spec.env) envp = pointers(*spec.env);
  char** env = spec.env ? envp.data() : environ;
  const std::string& program = spec.program.empty() ? spec.argv.front() : spec.program;
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, program.c_str(), setup.actions(), setup.attr(), argv.data(), env);
  for (int attempt = 0; rc == ETXTBSY && attempt < 10; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1 << attempt));
    rc = ::posix_spawn(&pid, program.c_str(), setup.actions(), setup.attr(), argv.data(), env);
  }
  if (rc != 0) return os_error(rc, "cannot run " + spec.argv.front());
  return pid;
}

Result<int> wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return os_error(errno, "waitpid");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Result<Captured> run_captured(const std::vector<std::string>& argv) {
  const UniqueFd out(::memfd_create("kiln-stdout", MFD_CLOEXEC));
  const UniqueFd err(::memfd_create("kiln-stderr", MFD_CLOEXEC));
  if (!out.valid() || !err.valid()) return os_error(errno, "memfd_create");
  SpawnSpec spec;
  spec.argv = argv;
  spec.stdout_fd = out.get();
  spec.stderr_fd = err.get();
  auto pid = spawn(spec);
  if (!pid.ok()) return pid.error();
  auto code = wait_exit_code(*pid);
  if (!code.ok()) return code.error();
  Captured captured;
  captured.exit_code = *code;
  for (auto [fd, text] :
       {std::pair{out.get(), &captured.out}, std::pair{err.get(), &captured.err}}) {
    if (::lseek(fd, 0, SEEK_SET) != 0) return os_error(errno, "lseek");
    auto data = read_fd(fd, "the captured output");
    if (!data.ok()) return data.error();
    *text = std::move(data).value();
  }
  return captured;
}

}  // namespace kiln::base
