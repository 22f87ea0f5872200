// The bubblewrap command line that runs one action in its own namespaces:
// pure (no file, process or environment access), so what the sandbox shows
// an action and what it hides is decided here and tested without running
// anything. exec/sandbox.h gathers the facts (where bwrap is, which system
// directories exist, which user runs actions) and runs the result.
//
// What an action sees (docs/security.md, "The sandbox"):
//   - new PID, IPC, UTS, mount and cgroup namespaces, and a new network
//     namespace (only a loopback device) unless the action asks for the
//     network and the executor allows it;
//   - the system directories read-only (`system`), nothing else of the host:
//     no /home, /root, /var, /run, /sys, and not the worker's store or the
//     other actions' directories;
//   - its own directory, the one writable tree, at its real path (bwrap
//     binds it from an inherited descriptor);
//   - a fresh /dev (null, zero, random, tty, shm), /proc of its own PID
//     namespace, a private /tmp and /var/tmp;
//   - hostname "kiln", so outputs that record it are the same everywhere.
// bwrap's own init is PID 1 of the namespace: when the command exits, the
// namespace and every process left in it are killed. --die-with-parent
// kills it all when bwrap is killed (a timeout, a cancelled lease).
//
// Who the action is:
//   - started by an ordinary user, bwrap makes a new user namespace and the
//     action runs as that user, with no capabilities;
//   - started by root (`run_as`), bwrap does its mounts with root's
//     privileges and no user namespace (a user namespace made by root maps
//     the action to root's own uid, which still owns the host's files), and
//     the command is started through kiln-run-as (exec/run_as_main.cpp,
//     bound read-only at kRunAsPath), which takes the action user's real
//     uid and gid, clears the supplementary groups and drops every
//     capability, bounding set included. The action directory must then
//     belong to that user (Sandbox::prepare).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::exec {

// One piece of the host shown in the sandbox, read-only.
struct SystemMount {
  enum class Kind {
    kReadOnlyBind,  // bind `path` read-only at the same path
    kSymlink,       // `path` is a symlink to `target` (merged /usr: /bin -> usr/bin)
  };
  Kind kind = Kind::kReadOnlyBind;
  std::string path;    // absolute
  std::string target;  // kSymlink only
};

// Who runs the action when it is not the caller.
struct ActionCredentials {
  unsigned uid = 0;
  unsigned gid = 0;
};

// One entry of an action's own file system (rootfs mode): `path` relative
// to the tree's directory on the host ("usr", "tmp/proj"), shown at "/" +
// path, read-only; a symlink is recreated with its target instead.
struct RootfsEntry {
  std::string path;
  std::string symlink_target;  // empty: bind the directory or file
};

// Where kiln-run-as appears inside the sandbox.
inline constexpr std::string_view kRunAsPath = "/.kiln/run-as";

struct BubblewrapCall {
  std::string bwrap;           // the program, absolute
  std::string run_as_program;  // kiln-run-as on the host, absolute; used only with run_as
  std::optional<ActionCredentials> run_as;
  std::vector<SystemMount> system;
  std::string root;               // the action's directory, absolute
  int root_fd = -1;               // a descriptor of `root` that the child inherits
  int status_fd = -1;             // where bwrap writes its JSON status lines
  std::string cwd;                // absolute, at or under root
  bool network = false;           // share the host's network
  std::vector<std::string> argv;  // the command; argv[0] is looked up in its PATH

  // Rootfs mode (an action whose input root is its whole file system,
  // platform input-root=filesystem): no system directory and not `root`
  // itself is shown, but `rootfs_top` (the tree's top level, and the
  // children of its "tmp", which lands on the private /tmp) read-only and
  // `rootfs_writable` (absolute sandbox paths, the outputs' directories)
  // read-write, both from `root` (the tree on the host). `cwd` is then a
  // sandbox path; `root_fd` is not used.
  bool rootfs = false;
  std::vector<RootfsEntry> rootfs_top;
  std::vector<std::string> rootfs_writable;
};

// The full argv, bwrap's first. The caller must have checked
// the call with check_bubblewrap_call().
std::vector<std::string> bubblewrap_argv(const BubblewrapCall& call);

// The argv of kiln-run-as at `program` (up to its "--") that starts a
// command as `user` with no supplementary groups and no capabilities.
std::vector<std::string> run_as_argv(std::string_view program, const ActionCredentials& user);

// Why `call` cannot work, or "" when it can: a relative root or cwd, a cwd
// outside the root, a root that is "/" or inside a system mount (it would
// be hidden or read-only), an empty command, missing descriptors, no
// kiln-run-as to change the user with; in rootfs mode, an entry for /dev,
// /proc or /tmp itself (the sandbox makes those), a path that is not
// normalized, a writable directory that is "/" or not absolute, a cwd that
// is not absolute.
std::string check_bubblewrap_call(const BubblewrapCall& call);

// What bwrap reported on its --json-status-fd: the command's exit code,
// when the command ran to its end. bwrap writes {"exit-code": N} when the
// command it started exits (N = 128 + signal for a signal); nothing when it
// could not set the sandbox up or start the command.
std::optional<int> bubblewrap_exit_code(std::string_view status_lines);

// Whether `path` (absolute, normalized) is `dir` or below it.
bool path_within(std::string_view path, std::string_view dir);

}  // namespace kiln::exec
