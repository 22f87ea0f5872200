// A set of host files to reproduce at their own absolute paths: the input
// tree of a hermetic compile, whose sandbox sees nothing of the host but
// this tree (the compiler, its programs and libraries, the sources, every
// header), so each must open exactly as it did on the host.
//
// A path as a program names it may pass through symlinks (/lib ->
// usr/lib, /usr/bin/g++ -> g++-12 -> x86_64-linux-gnu-g++-12) and contain
// "..", which the kernel resolves physically: in
// /usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/vector each
// ".." steps out of a directory that must exist. So a path is resolved here
// the way the kernel does, one component at a time from "/": a symlink met
// on the way (a directory or the last component) becomes an entry at its
// own physical location and its target is resolved in its place; a ".."
// records the directory it steps out of; the file itself is recorded at
// its physical path. Every entry's path is physical (no symlink in it), so
// no entry ever lies beneath a symlink entry.
//
// This runs on every remote compile, for a few hundred headers that share
// a few directories, so it is memoized twice: the lstat(2) (and readlink)
// of each physical path is done once, and the resolution of each directory
// part of a path as given ("/usr/include/c++/12/bits") is kept, so a
// further header in the same directory costs one lstat of its own name.
// The answers describe the file system when they were first asked: a
// RootedFiles is for one compile, not to be kept.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace kiln::exec {

struct RootedEntry {
  enum class Kind { kFile, kDirectory, kSymlink };
  Kind kind = Kind::kFile;
  // Absolute and normalized (no ".", "..", "//", no symlink on the way):
  // where the entry itself is.
  std::string path;
  // kSymlink: the link's target, relative (kiln's trees allow no absolute
  // target): /x/y at /a/b/link becomes ../../x/y. Leading ".." beyond the
  // root (which the kernel stops at "/") are dropped.
  std::string target;
  bool executable = false;  // kFile: the owner-executable bit

  bool operator==(const RootedEntry&) const = default;
};

class RootedFiles {
 public:
  // Adds `path` (absolute; may hold ".", ".." and "//" and pass through
  // symlinks) so that opening exactly that string inside the reproduced
  // tree reaches the same file: the symlinks met while resolving it, the
  // directories its ".." step out of, and the regular file at its physical
  // path. Fails with kInvalidArgument for a relative path, a path that is
  // not a regular file (a directory, a device) or that needs more than 40
  // symlinks (a loop); kNotFound when it (or a symlink's target) does not
  // exist or a component on the way is not a directory; kPermissionDenied
  // or kIo when lstat(2) fails otherwise. A failed call adds nothing.
  Status add_file(std::string_view path);

  // The same for a directory that must exist (a working directory): its
  // physical path becomes a kDirectory entry (none for "/"), with the
  // symlinks and ".." on the way. kInvalidArgument when it is not a
  // directory.
  Status add_directory(std::string_view path);

  // Every entry, sorted by path (so a directory comes before what is in
  // it), each path once.
  std::vector<RootedEntry> entries() const;

  // How many lstat(2) and readlink(2) calls the set has made so far.
  std::size_t filesystem_calls() const { return filesystem_calls_; }

 private:
  enum class Type { kMissing, kFile, kDirectory, kSymlink, kOther, kError };
  struct Node {  // what lstat said of one physical path
    Type type = Type::kMissing;
    bool executable = false;
    std::string target;  // kSymlink
    int error = 0;       // kError, kMissing: the errno
  };
  struct Walk {                  // a path resolved so far
    std::string physical = "/";  // where it led
    Type type = Type::kDirectory;
    bool executable = false;  // kFile
    int links = 0;            // symlinks followed
    std::vector<RootedEntry> entries;
  };
  struct Prefix {  // a directory part of a path, resolved
    Walk walk;
    bool committed = false;  // its entries are in entries_
  };

  const Node& node(const std::string& physical);
  Status resolve(std::string_view path, Walk& walk);
  // `dir` resolved; `wanted`: it is the directory asked for, not the
  // directory part of a file's path (which decides the error).
  Result<Prefix*> prefix(std::string_view dir, bool wanted);
  void commit(std::vector<RootedEntry>& entries);
  void commit(Prefix& dir);

  std::unordered_map<std::string, Node> nodes_;
  std::unordered_map<std::string, Prefix> prefixes_;
  std::map<std::string, RootedEntry> entries_;
  std::size_t filesystem_calls_ = 0;
};

// The target to record for a symlink at `link` (absolute, normalized) that
// points at `target`: an absolute target rewritten relative to the link's
// directory, leading ".." beyond the root dropped; "." for the root itself.
std::string relative_symlink_target(std::string_view link, std::string_view target);

}  // namespace kiln::exec
