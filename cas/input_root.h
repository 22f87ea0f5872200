// Composing an input root from pieces placed at paths: a file here, a whole
// already-built tree there. `kiln run --input a/b.c --input include/` and
// the compiler launcher describe their inputs this way.
//
// Each piece is placed at a relative path; missing parent directories are
// implied. Placing two different things at one path, or something beneath a
// file or a symlink, is an error; placing the identical thing twice is not.
// A grafted tree's contents are opaque here: placing something inside it is
// an error too, because its Directory blobs are fixed.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"
#include "cas/tree.h"

namespace kiln::cas {

class InputRootBuilder {
 public:
  explicit InputRootBuilder(DigestFunction fn);
  ~InputRootBuilder();
  InputRootBuilder(const InputRootBuilder&) = delete;
  InputRootBuilder& operator=(const InputRootBuilder&) = delete;

  // `path` is relative (validate_relative_path); kInvalidArgument otherwise
  // or on a conflict.
  Status add_file(const std::string& path, const Digest& digest, bool executable);
  Status add_tree(const std::string& path, const Digest& root);
  Status add_symlink(const std::string& path, const std::string& target);
  // An empty directory (e.g. where outputs will go).
  Status add_directory(const std::string& path);

  // Encodes every implied Directory. `directories` of the result holds only
  // the levels composed here (not those of grafted trees); `files` is empty.
  Result<BuiltTree> finish() const;

 private:
  struct Node;
  Result<Node*> place(const std::string& path);
  DigestFunction fn_;
  std::unique_ptr<Node> root_;
};

}  // namespace kiln::cas
