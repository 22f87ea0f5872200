// execute(): see executor.h. Output paths are opened with openat2 and
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS relative to the sandbox, so neither
// ".." nor a symlink planted by the action can make the worker read (and
// upload) a file outside it.
#include "exec/executor.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "base/unique_fd.h"
#include "cas/put_tree.h"
#include "cas/tree.h"
#include "exec/runner.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

template <typename T>
Result<T> prefix(Result<T> result, const std::string& what) {
  if (result.ok()) return result;
  return make_error(result.error().code, what + ": " + result.error().message);
}

// An action's directory, which removes itself.
class ActionDir {
 public:
  static Result<ActionDir> create(const fs::path& root, bool keep) {
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return make_error(Errc::kIo, "cannot create " + root.string() + ": " + ec.message());
    std::string templ = (root / "action-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      return make_error(Errc::kIo, "cannot create an action directory in " + root.string() + ": " +
                                       std::strerror(errno));
    }
    return ActionDir(templ, keep);
  }
  ActionDir(ActionDir&& other) noexcept : dir_(std::move(other.dir_)), keep_(other.keep_) {
    other.dir_.clear();
  }
  ActionDir& operator=(ActionDir&&) = delete;
  ActionDir(const ActionDir&) = delete;
  ActionDir& operator=(const ActionDir&) = delete;
  ~ActionDir() {
    if (dir_.empty() || keep_) return;
    std::error_code ec;
    make_writable(dir_);
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

 private:
  ActionDir(fs::path dir, bool keep) : dir_(std::move(dir)), keep_(keep) {}
  // An action may leave read-only directories behind; remove_all needs w+x.
  static void make_writable(const fs::path& dir) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
      }
    }
  }
  fs::path dir_;
  bool keep_;
};

// Opens `relative` beneath `root_fd`, refusing "..", absolute paths and any
// symlink on the way. Returns -1 with errno set on failure.
int open_beneath(int root_fd, const std::string& relative, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how));
}

// mkdir -p of the parent directories of a declared output, beneath root.
Status make_parents(const fs::path& root, const std::string& output) {
  const fs::path parent = fs::path(output).parent_path();
  if (parent.empty()) return {};
  std::error_code ec;
  fs::create_directories(root / parent, ec);
  if (ec)
    return make_error(Errc::kIo, "cannot create parent of output " + output + ": " + ec.message());
  return {};
}

// The placeholder a rootfs tree's base directory is named by (wire.capnp
// ExecuteRequest.baseDir).
constexpr std::string_view kBaseName = ".kiln-base";
constexpr std::string_view kBasePath = "/.kiln-base";

// `text` with every "/.kiln-base" that ends a path component ("/", "=",
// ":" or the end follows) replaced by `to`.
std::string relocate_text(std::string_view text, std::string_view to) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = text.find(kBasePath); at != std::string_view::npos;
       at = text.find(kBasePath, at + 1)) {
    const std::size_t end = at + kBasePath.size();
    if (end < text.size() && text[end] != '/' && text[end] != '=' && text[end] != ':') continue;
    out.append(text.substr(from, at - from));
    out.append(to);
    from = end;
  }
  out.append(text.substr(from));
  return out;
}

// Moves the tree's ".kiln-base" to `base` inside the tree (creating its
// parents, refusing any symlink on the way). False when the tree has none.
Result<bool> relocate_base(const fs::path& root, const std::string& base) {
  if (!cas::is_normal_absolute_path(base) || path_within(base, "/dev") ||
      path_within(base, "/proc") || base == "/tmp" || path_within(base, kBasePath) ||
      path_within(base, "/.kiln-out")) {
    return make_error(Errc::kInvalidArgument,
                      "baseDir '" + base + "' is not an absolute, normalized path for a checkout");
  }
  base::UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_fd.valid()) return make_error(Errc::kIo, "cannot open the action's tree");
  struct stat st {};
  if (::fstatat(root_fd.get(), std::string(kBaseName).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISDIR(st.st_mode)) {
    return false;
  }
  base::UniqueFd dir(::fcntl(root_fd.get(), F_DUPFD_CLOEXEC, 0));
  const fs::path target(base.substr(1));
  std::vector<std::string> parts;
  for (const auto& part : target) parts.push_back(part.string());
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (::mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
      return make_error(Errc::kIo,
                        "cannot make " + base + " in the action's tree: " + std::strerror(errno));
    }
    base::UniqueFd next(
        ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      return make_error(Errc::kInvalidArgument,
                        "baseDir " + base + " passes through a symlink or a file of the tree");
    }
    dir = std::move(next);
  }
  if (::renameat2(root_fd.get(), std::string(kBaseName).c_str(), dir.get(), parts.back().c_str(),
                  RENAME_NOREPLACE) != 0) {
    return make_error(
        Errc::kInvalidArgument,
        "baseDir " + base + " is taken in the action's tree: " + std::strerror(errno));
  }
  return true;
}

