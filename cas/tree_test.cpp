// Merkle trees on disk: build_tree's digest depends only on content, and
// materialize_tree survives hostile trees written straight into a fake
// BlobSource without creating anything outside its destination.
#include "cas/tree.h"

#include <capnp/message.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>

#include "proto/model.capnp.h"
#include "tests/support/temp_dir.h"

namespace kiln::cas {
namespace {

namespace fs = std::filesystem;
using kiln::test_support::TempDir;
constexpr auto kXxh = DigestFunction::kXxh3_128;

void write_file(const fs::path& path, std::string_view content, bool executable = false) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
  fs::permissions(path, executable ? fs::perms(0755) : fs::perms(0644));
}

void make_link(const std::string& target, const fs::path& link) {
  fs::create_directories(link.parent_path());
  fs::create_symlink(target, link);
}

// The sample tree, created in one of two orders.
void make_sample(const fs::path& root, bool reverse) {
  std::vector<std::function<void()>> steps = {
      [&] { write_file(root / "a.txt", "hello"); },
      [&] {
        write_file(root / "bin" / "tool",
                   "\x7f"
                   "ELF",
                   true);
      },
      [&] {
        write_file(root / "bin" / "data",
                   "\x7f"
                   "ELF");
      },  // same bytes, not executable
      [&] { write_file(root / "sub" / "dir" / "deep", "x"); },
      [&] { write_file(root / "sub" / "dir2" / "deep", "x"); },  // a shared subtree
      [&] { make_link("sub/dir/deep", root / "link"); },
      [&] { make_link("../a.txt", root / "sub" / "up"); },
      [&] { make_link("./dir/../dir2", root / "sub" / "side"); },
      [&] { fs::create_directories(root / "empty"); },
  };
  if (reverse) std::reverse(steps.begin(), steps.end());
  for (auto& step : steps) step();
}

Digest root_of(const fs::path& root) {
  auto tree = build_tree(root, kXxh);
  EXPECT_TRUE(tree.ok()) << tree.error().message;
  return tree.ok() ? tree->root : Digest{};
}

// Every path under `root`, except those under `skip`, with its type.
std::set<std::string> snapshot(const fs::path& root, const fs::path& skip) {
  std::set<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path() == skip) {
      it.disable_recursion_pending();
      continue;
    }
    out.insert(it->path().string() + ":" +
               std::to_string(static_cast<int>(it->symlink_status().type())));
  }
  return out;
}

// A test fake of the BlobSource interface: blobs in a map, by digest. Like a
// hostile store, it returns whatever bytes were put under a digest.
class FakeSource : public BlobSource {
 public:
  Result<std::optional<std::string>> read_blob(const Digest& digest) override {
    auto it = blobs.find(digest);
    if (it == blobs.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Digest put(const std::string& bytes) {
    const Digest d = digest_of(kXxh, bytes);
    blobs[d] = bytes;
    return d;
  }
  void add(const BuiltTree& tree) {
    for (const auto& [digest, bytes] : tree.directories) blobs[digest] = bytes;
    for (const auto& [digest, path] : tree.files) {
      std::ifstream in(path, std::ios::binary);
      blobs[digest] = std::string(std::istreambuf_iterator<char>(in), {});
    }
  }
  std::unordered_map<Digest, std::string, DigestHash> blobs;
};

// Raw Directory bytes, bypassing encode_directory's rules.
struct RawEntry {
  enum Kind { kFile, kDir, kLink } kind;
  std::string name;
  Digest digest;
  std::string target;
};

std::string raw_directory(const std::vector<RawEntry>& entries) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Directory>();
  std::vector<const RawEntry*> by_kind[3];
  for (const auto& e : entries) by_kind[e.kind].push_back(&e);
  const auto text = [](const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); };
  const auto set_digest = [](schema::Digest::Builder b, const Digest& d) {
    b.setHash(capnp::Data::Reader(d.hash_bytes().data(), d.hash_bytes().size()));
    b.setSizeBytes(d.size);
  };
  if (!by_kind[0].empty()) {
    auto list = root.initFiles(static_cast<unsigned>(by_kind[0].size()));
    for (unsigned i = 0; i < list.size(); ++i) {
      list[i].setName(text(by_kind[0][i]->name));
      set_digest(list[i].initDigest(), by_kind[0][i]->digest);
    }
  }
  if (!by_kind[1].empty()) {
    auto list = root.initDirectories(static_cast<unsigned>(by_kind[1].size()));
    for (unsigned i = 0; i < list.size(); ++i) {
      list[i].setName(text(by_kind[1][i]->name));
      set_digest(list[i].initDigest(), by_kind[1][i]->digest);
    }
  }
  if (!by_kind[2].empty()) {
    auto list = root.initSymlinks(static_cast<unsigned>(by_kind[2].size()));
    for (unsigned i = 0; i < list.size(); ++i) {
      list[i].setName(text(by_kind[2][i]->name));
      list[i].setTarget(text(by_kind[2][i]->target));
    }
  }
  auto words = capnp::canonicalize(root.asReader());
  return std::string(reinterpret_cast<const char*>(words.asBytes().begin()),
                     words.asBytes().size());
}

