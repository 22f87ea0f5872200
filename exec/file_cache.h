// A directory of read-only files named by digest, hard-linked into the
// trees of actions whose input root is their whole file system
// (input-root=filesystem). Such a tree holds a compiler, its shared
// libraries and every header: ~100 MB for GCC, ~250 MB for Clang, the same
// for every compile. Written once per worker and linked after, it costs an
// action a link() per file instead of a copy.
//
// Safety: a linked file is the cache's inode, so nothing may write it. The
// files are mode 0444 (0555 when executable), and the sandbox shows the tree
// read-only; the outputs' directories, which it shows read-write, get
// copies instead (unshare_links()). A file whose link fails (another file
// system, too many links, the cache flushed meanwhile) is written the
// ordinary way.
//
// Bound: when the files written exceed `max_bytes`, the cache is emptied
// (trees already linked keep their files) and fills again with what the
// next actions use: a toolchain is then written once more, not once per
// action.
//
// Thread-safe; the blobs come from the caller's store, used under the
// caller's lock as the executor does for every store access.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>

#include "base/result.h"
#include "cas/tree.h"

namespace kiln::exec {

class FileCache {
 public:
  // `dir` is created if missing; it must be on the file system of the
  // action directories for links to work.
  static Result<std::unique_ptr<FileCache>> open(const std::filesystem::path& dir,
                                                 std::uint64_t max_bytes);
  ~FileCache();
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // A BlobSource that reads from `store` and writes files by linking them
  // from the cache. Valid while both live.
  std::unique_ptr<cas::BlobSource> linking(cas::BlobSource& store);

  // Bytes written to the cache since it was last emptied.
  std::uint64_t bytes() const { return bytes_.load(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  class Linking;
  FileCache(std::filesystem::path dir, int dir_fd, std::uint64_t max_bytes, std::uint64_t bytes);
  // Links the cache's file for (digest, executable) as `name` in `dir_fd`,
  // writing it into the cache first. False when the blob is absent.
  Result<bool> link(cas::BlobSource& store, const cas::Digest& digest, int dir_fd,
                    const std::string& name, bool executable);
  void flush_if_full();

  std::filesystem::path dir_;
  int dir_fd_ = -1;
  std::uint64_t max_bytes_;
  std::atomic<std::uint64_t> bytes_;
  std::atomic<std::uint64_t> temp_counter_{0};
  std::mutex flush_mutex_;
};

// Replaces every hard-linked regular file below `dir` (st_nlink > 1) with a
// private, writable copy (0644, 0755 when executable), so that a directory shown read-write
// shares no inode with the cache. Symlinks are not followed.
Status unshare_links(const std::filesystem::path& dir);

}  // namespace kiln::exec
