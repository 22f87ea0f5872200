// Merkle directory trees (cas/tree.h).
//
// build_tree() walks depth-first through directory file descriptors: each
// child is looked at with fstatat(AT_SYMLINK_NOFOLLOW) and opened with
// openat(O_NOFOLLOW), so a symlink is never followed, and a regular file is
// hashed through the descriptor that was fstat'ed (what is hashed is what was
// checked, even if the tree changes under the walk). Entries are sorted by
// name before they are encoded, so readdir order does not matter. A level's
// digest is the digest of its canonical Directory encoding.
//
// materialize_tree() walks the Directory blobs from the root and treats every
// byte as hostile: each blob is re-hashed and must match the digest that
// named it, decode_directory() validates names and order, and every file,
// directory and symlink is created relative to the parent's descriptor (with
// O_NOFOLLOW / O_EXCL), so no name, not even a planted symlink, can lead a
// write outside `dest`. Depth and node count are bounded, so neither a cycle
// (only possible from a dishonest source) nor a "zip bomb" of shared
// subtrees can run away.
//
// Symlink targets are checked lexically: walking the target's components from
// the link's directory, ".." may never climb above the root. This does not
// resolve links through other links in the tree; whoever follows links in a
// materialized tree must still confine itself to the tree.
#include "cas/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/os_error.h"
#include "base/unique_fd.h"
#include "cas/file_digest.h"

