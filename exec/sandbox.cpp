// Sandbox: see sandbox.h. The facts the pure argument builder needs are
// gathered once, in create(): bwrap's and kiln-run-as's paths, which of the
// system directories exist here (and which are merged-/usr symlinks), and
// the action user's ids. run() adds two descriptors per command: the
// action's directory, which bwrap binds at its own path (so bwrap, running
// as the action user, needs no search permission on the worker's private
// directories above it), and a pipe for bwrap's JSON status, which tells a
// command that ran from a sandbox that could not be set up.
#include "exec/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/os_error.h"
#include "base/program_path.h"
#include "base/unique_fd.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

// The host's system directories an action sees, read-only. Everything else
// (home directories, /root, /var, /run, /srv, /mnt, /sys, the worker's
// store and work directory) stays hidden.
constexpr std::array<const char*, 9> kSystemPaths = {"/usr",   "/bin",    "/sbin", "/lib", "/lib32",
                                                     "/lib64", "/libx32", "/etc",  "/opt"};

// Descriptor numbers in bwrap's process (above stdio).
constexpr int kStatusFd = 3;
constexpr int kRootFd = 4;
// Our copies are moved above these, so that handing them over cannot
// overwrite one with the other.
constexpr int kFirstPrivateFd = 10;

Result<std::vector<SystemMount>> system_mounts(const std::vector<fs::path>& extra) {
  std::vector<SystemMount> mounts;
  for (const char* path : kSystemPaths) {
    struct stat st {};
    if (::lstat(path, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      const fs::path target = fs::read_symlink(path, ec);
      if (ec) continue;
      mounts.push_back({SystemMount::Kind::kSymlink, path, target.string()});
    } else if (S_ISDIR(st.st_mode)) {
      mounts.push_back({SystemMount::Kind::kReadOnlyBind, path, ""});
    }
  }
  for (const fs::path& path : extra) {
    if (!path.is_absolute()) {
      return make_error(Errc::kInvalidArgument,
                        "sandbox read-only path '" + path.string() + "' is not absolute");
    }
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      return make_error(Errc::kNotFound,
                        "sandbox read-only path " + path.string() + " does not exist");
    }
    mounts.push_back({SystemMount::Kind::kReadOnlyBind, path.lexically_normal().string(), ""});
  }
  return mounts;
}

// The entries a rootfs sandbox shows from `tree`: its top level, but for
// "tmp" its children (they go onto the private /tmp).
Result<std::vector<RootfsEntry>> rootfs_top(const fs::path& tree) {
  std::vector<RootfsEntry> entries;
  const auto add_level = [&](const fs::path& dir, const std::string& prefix) -> Status {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (prefix.empty() && name == "tmp" && it->is_directory(ec) && !it->is_symlink(ec)) continue;
      RootfsEntry entry{prefix + name, ""};
      if (it->is_symlink(ec)) entry.symlink_target = fs::read_symlink(it->path(), ec).string();
      entries.push_back(std::move(entry));
    }
    if (ec) return base::os_error(ec.value(), "sandbox: cannot list " + dir.string());
    return {};
  };
  if (auto s = add_level(tree, ""); !s.ok()) return s.error();
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(tree / "tmp", ec))) {
    if (auto s = add_level(tree / "tmp", "tmp/"); !s.ok()) return s.error();
  }
  std::sort(entries.begin(), entries.end(),
            [](const RootfsEntry& a, const RootfsEntry& b) { return a.path < b.path; });
  return entries;
}

struct ActionUser {
  ActionCredentials ids;
  std::string name;
};

Result<ActionUser> look_up_user(const std::string& name) {
  std::array<char, 4096> buffer{};
  passwd entry{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    return make_error(Errc::kNotFound, "the action user '" + name + "' does not exist");
  }
  if (found->pw_uid == 0) {
    return make_error(Errc::kInvalidArgument,
                      "the action user '" + name + "' is root: actions must not run as root");
  }
  return ActionUser{{found->pw_uid, found->pw_gid}, name};
}

