// InputRootBuilder: a trie of path components; finish() encodes it
// bottom-up, so every level's digest is known before its parent's.
#include "cas/input_root.h"

#include <algorithm>
#include <vector>

namespace kiln::cas {

struct InputRootBuilder::Node {
  enum class Kind { kDirectory, kFile, kTree, kSymlink };
  Kind kind = Kind::kDirectory;
  bool fresh = true;  // just created by place(): nothing decided yet
  Digest digest;      // kFile, kTree
  bool executable = false;
  std::string target;                                     // kSymlink
  std::map<std::string, std::unique_ptr<Node>> children;  // kDirectory

  bool same_leaf(const Node& other) const {
    return kind == other.kind && digest == other.digest && executable == other.executable &&
           target == other.target;
  }

  // Makes this node `leaf`, if it is fresh or already identical to it.
  Status set(const Node& leaf, const std::string& path) {
    if (fresh) {
      kind = leaf.kind;
      digest = leaf.digest;
      executable = leaf.executable;
      target = leaf.target;
      fresh = false;
      return {};
    }
    if (kind == Kind::kDirectory && leaf.kind == Kind::kDirectory) return {};
    if (same_leaf(leaf) && children.empty()) return {};
    return make_error(Errc::kInvalidArgument,
                      "input '" + path + "' is given twice with different contents");
  }

  // Encodes this directory level and everything below it.
  Result<Digest> encode(DigestFunction fn, BuiltTree& out) const {
    Directory dir;
    for (const auto& [name, child] : children) {
      switch (child->kind) {
        case Kind::kFile:
          dir.files.push_back(FileNode{name, child->digest, child->executable});
          break;
        case Kind::kTree:
          dir.directories.push_back(DirectoryNode{name, child->digest});
          break;
        case Kind::kSymlink:
          dir.symlinks.push_back(SymlinkNode{name, child->target});
          break;
        case Kind::kDirectory: {
          auto sub = child->encode(fn, out);
          if (!sub.ok()) return sub;
          dir.directories.push_back(DirectoryNode{name, *sub});
          break;
        }
      }
    }
    auto bytes = encode_directory(dir, fn);
    if (!bytes.ok()) return bytes.error();
    const Digest level = digest_of(fn, *bytes);
    out.directories.emplace(level, std::move(bytes).value());
    return level;
  }
};

InputRootBuilder::InputRootBuilder(DigestFunction fn) : fn_(fn), root_(std::make_unique<Node>()) {
  root_->fresh = false;
}
InputRootBuilder::~InputRootBuilder() = default;

Result<InputRootBuilder::Node*> InputRootBuilder::place(const std::string& path) {
  if (auto s = validate_relative_path(path); !s.ok()) {
    return make_error(Errc::kInvalidArgument, "input path '" + path + "': " + s.error().message);
  }
  Node* node = root_.get();
  std::string walked;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    if (!node->fresh && node->kind != Node::Kind::kDirectory) {
      return make_error(Errc::kInvalidArgument,
                        "input '" + path + "' lies inside '" + walked +
                            "', which is a file, a symlink or a whole tree");
    }
    node->fresh = false;  // a parent is a directory from now on
    const std::string part = path.substr(start, end - start);
    walked += (walked.empty() ? "" : "/") + part;
    auto& child = node->children[part];
    if (!child) child = std::make_unique<Node>();
    node = child.get();
    start = end + 1;
  }
  return node;
}

Status InputRootBuilder::add_file(const std::string& path, const Digest& digest, bool executable) {
  auto node = place(path);
  if (!node.ok()) return node.error();
  Node leaf;
  leaf.kind = Node::Kind::kFile;
  leaf.digest = digest;
  leaf.executable = executable;
  return (*node)->set(leaf, path);
}

Status InputRootBuilder::add_tree(const std::string& path, const Digest& root) {
  auto node = place(path);
  if (!node.ok()) return node.error();
  Node leaf;
  leaf.kind = Node::Kind::kTree;
  leaf.digest = root;
  return (*node)->set(leaf, path);
}

Status InputRootBuilder::add_symlink(const std::string& path, const std::string& target) {
  auto node = place(path);
  if (!node.ok()) return node.error();
  Node leaf;
  leaf.kind = Node::Kind::kSymlink;
  leaf.target = target;
  return (*node)->set(leaf, path);
}

Status InputRootBuilder::add_directory(const std::string& path) {
  auto node = place(path);
  if (!node.ok()) return node.error();
  return (*node)->set(Node{}, path);
}

Result<BuiltTree> InputRootBuilder::finish() const {
  BuiltTree out;
  auto root = root_->encode(fn_, out);
  if (!root.ok()) return root.error();
  out.root = *root;
  return out;
}

}  // namespace kiln::cas