TEST(TreeTest, DigestIndependentOfPathAndOrder) {
  TempDir a, b;
  make_sample(a.path() / "one", false);
  make_sample(b.path() / "elsewhere" / "two", true);
  auto tree = build_tree(a.path() / "one", kXxh);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(tree->root, root_of(b.path() / "elsewhere" / "two"));
  // root, bin, sub, sub/dir (== sub/dir2), empty
  EXPECT_EQ(tree->directories.size(), 5u);
  EXPECT_EQ(tree->files.size(), 3u);  // "hello", "\x7fELF", "x"
  EXPECT_TRUE(tree->directories.count(tree->root));
  auto root_dir =
      decode_directory(std::as_bytes(std::span(tree->directories.at(tree->root).data(),
                                               tree->directories.at(tree->root).size())),
                       kXxh);
  ASSERT_TRUE(root_dir.ok());
  ASSERT_EQ(root_dir->files.size(), 1u);
  EXPECT_EQ(root_dir->files[0].name, "a.txt");
  ASSERT_EQ(root_dir->symlinks.size(), 1u);
  EXPECT_EQ(root_dir->symlinks[0].target, "sub/dir/deep");
  ASSERT_EQ(root_dir->directories.size(), 3u);
  EXPECT_EQ(root_dir->directories[0].name, "bin");
}

TEST(TreeTest, EveryChangeChangesTheRoot) {
  TempDir t;
  const fs::path root = t.path() / "r";
  make_sample(root, false);
  const Digest original = root_of(root);

  write_file(root / "sub" / "dir" / "deep", "y");
  const Digest byte = root_of(root);
  EXPECT_NE(byte, original);
  write_file(root / "sub" / "dir" / "deep", "x");
  EXPECT_EQ(root_of(root), original);

  fs::permissions(root / "bin" / "data", fs::perms::owner_exec, fs::perm_options::add);
  EXPECT_NE(root_of(root), original);
  fs::permissions(root / "bin" / "data", fs::perms::owner_exec, fs::perm_options::remove);
  // Group and other x bits do not count; only the owner's does.
  fs::permissions(root / "bin" / "data", fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
  EXPECT_EQ(root_of(root), original);

  fs::remove(root / "link");
  make_link("sub/dir2/deep", root / "link");
  EXPECT_NE(root_of(root), original);
  fs::remove(root / "link");
  make_link("sub/dir/deep", root / "link");
  EXPECT_EQ(root_of(root), original);

  fs::create_directories(root / "empty" / "more");
  EXPECT_NE(root_of(root), original);
}

TEST(TreeTest, BuildRefusesEscapingSymlinksAndSpecialFiles) {
  struct Case {
    std::string link;  // relative to the root
    std::string target;
  };
  for (const Case& c : {Case{"l", "/etc"}, Case{"l", "../x"}, Case{"d/l", "../../x"},
                        Case{"d/l", "./../e/../../x"}, Case{"l", ".."}}) {
    TempDir t;
    write_file(t.path() / "r" / "f", "f");
    make_link(c.target, t.path() / "r" / c.link);
    auto tree = build_tree(t.path() / "r", kXxh);
    ASSERT_FALSE(tree.ok()) << c.link << " -> " << c.target;
    EXPECT_EQ(tree.error().code, Errc::kInvalidArgument);
    EXPECT_NE(tree.error().message.find((t.path() / "r" / c.link).string()), std::string::npos)
        << tree.error().message;
    EXPECT_EQ(tree.error().message.find('\n'), std::string::npos);
  }
  {
    TempDir t;
    make_link("d/../../r/f", t.path() / "r" / "ok");  // climbs out and back: still refused
    EXPECT_FALSE(build_tree(t.path() / "r", kXxh).ok());
  }
  {
    TempDir t;
    make_link("d/../f", t.path() / "r" / "ok");  // stays inside: fine, even dangling
    EXPECT_TRUE(build_tree(t.path() / "r", kXxh).ok());
  }
  {
    TempDir t;
    fs::create_directories(t.path() / "r");
    ASSERT_EQ(::mkfifo((t.path() / "r" / "fifo").c_str(), 0644), 0);
    auto tree = build_tree(t.path() / "r", kXxh);
    ASSERT_FALSE(tree.ok());
    EXPECT_EQ(tree.error().code, Errc::kInvalidArgument);
    EXPECT_NE(tree.error().message.find("fifo"), std::string::npos) << tree.error().message;
  }
  {
    TempDir t;
    auto tree = build_tree(t.path() / "missing", kXxh);
    ASSERT_FALSE(tree.ok());
    EXPECT_EQ(tree.error().code, Errc::kNotFound);
  }
}

TEST(TreeTest, RoundTripThroughSource) {
  for (auto fn : {DigestFunction::kXxh3_128, DigestFunction::kSha256}) {
    TempDir t;
    make_sample(t.path() / "src", false);
    auto tree = build_tree(t.path() / "src", fn);
    ASSERT_TRUE(tree.ok()) << tree.error().message;
    FakeSource source;
    source.add(*tree);
    fs::create_directories(t.path() / "dest");
    auto status = materialize_tree(source, tree->root, t.path() / "dest");
    ASSERT_TRUE(status.ok()) << status.error().message;
    auto again = build_tree(t.path() / "dest", fn);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again->root, tree->root);
    EXPECT_TRUE(fs::is_symlink(t.path() / "dest" / "link"));
    EXPECT_EQ(fs::read_symlink(t.path() / "dest" / "sub" / "up"), "../a.txt");
    EXPECT_NE(fs::status(t.path() / "dest" / "bin" / "tool").permissions() & fs::perms::owner_exec,
              fs::perms::none);
  }
}

