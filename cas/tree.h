// Merkle directory trees: a directory on disk <-> Directory blobs in a CAS.
//
// build_tree() walks a directory and produces one Directory per level, each
// named by the digest of its canonical encoding, so the root digest names the
// whole tree. The result depends only on names, contents, executable bits and
// symlink targets: not on readdir order, mtimes, owners or the machine.
//
// materialize_tree() is the reverse and treats the tree as untrusted: every
// name is validated, symlink targets must be relative and stay inside the
// root, and all writes go through directory file descriptors opened with
// O_NOFOLLOW, so nothing is ever written outside the destination.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"

namespace kiln::cas {

struct BuiltTree {
  Digest root;
  // Every Directory of the tree, encoded, by digest (deduplicated).
  std::unordered_map<Digest, std::string, DigestHash> directories;
  // Every regular file, by digest, with one path on disk that has it.
  std::unordered_map<Digest, std::filesystem::path, DigestHash> files;
};

// Walks `root` (which must be a directory). Regular files, directories and
// symlinks are recorded; a symlink whose target is absolute or escapes
// `root` is an error (kInvalidArgument), as is any other file type (socket,
// fifo, device), as is a tree more than 256 levels deep. Symlinks are
// recorded as links, never followed.
Result<BuiltTree> build_tree(const std::filesystem::path& root, DigestFunction fn);

// Where materialize_tree() reads blobs from. A store implements it.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // The blob's bytes, or nullopt when absent. Must return only bytes that
  // match `digest`.
  virtual Result<std::optional<std::string>> read_blob(const Digest& digest) = 0;
  // Writes the blob to a new file at `path` (which does not exist) with the
  // given mode. Returns false when the blob is absent. The default reads the
  // blob and writes it; stores may copy or clone more cheaply.
  virtual Result<bool> write_blob_to(const Digest& digest, int dir_fd, const std::string& name,
                                     bool executable);
};

// Creates the tree named by `root` under `dest`, which must be an existing
// empty directory. Fails with kInvalidArgument for a malformed or hostile
// tree (bad names, escaping symlinks, a directory cycle, more than 256
// levels), kNotFound when a blob is missing, kCorrupt when a Directory blob
// does not match its digest, and kResourceExhausted beyond 2^22 nodes; on
// failure `dest` may hold a partial tree, never anything outside it.
Status materialize_tree(BlobSource& source, const Digest& root, const std::filesystem::path& dest);

}  // namespace kiln::cas
