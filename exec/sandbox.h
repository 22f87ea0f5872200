// Where an action's command runs: straight in its directory (kNone, the
// directory executor) or inside a bubblewrap sandbox (kBubblewrap; what it
// shows and hides is in sandbox_args.h, the threat model in
// docs/security.md). The executor hands every command to a Sandbox and
// knows nothing else of namespaces.
//
// A Sandbox is made once per process (worker, or client without a grid),
// probed by running one command in it, and then shared read-only by every
// slot thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/program_path.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "cas/model.h"
#include "exec/runner.h"
#include "exec/sandbox_args.h"

namespace kiln::exec {

enum class SandboxKind { kNone, kBubblewrap };

// "none" / "bubblewrap".
std::string_view to_string(SandboxKind kind);
std::optional<SandboxKind> parse_sandbox_kind(std::string_view text);

// The platform property an action sets to be given the network
// (network=on), and the one a worker advertises when it gives it.
inline constexpr std::string_view kNetworkProperty = "network";
inline constexpr std::string_view kNetworkOn = "on";
// The platform property a worker advertises with its sandbox's kind, so an
// action may require sandbox=bubblewrap.
inline constexpr std::string_view kSandboxProperty = "sandbox";
// input-root=filesystem: the action's input root is its whole file system,
// its files at their absolute paths ("usr/bin/g++" is /usr/bin/g++), with
// nothing of the worker's own (the hermetic remote compile: the toolchain
// and every header shipped, docs/launcher.md). Workers with the bubblewrap
// sandbox advertise it; its working directory and outputs are paths in
// that file system.
inline constexpr std::string_view kInputRootProperty = "input-root";
inline constexpr std::string_view kInputRootFilesystem = "filesystem";

// Whether the Command asks for input-root=filesystem.
bool wants_rootfs(const cas::Command& command);

// Whether the Command asks for the network (platform network=on).
bool wants_network(const cas::Command& command);

struct SandboxSettings {
  SandboxKind kind = SandboxKind::kBubblewrap;
  // Host paths shown read-only besides the system directories (a compiler
  // under /srv, say). Absolute; bwrap opens them as the action's user.
  std::vector<std::filesystem::path> read_only_paths{};
  // When this process runs as root, actions run as this user instead
  // (its uid and primary gid). Ignored for any other user: actions then
  // run as that user.
  std::string action_user = "nobody";
  // Whether an action that asks for the network (network=on) gets it;
  // without, such an action is refused.
  bool allow_network = true;
  // Where the probe makes its scratch directory.
  std::filesystem::path scratch{};
  // Where bwrap is looked for (the process's PATH, say), and kiln-run-as
  // when it is not next to this executable.
  std::string search_path{base::kDefaultPath};
  // kiln-run-as, which starts actions as action_user when this process
  // runs as root; empty: next to this executable, else on search_path.
  std::filesystem::path run_as_program{};
};

class Sandbox {
 public:
  // A sandbox of settings.kind. Running as root: looks up the action user
  // and finds kiln-run-as (kUnavailable without it). For kBubblewrap: finds
  // bwrap on settings.search_path, looks up the action user,
  // and runs `true` in a sandbox as an action would be run. Fails with
  // kUnavailable when bubblewrap is missing or cannot work here (no user
  // namespaces, say: the message is bwrap's), kNotFound when the action
  // user does not exist, kInvalidArgument for a relative read-only path.
  static Result<Sandbox> create(const SandboxSettings& settings);

  SandboxKind kind() const { return kind_; }
  bool allows_network() const { return allow_network_; }
  // For people and `kiln status`: "bubblewrap (actions as nobody)", "none".
  std::string describe() const;

  // Makes the action's directory `root` (just materialized) ready for the
  // command: with another action user, hands every file in it to that
  // user. Errors: kIo.
  Status prepare(const std::filesystem::path& root) const;

  // Runs `spec` (its cwd at or under `root`) in the sandbox, with the
  // network when `network`. Errors as run_command's, and: kPermissionDenied
  // when the network is asked for and not allowed; kNotFound when the
  // program is not found in the sandbox; kUnavailable when bubblewrap
  // could not set the sandbox up (bwrap's message). A command that runs and
  // fails is an outcome; a signal shows as exit code 128 + signal.
  Result<RunOutcome> run(const RunSpec& spec, const std::filesystem::path& root,
                         bool network) const;

  // Rootfs mode (kInputRootProperty): `tree` (materialized, its files
  // read-only) is the command's whole file system, read-only but for
  // `writable` (absolute paths in it, existing directories). spec.cwd is a
  // path in that file system. kUnavailable without bubblewrap; otherwise
  // as run().
  Status prepare_rootfs(const std::filesystem::path& tree,
                        const std::vector<std::string>& writable) const;
  Result<RunOutcome> run_rootfs(const RunSpec& spec, const std::filesystem::path& tree,
                                const std::vector<std::string>& writable, bool network) const;

 private:
  Sandbox() = default;
  BubblewrapCall make_call(const RunSpec& spec, const std::filesystem::path& root,
                           bool network) const;
  Result<RunOutcome> run_call(const BubblewrapCall& call, const RunSpec& spec, RunSpec wrapped,
                              const base::UniqueFd& root_fd) const;
  SandboxKind kind_ = SandboxKind::kNone;
  bool allow_network_ = true;
  std::string bwrap_;
  std::string run_as_program_;
  std::optional<ActionCredentials> run_as_;
  std::string user_name_;
  std::vector<SystemMount> system_;
};

}  // namespace kiln::exec