TEST(TreeTest, MaterializeRefusesNonEmptyDest) {
  TempDir t;
  FakeSource source;
  const Digest root = source.put(*encode_directory(Directory{}, kXxh));
  write_file(t.path() / "dest" / "x", "x");
  auto s = materialize_tree(source, root, t.path() / "dest");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(materialize_tree(source, root, t.path() / "nope").ok());
}

// Runs materialize_tree on a hostile tree and checks it fails with `code`
// and a message naming `needle`, leaving everything outside dest unchanged.
void expect_refused(FakeSource& source, const Digest& root, Errc code, std::string_view needle) {
  TempDir t;
  write_file(t.path() / "sibling", "keep");
  fs::create_directories(t.path() / "dest");
  const auto before = snapshot(t.path(), t.path() / "dest");
  auto s = materialize_tree(source, root, t.path() / "dest");
  ASSERT_FALSE(s.ok()) << needle;
  EXPECT_EQ(s.error().code, code) << s.error().message;
  EXPECT_NE(s.error().message.find(needle), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(snapshot(t.path(), t.path() / "dest"), before);
  std::ifstream in(t.path() / "sibling");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "keep");
}

TEST(TreeTest, MaterializeRefusesHostileTrees) {
  FakeSource source;
  const Digest file = source.put("payload");
  const Digest empty_dir = source.put(*encode_directory(Directory{}, kXxh));
  using K = RawEntry;

  for (const std::string& bad :
       std::vector<std::string>{"../x", "a/b", "", ".", "..", "/abs", std::string("a\0b", 3)}) {
    expect_refused(source, source.put(raw_directory({{K::kFile, bad, file, ""}})),
                   Errc::kInvalidArgument, "name");
    expect_refused(source, source.put(raw_directory({{K::kDir, bad, empty_dir, ""}})),
                   Errc::kInvalidArgument, "name");
    expect_refused(source, source.put(raw_directory({{K::kLink, bad, {}, "f"}})),
                   Errc::kInvalidArgument, "name");
  }
  // Symlinks out of the root, at the root and one level down.
  expect_refused(source, source.put(raw_directory({{K::kLink, "l", {}, "/etc"}})),
                 Errc::kInvalidArgument, "absolute");
  expect_refused(source, source.put(raw_directory({{K::kLink, "l", {}, "../../x"}})),
                 Errc::kInvalidArgument, "escapes");
  const Digest sub = source.put(raw_directory({{K::kLink, "l", {}, "../../x"}}));
  expect_refused(source, source.put(raw_directory({{K::kDir, "d", sub, ""}})),
                 Errc::kInvalidArgument, "'d/l'");
  const Digest ok_sub = source.put(raw_directory({{K::kLink, "l", {}, "../x"}}));
  {
    TempDir t;  // the same link one level down is fine
    fs::create_directories(t.path() / "dest");
    auto s = materialize_tree(source, source.put(raw_directory({{K::kDir, "d", ok_sub, ""}})),
                              t.path() / "dest");
    EXPECT_TRUE(s.ok()) << s.error().message;
  }
  // Missing blobs.
  const Digest absent = digest_of(kXxh, "not in the source");
  expect_refused(source, source.put(raw_directory({{K::kFile, "f", absent, ""}})), Errc::kNotFound,
                 "'f'");
  expect_refused(source, source.put(raw_directory({{K::kDir, "d", absent, ""}})), Errc::kNotFound,
                 "'d'");
  expect_refused(source, absent, Errc::kNotFound, "missing");
  // A Directory blob whose bytes do not match its digest.
  const Digest lie = digest_of(kXxh, "something else");
  source.blobs[lie] = raw_directory({{K::kFile, "f", file, ""}});
  expect_refused(source, lie, Errc::kCorrupt, "does not match");
  // A directory that contains itself: only a lying source can serve it.
  const Digest self = digest_of(kXxh, "self");
  source.blobs[self] = raw_directory({{K::kDir, "d", self, ""}});
  expect_refused(source, self, Errc::kCorrupt, "does not match");
  // Not a Directory at all.
  expect_refused(source, source.put("garbage!"), Errc::kInvalidArgument, "directory");
  // A directory for the other digest function.
  const Digest sha_root = digest_of(DigestFunction::kSha256, "x");
  expect_refused(source, sha_root, Errc::kNotFound, "missing");
}