namespace kiln::cas {

namespace {

// Deeper trees are refused by both directions, so whatever build_tree
// produces, materialize_tree accepts.
constexpr int kMaxDepth = 256;
// Files, directories and symlinks created by one materialize_tree() call.
constexpr std::size_t kMaxNodes = std::size_t{1} << 22;

Error invalid(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

// Why `target`, a symlink in a directory `depth` levels below the root, is not
// acceptable, or "" when it is: it must be relative, and ".." components may
// not climb above the root.
std::string symlink_problem(std::string_view target, int depth) {
  if (target.empty()) return "is empty";
  if (target.front() == '/') return "is absolute";
  if (target.find('\0') != std::string_view::npos) return "contains NUL";
  int level = depth;
  std::size_t start = 0;
  while (start <= target.size()) {
    std::size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    const std::string_view part = target.substr(start, slash - start);
    if (part == "..") {
      if (--level < 0) return "escapes the tree root";
    } else if (!part.empty() && part != ".") {
      ++level;
    }
    start = slash + 1;
  }
  return "";
}

// Names in the directory open at `fd`, sorted bytewise, without "." and "..".
Result<std::vector<std::string>> list_dir(int fd, const std::string& what) {
  const int dup_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return base::os_error(errno, "cannot list " + what);
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dup_fd);
    return base::os_error(err, "cannot list " + what);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return base::os_error(err, "cannot list " + what);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- build_tree -------------------------------------------------------

class Builder {
 public:
  Builder(std::filesystem::path root, DigestFunction fn) : root_(std::move(root)), fn_(fn) {}

  // Digest of the directory open at `fd`, `depth` levels below the root at
  // relative path `rel` ("" for the root), after recording it and everything
  // under it in tree_.
  Result<Digest> walk(int fd, const std::filesystem::path& rel, int depth) {
    const std::string where = (root_ / rel).string();
    if (depth > kMaxDepth) {
      return invalid("build_tree: " + where + " is more than " + std::to_string(kMaxDepth) +
                     " levels deep");
    }
    auto names = list_dir(fd, where);
    if (!names.ok()) return names.error();
    Directory dir;
    for (const std::string& name : *names) {
      const std::filesystem::path child_rel = rel / name;
      const std::string path = (root_ / child_rel).string();
      if (auto s = validate_name(name); !s)
        return invalid("build_tree: " + path + ": " + s.error().message);
      struct stat st {};
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return base::os_error(errno, "build_tree: cannot stat " + path);
      }
      if (S_ISREG(st.st_mode)) {
        auto node = hash_file(fd, name, path);
        if (!node.ok()) return node.error();
        tree_.files.emplace(node->digest, root_ / child_rel);
        dir.files.push_back(std::move(*node));
      } else if (S_ISDIR(st.st_mode)) {
        base::UniqueFd child(
            ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!child.valid()) return base::os_error(errno, "build_tree: cannot open " + path);
        auto digest = walk(child.get(), child_rel, depth + 1);
        if (!digest.ok()) return digest.error();
        dir.directories.push_back(DirectoryNode{name, *digest});
      } else if (S_ISLNK(st.st_mode)) {
        auto target = read_link(fd, name, path);
        if (!target.ok()) return target.error();
        if (auto problem = symlink_problem(*target, depth); !problem.empty()) {
          return invalid("build_tree: symlink " + path + " -> " + *target + ": target " + problem);
        }
        dir.symlinks.push_back(SymlinkNode{name, std::move(*target)});
      } else {
        return invalid("build_tree: " + path +
                       " is not a regular file, directory or symlink (socket, fifo or device)");
      }
    }
    auto bytes = encode_directory(dir, fn_);
    if (!bytes.ok()) return invalid("build_tree: " + where + ": " + bytes.error().message);
    const Digest digest = digest_of(fn_, *bytes);
    tree_.directories.emplace(digest, std::move(*bytes));
    return digest;
  }

  BuiltTree& tree() { return tree_; }

 private:
  Result<FileNode> hash_file(int dir_fd, const std::string& name, const std::string& path) {
    // O_NONBLOCK: should the file be swapped for a fifo after fstatat, the
    // open must not hang; the fstat below then refuses it.
    base::UniqueFd fd(
        ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return base::os_error(errno, "build_tree: cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      return base::os_error(errno, "build_tree: cannot stat " + path);
    if (!S_ISREG(st.st_mode))
      return invalid("build_tree: " + path + " changed type during the walk");
    auto digest = digest_fd(fn_, fd.get(), path);
    if (!digest.ok()) return digest.error();
    return FileNode{name, *digest, (st.st_mode & S_IXUSR) != 0};
  }

  static Result<std::string> read_link(int dir_fd, const std::string& name,
                                       const std::string& path) {
    std::string target(256, '\0');
    for (;;) {
      const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) return base::os_error(errno, "build_tree: cannot read symlink " + path);
      if (static_cast<std::size_t>(n) < target.size()) {
        target.resize(static_cast<std::size_t>(n));
        return target;
      }
      if (target.size() >= (1u << 16))
        return invalid("build_tree: symlink " + path + " target too long");
      target.resize(target.size() * 2);
    }
  }

  std::filesystem::path root_;
  DigestFunction fn_;
  BuiltTree tree_;
};

// ---- materialize_tree ---------------------------------------------------

class Materializer {
 public:
  explicit Materializer(BlobSource& source) : source_(source) {}

  // Creates the contents of Directory `digest` in the (empty) directory open
  // at `fd`, which is `depth` levels below dest at relative path `rel`.
  Status fill(int fd, const Digest& digest, const std::string& rel, int depth) {
    const std::string where = rel.empty() ? "the root" : "'" + rel + "'";
    if (depth > kMaxDepth) {
      return invalid("materialize_tree: " + where + " is more than " + std::to_string(kMaxDepth) +
                     " levels deep (a cycle or a hostile tree)");
    }
    auto blob = source_.read_blob(digest);
    if (!blob.ok()) return blob.error();
    if (!blob->has_value()) {
      return make_error(Errc::kNotFound, "materialize_tree: Directory blob " + digest.to_string() +
                                             " for " + where + " is missing");
    }
    const std::string& bytes = **blob;
    if (digest_of(digest.function, bytes) != digest) {
      return make_error(Errc::kCorrupt, "materialize_tree: Directory blob for " + where +
                                            " does not match its digest " + digest.to_string());
    }
    auto dir =
        decode_directory(std::as_bytes(std::span(bytes.data(), bytes.size())), digest.function);
    if (!dir.ok()) return invalid("materialize_tree: " + where + ": " + dir.error().message);

    nodes_ += dir->files.size() + dir->directories.size() + dir->symlinks.size();
    if (nodes_ > kMaxNodes) {
      return make_error(Errc::kResourceExhausted, "materialize_tree: tree has more than " +
                                                      std::to_string(kMaxNodes) + " nodes");
    }
    const auto child = [&rel](const std::string& name) {
      return rel.empty() ? name : rel + "/" + name;
    };

    for (const FileNode& f : dir->files) {
      if (auto s = validate_name(f.name); !s)
        return invalid("materialize_tree: " + s.error().message);
      auto written = source_.write_blob_to(f.digest, fd, f.name, f.executable);
      if (!written.ok()) return written.error();
      if (!*written) {
        return make_error(Errc::kNotFound, "materialize_tree: blob " + f.digest.to_string() +
                                               " for file '" + child(f.name) + "' is missing");
      }
    }
    for (const SymlinkNode& l : dir->symlinks) {
      if (auto s = validate_name(l.name); !s)
        return invalid("materialize_tree: " + s.error().message);
      if (auto problem = symlink_problem(l.target, depth); !problem.empty()) {
        return invalid("materialize_tree: symlink '" + child(l.name) + "' -> " + l.target +
                       ": target " + problem);
      }
      if (::symlinkat(l.target.c_str(), fd, l.name.c_str()) != 0) {
        return base::os_error(errno,
                              "materialize_tree: cannot create symlink '" + child(l.name) + "'");
      }
    }
    path_.insert(digest);
    for (const DirectoryNode& d : dir->directories) {
      if (auto s = validate_name(d.name); !s)
        return invalid("materialize_tree: " + s.error().message);
      if (path_.count(d.digest) != 0) {
        return invalid("materialize_tree: directory '" + child(d.name) + "' contains itself");
      }
      if (::mkdirat(fd, d.name.c_str(), 0755) != 0) {
        return base::os_error(errno,
                              "materialize_tree: cannot create directory '" + child(d.name) + "'");
      }
      base::UniqueFd sub(
          ::openat(fd, d.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.valid())
        return base::os_error(errno, "materialize_tree: cannot open '" + child(d.name) + "'");
      if (auto s = fill(sub.get(), d.digest, child(d.name), depth + 1); !s) return s;
    }
    path_.erase(digest);
    return {};
  }

 private:
  BlobSource& source_;
  std::size_t nodes_ = 0;
  std::set<Digest> path_;  // Directory digests from the root to here
};

}  // namespace

Result<BuiltTree> build_tree(const std::filesystem::path& root, DigestFunction fn) {
  base::UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid())
    return base::os_error(errno, "build_tree: cannot open directory " + root.string());
  Builder builder(root, fn);
  auto digest = builder.walk(fd.get(), {}, 0);
  if (!digest.ok()) return digest.error();
  builder.tree().root = *digest;
  return std::move(builder.tree());
}

Status materialize_tree(BlobSource& source, const Digest& root, const std::filesystem::path& dest) {
  base::UniqueFd fd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid())
    return base::os_error(errno, "materialize_tree: cannot open directory " + dest.string());
  auto names = list_dir(fd.get(), dest.string());
  if (!names.ok()) return names.error();
  if (!names->empty()) {
    return invalid("materialize_tree: destination " + dest.string() + " is not empty");
  }
  Materializer materializer(source);
  return materializer.fill(fd.get(), root, "", 0);
}

Result<bool> BlobSource::write_blob_to(const Digest& digest, int dir_fd, const std::string& name,
                                       bool executable) {
  auto blob = read_blob(digest);
  if (!blob.ok()) return blob.error();
  if (!blob->has_value()) return false;
  const std::string& bytes = **blob;
  const int fd =
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               executable ? 0755 : 0644);
  if (fd < 0) {
    return make_error(Errc::kIo, "cannot create " + name + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return make_error(Errc::kIo, "cannot write " + name + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    return make_error(Errc::kIo, "cannot write " + name + ": " + std::strerror(errno));
  }
  return true;
}

}  // namespace kiln::cas
