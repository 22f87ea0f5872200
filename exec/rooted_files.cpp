// rooted_files.h: host paths resolved component by component, as the
// kernel does, with every step that must be reproduced recorded.
#include "exec/rooted_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/os_error.h"

namespace kiln::exec {
namespace {

// The kernel gives up with ELOOP after 40 symlinks in one resolution.
constexpr int kMaxSymlinks = 40;

// Pushes the components of `path` on `stack`, the first on top. A trailing
// '/' adds a "." (what precedes it must be a directory).
void push_components(std::string_view path, std::vector<std::string>& stack) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (!parts.empty() && path.back() == '/') parts.emplace_back(".");
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) stack.emplace_back(*it);
}

// "/a/b" -> "/a", "/a" -> "/".
std::string parent_of(const std::string& dir) {
  const std::size_t slash = dir.rfind('/');
  return slash == 0 ? std::string("/") : dir.substr(0, slash);
}

std::string join(const std::string& dir, std::string_view name) {
  std::string path = dir;
  if (path.back() != '/') path += '/';
  path += name;
  return path;
}

std::string quoted(std::string_view path) { return "'" + std::string(path) + "'"; }

RootedEntry entry(RootedEntry::Kind kind, std::string path, std::string target = {},
                  bool executable = false) {
  RootedEntry made;
  made.kind = kind;
  made.path = std::move(path);
  made.target = std::move(target);
  made.executable = executable;
  return made;
}

}  // namespace

std::string relative_symlink_target(std::string_view link, std::string_view target) {
  // Components of the link's directory: how many ".." reach the root.
  std::size_t depth = 0;
  const std::string_view dir = link.substr(0, link.rfind('/'));
  for (std::size_t i = 0; i < dir.size(); ++i) {
    if (dir[i] != '/' && (i == 0 || dir[i - 1] == '/')) ++depth;
  }
  // The leading run of "", "." and ".." components, and how far up it goes.
  std::size_t ups = 0;
  std::size_t rest = 0;
  while (rest < target.size()) {
    std::size_t end = target.find('/', rest);
    if (end == std::string_view::npos) end = target.size();
    const std::string_view part = target.substr(rest, end - rest);
    if (part == "..") {
      ++ups;
    } else if (!part.empty() && part != ".") {
      break;
    }
    rest = end == target.size() ? end : end + 1;
  }
  const bool absolute = !target.empty() && target.front() == '/';
  if (!absolute && ups <= depth) return std::string(target);
  // From the root: up to it from the link's directory, then the rest.
  std::string relative;
  for (std::size_t i = 0; i < depth; ++i) relative += "../";
  relative += target.substr(rest);
  if (relative.empty()) return ".";
  if (rest == target.size()) relative.pop_back();  // "../.." rather than "../../"
  return relative;
}

const RootedFiles::Node& RootedFiles::node(const std::string& physical) {
  auto [it, inserted] = nodes_.try_emplace(physical);
  Node& found = it->second;
  if (!inserted) return found;
  struct stat st {};
  ++filesystem_calls_;
  if (::lstat(physical.c_str(), &st) != 0) {
    found.error = errno;
    found.type = found.error == ENOENT || found.error == ENOTDIR ? Type::kMissing : Type::kError;
    return found;
  }
  if (S_ISREG(st.st_mode)) {
    found.type = Type::kFile;
    found.executable = (st.st_mode & S_IXUSR) != 0;
  } else if (S_ISDIR(st.st_mode)) {
    found.type = Type::kDirectory;
  } else if (S_ISLNK(st.st_mode)) {
    // st_size is the target's length, except on file systems such as
    // /proc that report 0: grow until the answer fits.
    std::string target(st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 256, '\0');
    while (true) {
      ++filesystem_calls_;
      const ssize_t n = ::readlink(physical.c_str(), target.data(), target.size());
      if (n < 0) {
        found.error = errno;
        found.type = Type::kError;
        return found;
      }
      if (static_cast<std::size_t>(n) < target.size()) {
        target.resize(static_cast<std::size_t>(n));
        break;
      }
      target.resize(target.size() * 2);
    }
    found.type = Type::kSymlink;
    found.target = std::move(target);
  } else {
    found.type = Type::kOther;
  }
  return found;
}

