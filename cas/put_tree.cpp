// put_tree.h: a BuiltTree into a store.
#include "cas/put_tree.h"

#include <span>

namespace kiln::cas {

Result<PutTreeReport> put_tree(Store& store, const BuiltTree& tree) {
  PutTreeReport report;
  report.blobs.reserve(tree.directories.size() + tree.files.size());
  for (const auto& [digest, bytes] : tree.directories) report.blobs.push_back(digest);
  for (const auto& [digest, path] : tree.files) report.blobs.push_back(digest);
  auto missing = store.find_missing(report.blobs);
  if (!missing.ok()) return missing.error();
  for (const Digest& digest : *missing) {
    if (const auto dir = tree.directories.find(digest); dir != tree.directories.end()) {
      const std::string& bytes = dir->second;
      if (auto put = store.put(digest, std::as_bytes(std::span(bytes.data(), bytes.size())));
          !put.ok()) {
        return put.error();
      }
    } else {
      const std::filesystem::path& path = tree.files.at(digest);
      auto stored = store.put_file(path);
      if (!stored.ok()) return stored.error();
      if (*stored != digest) {
        return make_error(Errc::kIo, path.string() + " changed while it was being stored");
      }
    }
    ++report.added;
    report.added_bytes += digest.size;
  }
  return report;
}

}  // namespace kiln::cas