// The directories a rootfs action may write, as absolute paths in its
// file system: the parents of its outputs (an output directory itself),
// without duplicates or one inside another.
Result<std::vector<std::string>> writable_dirs(const cas::Command& command) {
  std::vector<std::string> dirs;
  for (const auto& output : command.output_files) {
    const std::string parent = fs::path(output).parent_path().string();
    if (parent.empty()) {
      return make_error(Errc::kInvalidArgument,
                        "output " + output + " would be at the root of the action's file system");
    }
    dirs.push_back("/" + parent);
  }
  for (const auto& output : command.output_directories) dirs.push_back("/" + output);
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  std::vector<std::string> outer;
  for (const std::string& dir : dirs) {
    if (outer.empty() || !path_within(dir, outer.back())) outer.push_back(dir);
  }
  return outer;
}

struct Collector {
  cas::Store& store;
  int root_fd;
  const fs::path& root;
  Execution& execution;

  // The declared output `path` opened beneath the root: nullopt when it
  // was not produced (then it is listed as missing), an error when it is
  // outside the root or behind a symlink.
  Result<std::optional<base::UniqueFd>> open_output(const std::string& path, int flags,
                                                    const char* what) {
    base::UniqueFd fd(open_beneath(root_fd, path, flags));
    const int err = errno;
    if (fd.valid()) return std::optional<base::UniqueFd>(std::move(fd));
    if (err == ENOENT) {
      execution.missing_outputs.push_back(path);
      return std::optional<base::UniqueFd>();
    }
    return make_error(
        Errc::kInvalidArgument,
        std::string(what) + " " + path +
            " is outside the action's directory or behind a symlink: " + std::strerror(err));
  }

  Status file(const std::string& path) {
    auto opened = open_output(path, O_RDONLY, "output");
    if (!opened.ok()) return opened.error();
    if (!*opened) return {};
    const int fd = (*opened)->get();
    struct stat st {};
    ::fstat(fd, &st);
    if (!S_ISREG(st.st_mode)) {
      return make_error(Errc::kInvalidArgument, "output " + path + " is not a regular file");
    }
    auto digest = store.put_file("/proc/self/fd/" + std::to_string(fd));
    if (!digest.ok())
      return make_error(digest.error().code, "output " + path + ": " + digest.error().message);
    execution.result.output_files.push_back(
        cas::OutputFile{path, *digest, (st.st_mode & S_IXUSR) != 0});
    execution.referenced.push_back(*digest);
    return {};
  }

  Status directory(const std::string& path) {
    auto opened = open_output(path, O_RDONLY | O_DIRECTORY, "output directory");
    if (!opened.ok()) return opened.error();
    if (!*opened) return {};
    // The tree's file paths go through the descriptor, which stays open
    // until every file is stored.
    return store_tree((*opened)->get(), path);
  }

  Status store_tree(int fd, const std::string& path) {
    auto tree = cas::build_tree("/proc/self/fd/" + std::to_string(fd), store.digest_function());
    if (!tree.ok())
      return make_error(tree.error().code,
                        "output directory " + path + ": " + tree.error().message);
    auto stored = cas::put_tree(store, *tree);
    if (!stored.ok()) {
      return make_error(stored.error().code,
                        "output directory " + path + ": " + stored.error().message);
    }
    execution.referenced.insert(execution.referenced.end(), stored->blobs.begin(),
                                stored->blobs.end());
    execution.result.output_directories.push_back(cas::OutputDirectory{path, tree->root});
    return {};
  }
};

// Holds the caller's store mutex, if it gave one.
std::unique_lock<std::mutex> lock_store(const ExecutorOptions& options) {
  if (options.store_mutex == nullptr) return {};
  return std::unique_lock<std::mutex>(*options.store_mutex);
}

}  // namespace

