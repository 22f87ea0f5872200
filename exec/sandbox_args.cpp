// bubblewrap_argv(): see sandbox_args.h. The order of bwrap's options is
// the order it performs them in: the system mounts first, then the
// private /dev, /proc and temporary directories, and the action's root
// last, so that a root below /tmp is mounted over the private /tmp rather
// than hidden by it.
#include "exec/sandbox_args.h"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace kiln::exec {
namespace {

constexpr std::string_view kExitCodeKey = "\"exit-code\"";

bool is_absolute_normal(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  // No "." or ".." component and no empty component but the leading one.
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part == "." || part == "..") return false;
    if (part.empty() && end != path.size()) return false;
    start = end + 1;
  }
  return true;
}

void append_system_and_root(const BubblewrapCall& call, std::vector<std::string>& argv);
void append_rootfs(const BubblewrapCall& call, std::vector<std::string>& argv);

}  // namespace

bool path_within(std::string_view path, std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (dir == "/") return !path.empty() && path.front() == '/';
  if (path.size() < dir.size() || path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

std::vector<std::string> run_as_argv(std::string_view program, const ActionCredentials& user) {
  return {std::string(program), std::to_string(user.uid), std::to_string(user.gid), "--"};
}

namespace {

std::string check_rootfs_call(const BubblewrapCall& call) {
  if (call.status_fd < 0) return "missing descriptors";
  if (!is_absolute_normal(call.root) || call.root == "/") {
    return "the action's tree '" + call.root + "' is not an absolute path below /";
  }
  if (!is_absolute_normal(call.cwd)) {
    return "the working directory '" + call.cwd + "' is not an absolute path";
  }
  for (const RootfsEntry& entry : call.rootfs_top) {
    const std::string path = "/" + entry.path;
    if (entry.path.empty() || !is_absolute_normal(path)) {
      return "the tree's entry '" + entry.path + "' is not a normalized relative path";
    }
    for (std::string_view made : {"/dev", "/proc", "/tmp"}) {
      if (path_within(path, made) && (made != "/tmp" || path == made)) {
        return "the action's tree holds " + path + ", which the sandbox makes itself";
      }
    }
  }
  for (const std::string& dir : call.rootfs_writable) {
    if (!is_absolute_normal(dir) || dir == "/") {
      return "the output directory '" + dir + "' is not an absolute path below /";
    }
  }
  return "";
}

}  // namespace

std::string check_bubblewrap_call(const BubblewrapCall& call) {
  if (call.bwrap.empty()) return "no bwrap program";
  if (call.run_as && (call.run_as_program.empty() || call.run_as_program.front() != '/')) {
    return "no kiln-run-as to change the user with";
  }
  if (call.argv.empty()) return "empty command";
  if (call.rootfs) return check_rootfs_call(call);
  if (call.root_fd < 0 || call.status_fd < 0) return "missing descriptors";
  if (!is_absolute_normal(call.root) || call.root == "/") {
    return "the action directory '" + call.root + "' is not an absolute path below /";
  }
  if (!is_absolute_normal(call.cwd) || !path_within(call.cwd, call.root)) {
    return "the working directory '" + call.cwd + "' is not inside the action directory";
  }
  for (const SystemMount& mount : call.system) {
    if (path_within(call.root, mount.path)) {
      return "the action directory " + call.root + " is inside " + mount.path +
             ", which the sandbox shows read-only: choose a work directory elsewhere";
    }
  }
  return "";
}

std::vector<std::string> bubblewrap_argv(const BubblewrapCall& call) {
  std::vector<std::string> argv{call.bwrap};
  if (!call.run_as) argv.emplace_back("--unshare-user");
  argv.insert(argv.end(),
              {"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"});
  if (!call.network) argv.emplace_back("--unshare-net");
  argv.insert(argv.end(), {"--hostname", "kiln", "--die-with-parent", "--new-session"});
  if (call.rootfs) {
    append_rootfs(call, argv);
  } else {
    append_system_and_root(call, argv);
  }
  if (call.run_as) {
    argv.insert(argv.end(), {"--ro-bind", call.run_as_program, std::string(kRunAsPath)});
  }
  argv.insert(argv.end(), {"--remount-ro", "/", "--chdir", call.cwd, "--json-status-fd",
                           std::to_string(call.status_fd), "--"});
  if (call.run_as) {
    const std::vector<std::string> as_user = run_as_argv(kRunAsPath, *call.run_as);
    argv.insert(argv.end(), as_user.begin(), as_user.end());
  }
  argv.insert(argv.end(), call.argv.begin(), call.argv.end());
  return argv;
}

namespace {

void append_system_and_root(const BubblewrapCall& call, std::vector<std::string>& argv) {
  for (const SystemMount& mount : call.system) {
    if (mount.kind == SystemMount::Kind::kSymlink) {
      argv.insert(argv.end(), {"--symlink", mount.target, mount.path});
    } else {
      argv.insert(argv.end(), {"--ro-bind", mount.path, mount.path});
    }
  }
  argv.insert(argv.end(), {"--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp",
                           "--perms", "1777", "--tmpfs", "/var/tmp"});
  // The directories above the root, searchable, so that the action can
  // reach its own files by their absolute paths (bwrap would make them
  // private to root).
  for (std::size_t slash = call.root.find('/', 1); slash != std::string::npos;
       slash = call.root.find('/', slash + 1)) {
    argv.insert(argv.end(), {"--perms", "0755", "--dir", call.root.substr(0, slash)});
  }
  // The root itself (bwrap's scaffolding) read-only: besides the private
  // temporary directories, the action's directory is the one it can write.
  argv.insert(argv.end(), {"--bind-fd", std::to_string(call.root_fd), call.root});
}

// The tree's top level read-only over bwrap's empty root, the private
// /dev, /proc and /tmp first (entries below "tmp" land on the private one),
// and the outputs' directories read-write last, over the read-only tree.
void append_rootfs(const BubblewrapCall& call, std::vector<std::string>& argv) {
  argv.insert(argv.end(),
              {"--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"});
  for (const RootfsEntry& entry : call.rootfs_top) {
    if (!entry.symlink_target.empty()) {
      argv.insert(argv.end(), {"--symlink", entry.symlink_target, "/" + entry.path});
    } else {
      argv.insert(argv.end(), {"--ro-bind", call.root + "/" + entry.path, "/" + entry.path});
    }
  }
  for (const std::string& dir : call.rootfs_writable) {
    argv.insert(argv.end(), {"--bind", call.root + dir, dir});
  }
}

}  // namespace

std::optional<int> bubblewrap_exit_code(std::string_view status_lines) {
  const std::size_t key = status_lines.rfind(kExitCodeKey);
  if (key == std::string_view::npos) return std::nullopt;
  std::string_view rest = status_lines.substr(key + kExitCodeKey.size());
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == ':')) rest.remove_prefix(1);
  int code = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), code);
  if (ec != std::errc() || end == rest.data()) return std::nullopt;
  return code;
}

}  // namespace kiln::exec