TEST(TreeTest, MaterializeRefusesWhatNoFileSystemHolds) {
  // A name over NAME_MAX (255 bytes) or a symlink target of PATH_MAX (4096)
  // or more: the system calls fail with ENAMETOOLONG, which came back as
  // kIo, an error of this machine, for what is a malformed tree (a worker
  // would report it as its own failure). Found by fuzz/tree_fuzz.
  FakeSource source;
  const Digest file = source.put("payload");
  const Digest empty_dir = source.put(*encode_directory(Directory{}, kXxh));
  using K = RawEntry;
  const std::string longest(255, 'n');
  const std::string too_long(256, 'n');
  expect_refused(source, source.put(raw_directory({{K::kFile, too_long, file, ""}})),
                 Errc::kInvalidArgument, "name");
  expect_refused(source, source.put(raw_directory({{K::kDir, too_long, empty_dir, ""}})),
                 Errc::kInvalidArgument, "name");
  expect_refused(source, source.put(raw_directory({{K::kLink, too_long, {}, "f"}})),
                 Errc::kInvalidArgument, "name");
  expect_refused(source, source.put(raw_directory({{K::kLink, "l", {}, std::string(4096, 'x')}})),
                 Errc::kInvalidArgument, "target");
  TempDir t;  // the longest name and target that fit are fine
  fs::create_directories(t.path() / "dest");
  const auto s =
      materialize_tree(source,
                       source.put(raw_directory({{K::kFile, longest, file, ""},
                                                 {K::kLink, "l", {}, std::string(4095, 'x')}})),
                       t.path() / "dest");
  EXPECT_TRUE(s.ok()) << s.error().message;
}

TEST(TreeTest, MaterializeBoundsDepth) {
  // An honest chain of 300 nested directories: deeper than the limit.
  FakeSource source;
  Digest d = source.put(*encode_directory(Directory{}, kXxh));
  for (int i = 0; i < 300; ++i) {
    d = source.put(*encode_directory(Directory{{}, {{"d", d}}, {}}, kXxh));
  }
  expect_refused(source, d, Errc::kInvalidArgument, "levels deep");
}

}  // namespace
}  // namespace kiln::cas