Result<Execution> execute(cas::Store& store, const cas::Action& action,
                          const ExecutorOptions& options, std::uint64_t queued_us) {
  Execution execution;
  cas::ExecutionMetadata& meta = execution.result.metadata;
  meta.worker_id = options.worker_id;
  meta.queued_us = queued_us;
  meta.worker_start_us = now_us();

  std::unique_lock<std::mutex> store_lock = lock_store(options);
  auto command_bytes = store.get(action.command_digest);
  if (!command_bytes.ok()) return command_bytes.error();
  if (!command_bytes->has_value()) {
    return make_error(Errc::kNotFound,
                      "command " + action.command_digest.to_string() + " is not in the store");
  }
  const std::string& cb = **command_bytes;
  auto command =
      prefix(cas::decode_command(std::as_bytes(std::span(cb.data(), cb.size()))), "command");
  if (!command.ok()) return command.error();
  if (command->arguments.empty())
    return make_error(Errc::kInvalidArgument, "command has no arguments");

  auto action_dir = ActionDir::create(options.work_root, options.keep_sandbox);
  if (!action_dir.ok()) return action_dir.error();
  const fs::path& root = action_dir->dir();

  const bool rootfs = wants_rootfs(*command);
  if (rootfs &&
      (options.sandbox == nullptr || options.sandbox->kind() != SandboxKind::kBubblewrap)) {
    return make_error(Errc::kInvalidArgument,
                      "the action's input root is its whole file system (platform "
                      "input-root=filesystem), which needs the bubblewrap sandbox");
  }
  meta.input_fetch_start_us = now_us();
  std::unique_ptr<cas::BlobSource> linking;
  if (rootfs && options.file_cache != nullptr) linking = options.file_cache->linking(store);
  if (auto s = cas::materialize_tree(linking ? *linking : store, action.input_root_digest, root);
      !s.ok()) {
    return make_error(s.error().code, "input root: " + s.error().message);
  }
  meta.input_fetch_end_us = now_us();
  store_lock = {};

  // A checkout keyed relative to its base directory goes back to the
  // client's path, and so do the command's paths.
  if (rootfs && !options.base_dir.empty()) {
    auto moved = relocate_base(root, options.base_dir);
    if (!moved.ok()) return moved.error();
    if (*moved) {
      for (std::string& arg : command->arguments) arg = relocate_text(arg, options.base_dir);
      for (cas::Property& variable : command->environment) {
        variable.value = relocate_text(variable.value, options.base_dir);
      }
      command->working_directory =
          relocate_text("/" + command->working_directory, options.base_dir).substr(1);
    }
  }
  for (const auto& output : command->output_files) {
    if (auto s = make_parents(root, output); !s.ok()) return s.error();
  }
  for (const auto& output : command->output_directories) {
    if (auto s = make_parents(root, output); !s.ok()) return s.error();
  }
  // In a rootfs tree the outputs' directories are shown read-write: they
  // must hold no file linked from the cache.
  std::vector<std::string> writable;
  if (rootfs) {
    auto dirs = writable_dirs(*command);
    if (!dirs.ok()) return dirs.error();
    writable = std::move(dirs).value();
    for (const std::string& dir : writable) {
      if (auto s = unshare_links(root / dir.substr(1)); !s.ok()) return s.error();
    }
  }

  RunSpec spec;
  spec.argv = command->arguments;
  for (const auto& variable : command->environment)
    spec.env.push_back(variable.name + "=" + variable.value);
  spec.cwd = rootfs                               ? fs::path("/" + command->working_directory)
             : command->working_directory.empty() ? root
                                                  : root / command->working_directory;
  spec.timeout = action.timeout_ms != 0 ? std::chrono::milliseconds(action.timeout_ms)
                                        : options.default_timeout;
  spec.output_cap = options.output_cap;
  spec.cancel_fd = options.cancel_fd;

  Result<RunOutcome> outcome = make_error(Errc::kInternal, "not run");
  if (options.sandbox != nullptr) {
    auto prepared =
        rootfs ? options.sandbox->prepare_rootfs(root, writable) : options.sandbox->prepare(root);
    if (!prepared.ok()) return prepared.error();
  }
  meta.execution_start_us = now_us();
  if (rootfs) {
    outcome = options.sandbox->run_rootfs(spec, root, writable, wants_network(*command));
  } else {
    outcome = options.sandbox != nullptr ? options.sandbox->run(spec, root, wants_network(*command))
                                         : run_command(spec);
  }
  meta.execution_end_us = now_us();
  if (!outcome.ok()) return outcome.error();
  execution.timed_out = outcome->timed_out;
  execution.result.exit_code = outcome->exit_code;
  if (outcome->cancelled) {
    execution.cancelled = true;
    meta.worker_end_us = now_us();
    return execution;
  }

  meta.output_upload_start_us = now_us();
  store_lock = lock_store(options);
  const int root_fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return make_error(Errc::kIo, "cannot open sandbox: " + std::string(std::strerror(errno)));
  Collector collector{store, root_fd, root, execution};
  Status collected;
  for (const auto& output : command->output_files) {
    if (collected = collector.file(output); !collected.ok()) break;
  }
  for (const auto& output : command->output_directories) {
    if (!collected.ok()) break;
    collected = collector.directory(output);
  }
  ::close(root_fd);
  if (!collected.ok()) return collected.error();

  auto out_digest = store.put(outcome->stdout_data);
  if (!out_digest.ok()) return out_digest.error();
  auto err_digest = store.put(outcome->stderr_data);
  if (!err_digest.ok()) return err_digest.error();
  execution.result.stdout_digest = *out_digest;
  execution.result.stderr_digest = *err_digest;
  execution.referenced.push_back(*out_digest);
  execution.referenced.push_back(*err_digest);
  meta.output_upload_end_us = now_us();
  meta.worker_end_us = now_us();
  return execution;
}

bool cacheable(const cas::Action& action, const Execution& execution) {
  return !execution.cancelled && cas::worth_caching(action, execution.result, execution.timed_out,
                                                    execution.missing_outputs.empty());
}

}  // namespace kiln::exec
