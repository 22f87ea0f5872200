// Storing a Merkle tree built from files on disk (tree.h's BuiltTree): the
// one way `kiln cas tree`, `kiln run`'s inputs, `kiln test`'s input roots
// and the executor's output directories put a tree into a store.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/store.h"
#include "cas/tree.h"

namespace kiln::cas {

struct PutTreeReport {
  std::vector<Digest> blobs;      // every blob of the tree: Directories and files
  std::size_t added = 0;          // how many the store lacked
  std::uint64_t added_bytes = 0;  // and their size
};

// Puts every blob of `tree` that `store` lacks into it (find_missing
// first, so nothing present is read again). Fails with the store's errors,
// or kIo "<path> changed while it was being stored" when a file no longer
// has the content it was built with.
Result<PutTreeReport> put_tree(Store& store, const BuiltTree& tree);

}  // namespace kiln::cas