// Hands every entry below the directory `fd` to uid/gid, without
// following symlinks. Consumes `fd`.
Status chown_below(int fd, const ActionCredentials& ids, int depth) {
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return base::os_error(errno, "sandbox: cannot read a directory of the action");
  }
  Status status;
  while (dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (::fchownat(::dirfd(dir), entry->d_name, ids.uid, ids.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      status = base::os_error(errno,
                              "sandbox: cannot hand " + std::string(name) + " to the action user");
      break;
    }
    if (entry->d_type != DT_DIR) continue;
    if (depth > 512) {
      status = make_error(Errc::kInvalidArgument, "sandbox: the action's tree is too deep");
      break;
    }
    const int child =
        ::openat(::dirfd(dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      status = base::os_error(errno, "sandbox: cannot open " + std::string(name));
      break;
    }
    if (status = chown_below(child, ids, depth + 1); !status.ok()) break;
  }
  ::closedir(dir);
  return status;
}

Result<base::UniqueFd> private_copy(int fd, const char* what) {
  base::UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, kFirstPrivateFd));
  if (!copy.valid()) return base::os_error(errno, std::string("sandbox: ") + what);
  return copy;
}

// Everything in the (non-blocking) pipe `fd` now.
std::string read_available(int fd) {
  std::string text;
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return text;
}

// bwrap's last complaint ("bwrap: ..."), or its whole stderr.
std::string bwrap_complaint(const std::string& err) {
  const std::size_t at = err.rfind("bwrap: ");
  std::string line = err.substr(at == std::string::npos ? 0 : at);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line.empty() ? "bwrap failed without a message" : line;
}

// kiln-run-as exits 127 (not found) or 126 (cannot be run) with
// "kiln-run-as: cannot run <program>: <why>" when it cannot start the
// command, and 125 when it could not change the user: those are not
// results.
std::optional<Error> run_as_failure(const RunOutcome& outcome, const std::string& program) {
  constexpr std::string_view kPrefix = "kiln-run-as: ";
  const std::string& err = outcome.stderr_data;
  if (outcome.exit_code < 125 || outcome.exit_code > 127 || err.rfind(kPrefix, 0) != 0) {
    return std::nullopt;
  }
  const std::string line = err.substr(0, err.find('\n'));
  const Errc code = outcome.exit_code == 127   ? Errc::kNotFound
                    : outcome.exit_code == 126 ? Errc::kPermissionDenied
                                               : Errc::kInternal;
  return Error{code,
               (code == Errc::kInternal ? std::string() : "cannot run " + program + ": ") + line};
}

// kiln-run-as: the one given, or next to this executable, or on `path`.
std::optional<std::string> find_run_as(const fs::path& given, std::string_view path) {
  if (!given.empty()) {
    if (base::is_executable_file(given.string())) return fs::absolute(given).string();
    return std::nullopt;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = self.parent_path() / "kiln-run-as";
    if (base::is_executable_file(beside.string())) return beside.string();
  }
  return base::find_program("kiln-run-as", {.path = path});
}

}  // namespace

std::string_view to_string(SandboxKind kind) {
  return kind == SandboxKind::kBubblewrap ? "bubblewrap" : "none";
}

std::optional<SandboxKind> parse_sandbox_kind(std::string_view text) {
  if (text == "bubblewrap") return SandboxKind::kBubblewrap;
  if (text == "none") return SandboxKind::kNone;
  return std::nullopt;
}

bool wants_network(const cas::Command& command) {
  return std::any_of(command.platform.begin(), command.platform.end(), [](const cas::Property& p) {
    return p.name == kNetworkProperty && p.value == kNetworkOn;
  });
}