Status RootedFiles::resolve(std::string_view path, Walk& walk) {
  std::vector<std::string> stack;
  push_components(path, stack);
  if (!path.empty() && path.front() == '/') walk.physical = "/";
  walk.type = Type::kDirectory;
  while (!stack.empty()) {
    const std::string name = std::move(stack.back());
    stack.pop_back();
    if (walk.type != Type::kDirectory) {
      return make_error(Errc::kNotFound,
                        quoted(path) + ": " + walk.physical + " is not a directory");
    }
    if (name == ".") continue;
    if (name == "..") {
      if (walk.physical != "/") {
        walk.entries.push_back(entry(RootedEntry::Kind::kDirectory, walk.physical));
        walk.physical = parent_of(walk.physical);
      }
      continue;
    }
    std::string candidate = join(walk.physical, name);
    const Node& found = node(candidate);
    switch (found.type) {
      case Type::kMissing:
        return make_error(Errc::kNotFound, quoted(path) + ": " + candidate + " does not exist");
      case Type::kError:
        return base::os_error(found.error, quoted(path) + ": lstat " + candidate);
      case Type::kSymlink:
        if (++walk.links > kMaxSymlinks) {
          return make_error(Errc::kInvalidArgument, quoted(path) + ": more than " +
                                                        std::to_string(kMaxSymlinks) +
                                                        " symlinks (a loop?) at " + candidate);
        }
        if (found.target.empty()) {
          return make_error(Errc::kNotFound, quoted(path) + ": " + candidate + " is empty");
        }
        walk.entries.push_back(entry(RootedEntry::Kind::kSymlink, candidate,
                                     relative_symlink_target(candidate, found.target)));
        // The target is resolved in the link's place: from its directory,
        // or from the root.
        push_components(found.target, stack);
        if (found.target.front() == '/') walk.physical = "/";
        break;
      case Type::kDirectory:
        walk.physical = std::move(candidate);
        break;
      case Type::kFile:
      case Type::kOther:
        walk.physical = std::move(candidate);
        walk.type = found.type;
        walk.executable = found.executable;
        break;
    }
  }
  return {};
}

Result<RootedFiles::Prefix*> RootedFiles::prefix(std::string_view dir, bool wanted) {
  std::string key(dir);
  if (auto it = prefixes_.find(key); it != prefixes_.end()) return &it->second;
  Walk walk;
  if (Status resolved = resolve(dir, walk); !resolved.ok()) return resolved.error();
  if (walk.type != Type::kDirectory) {
    // Where a directory must be, as the kernel's ENOTDIR, unless the
    // directory is what was asked for.
    return make_error(wanted ? Errc::kInvalidArgument : Errc::kNotFound,
                      quoted(dir) + " is not a directory");
  }
  return &prefixes_.emplace(std::move(key), Prefix{.walk = std::move(walk)}).first->second;
}

void RootedFiles::commit(std::vector<RootedEntry>& entries) {
  for (RootedEntry& added : entries) {
    std::string path = added.path;
    entries_.try_emplace(std::move(path), std::move(added));
  }
  entries.clear();
}

void RootedFiles::commit(Prefix& dir) {
  if (dir.committed) return;
  commit(dir.walk.entries);
  dir.committed = true;
}

Status RootedFiles::add_file(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return make_error(Errc::kInvalidArgument, quoted(path) + " is not an absolute path");
  }
  const std::size_t slash = path.rfind('/');
  const std::string_view name = path.substr(slash + 1);
  Walk walk;
  Prefix* dir = nullptr;
  if (name.empty() || name == "." || name == "..") {
    // Not a file name: resolved whole, to say what it is.
    if (Status resolved = resolve(path, walk); !resolved.ok()) return resolved;
  } else {
    auto found = prefix(path.substr(0, slash), false);
    if (!found.ok()) return found.error();
    dir = *found;
    walk.physical = dir->walk.physical;
    walk.links = dir->walk.links;
    if (Status resolved = resolve(name, walk); !resolved.ok()) return resolved;
  }
  if (walk.type == Type::kDirectory) {
    return make_error(Errc::kInvalidArgument, quoted(path) + " is a directory");
  }
  if (walk.type != Type::kFile) {
    return make_error(Errc::kInvalidArgument, quoted(path) + " is not a regular file");
  }
  if (dir != nullptr) commit(*dir);
  walk.entries.push_back(
      entry(RootedEntry::Kind::kFile, std::move(walk.physical), {}, walk.executable));
  commit(walk.entries);
  return {};
}

Status RootedFiles::add_directory(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return make_error(Errc::kInvalidArgument, quoted(path) + " is not an absolute path");
  }
  auto found = prefix(path, true);
  if (!found.ok()) return found.error();
  Prefix& dir = **found;
  commit(dir);
  if (dir.walk.physical != "/") {
    entries_.try_emplace(dir.walk.physical,
                         entry(RootedEntry::Kind::kDirectory, dir.walk.physical));
  }
  return {};
}

std::vector<RootedEntry> RootedFiles::entries() const {
  std::vector<RootedEntry> all;
  all.reserve(entries_.size());
  for (const auto& [path, entry] : entries_) all.push_back(entry);
  return all;
}

}  // namespace kiln::exec