Result<Sandbox> Sandbox::create(const SandboxSettings& settings) {
  Sandbox sandbox;
  sandbox.kind_ = settings.kind;
  sandbox.allow_network_ = settings.allow_network;
  if (::geteuid() == 0) {
    auto user = look_up_user(settings.action_user);
    if (!user.ok()) return user.error();
    auto run_as = find_run_as(settings.run_as_program, settings.search_path);
    if (!run_as) {
      return make_error(Errc::kUnavailable,
                        "kiln-run-as is not installed next to this program or on the PATH: it "
                        "runs actions as '" +
                            settings.action_user + "' when started as root");
    }
    sandbox.run_as_ = user->ids;
    sandbox.user_name_ = user->name;
    sandbox.run_as_program_ = *run_as;
  }
  if (settings.kind == SandboxKind::kNone) return sandbox;

  auto bwrap = base::find_program("bwrap", {.path = settings.search_path});
  if (!bwrap) {
    return make_error(Errc::kUnavailable,
                      "bubblewrap (bwrap) is not installed: apt-get install bubblewrap");
  }
  sandbox.bwrap_ = *bwrap;
  auto mounts = system_mounts(settings.read_only_paths);
  if (!mounts.ok()) return mounts.error();
  sandbox.system_ = std::move(*mounts);

  // The probe: `true` in a sandbox made as an action's would be.
  std::error_code ec;
  const fs::path scratch =
      settings.scratch.empty() ? fs::temp_directory_path(ec) : settings.scratch;
  fs::create_directories(scratch, ec);
  std::string templ = (scratch / "kiln-probe-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return base::os_error(errno, "sandbox probe: cannot create a directory in " + scratch.string());
  }
  const fs::path dir = templ;
  Status prepared = sandbox.prepare(dir);
  Result<RunOutcome> probe = make_error(Errc::kInternal, "not run");
  if (prepared.ok()) {
    probe = sandbox.run({.argv = {"true"},
                         .env = {"PATH=/usr/bin:/bin"},
                         .cwd = dir,
                         .timeout = std::chrono::seconds(30)},
                        dir, false);
  }
  fs::remove_all(dir, ec);
  if (!prepared.ok()) return prepared.error();
  if (!probe.ok()) {
    return make_error(Errc::kUnavailable,
                      "bubblewrap cannot make a sandbox here: " + probe.error().message);
  }
  if (probe->exit_code != 0) {
    return make_error(Errc::kUnavailable, "bubblewrap cannot make a sandbox here: `true` exited " +
                                              std::to_string(probe->exit_code) + ": " +
                                              bwrap_complaint(probe->stderr_data));
  }
  return sandbox;
}

std::string Sandbox::describe() const {
  std::string text(to_string(kind_));
  if (run_as_) text += " (actions as " + user_name_ + ")";
  return text;
}

bool wants_rootfs(const cas::Command& command) {
  return std::any_of(command.platform.begin(), command.platform.end(), [](const cas::Property& p) {
    return p.name == kInputRootProperty && p.value == kInputRootFilesystem;
  });
}

Status Sandbox::prepare_rootfs(const fs::path& tree,
                               const std::vector<std::string>& writable) const {
  for (const std::string& dir : writable) {
    if (auto s = prepare(tree / dir.substr(1)); !s.ok()) return s;
  }
  return {};
}

Status Sandbox::prepare(const fs::path& root) const {
  if (!run_as_) return {};
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return base::os_error(errno, "sandbox: cannot open " + root.string());
  if (::fchown(fd, run_as_->uid, run_as_->gid) != 0) {
    const int err = errno;
    ::close(fd);
    return base::os_error(err, "sandbox: cannot hand " + root.string() + " to the action user");
  }
  return chown_below(fd, *run_as_, 0);
}

Result<RunOutcome> Sandbox::run(const RunSpec& spec, const fs::path& root, bool network) const {
  if (network && !allow_network_) {
    return make_error(Errc::kPermissionDenied,
                      "the action asks for the network (platform network=on), which this "
                      "executor does not allow");
  }
  if (kind_ == SandboxKind::kNone) {
    if (!run_as_) return run_command(spec);
    RunSpec as_user = spec;
    as_user.argv = run_as_argv(run_as_program_, *run_as_);
    as_user.argv.insert(as_user.argv.end(), spec.argv.begin(), spec.argv.end());
    auto outcome = run_command(as_user);
    if (!outcome.ok()) return outcome;
    if (auto failed = run_as_failure(*outcome, spec.argv.front())) return *failed;
    return outcome;
  }

  const int opened = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (opened < 0) return base::os_error(errno, "sandbox: cannot open " + root.string());
  const base::UniqueFd root_opened(opened);
  auto root_fd = private_copy(root_opened.get(), "cannot keep the action directory open");
  if (!root_fd.ok()) return root_fd.error();

  BubblewrapCall call = make_call(spec, root, network);
  call.system = system_;
  call.root_fd = kRootFd;
  RunSpec wrapped = spec;
  return run_call(call, spec, std::move(wrapped), *root_fd);
}

BubblewrapCall Sandbox::make_call(const RunSpec& spec, const fs::path& root, bool network) const {
  BubblewrapCall call;
  call.bwrap = bwrap_;
  call.run_as_program = run_as_program_;
  call.run_as = run_as_;
  call.root = root.lexically_normal().string();
  while (call.root.size() > 1 && call.root.back() == '/') call.root.pop_back();
  call.status_fd = kStatusFd;
  call.cwd = spec.cwd.lexically_normal().string();
  while (call.cwd.size() > 1 && call.cwd.back() == '/') call.cwd.pop_back();
  call.network = network;
  call.argv = spec.argv;
  return call;
}

Result<RunOutcome> Sandbox::run_rootfs(const RunSpec& spec, const fs::path& tree,
                                       const std::vector<std::string>& writable,
                                       bool network) const {
  if (network && !allow_network_) {
    return make_error(Errc::kPermissionDenied,
                      "the action asks for the network (platform network=on), which this "
                      "executor does not allow");
  }
  if (kind_ != SandboxKind::kBubblewrap) {
    return make_error(Errc::kUnavailable,
                      "the action's input root is its whole file system (platform "
                      "input-root=filesystem), which needs the bubblewrap sandbox");
  }
  BubblewrapCall call = make_call(spec, tree, network);
  call.rootfs = true;
  call.rootfs_writable = writable;
  auto top = rootfs_top(tree);
  if (!top.ok()) return top.error();
  call.rootfs_top = std::move(top).value();
  // bwrap starts in the tree (the sandbox's cwd exists only inside).
  RunSpec wrapped = spec;
  wrapped.cwd = tree;
  return run_call(call, spec, std::move(wrapped), base::UniqueFd());
}

Result<RunOutcome> Sandbox::run_call(const BubblewrapCall& call, const RunSpec& spec,
                                     RunSpec wrapped, const base::UniqueFd& root_fd) const {
  if (std::string problem = check_bubblewrap_call(call); !problem.empty()) {
    return make_error(Errc::kInvalidArgument, "sandbox: " + problem);
  }
  std::array<int, 2> pipe_fds{};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
    return base::os_error(errno, "sandbox: pipe");
  }
  const base::UniqueFd status_read(pipe_fds[0]);
  base::UniqueFd status_write_low(pipe_fds[1]);
  auto status_write = private_copy(status_write_low.get(), "cannot make the status pipe");
  if (!status_write.ok()) return status_write.error();
  status_write_low.reset();
  wrapped.argv = bubblewrap_argv(call);
  wrapped.inherit_fds = {{status_write->get(), kStatusFd}};
  if (root_fd.valid()) wrapped.inherit_fds.push_back({root_fd.get(), kRootFd});
  auto outcome = run_command(wrapped);
  status_write->reset();
  if (!outcome.ok()) return outcome.error();
  if (outcome->timed_out || outcome->cancelled) return outcome;
  if (run_as_) {
    if (auto failed = run_as_failure(*outcome, spec.argv.front())) return *failed;
  }
  const auto exit_code = bubblewrap_exit_code(read_available(status_read.get()));
  if (!exit_code) {
    const std::string why = bwrap_complaint(outcome->stderr_data);
    const bool not_found = why.find("execvp") != std::string::npos;
    return make_error(not_found ? Errc::kNotFound : Errc::kUnavailable,
                      (not_found ? "cannot run " + spec.argv.front() + " in the sandbox: "
                                 : std::string("cannot set the sandbox up: ")) +
                          why);
  }
  outcome->exit_code = *exit_code;
  outcome->signal = *exit_code > 128 && *exit_code < 128 + 65 ? *exit_code - 128 : 0;
  return outcome;
}

}  // namespace kiln::exec
