#include "cas/input_root.h"

#include <gtest/gtest.h>

namespace kiln::cas {
namespace {

constexpr auto kFn = DigestFunction::kXxh3_128;

Digest d(const std::string& s) { return digest_of(kFn, s); }

Directory decoded(const BuiltTree& tree, const Digest& digest) {
  const std::string& bytes = tree.directories.at(digest);
  auto dir = decode_directory(std::as_bytes(std::span(bytes.data(), bytes.size())), kFn);
  EXPECT_TRUE(dir.ok());
  return *dir;
}

TEST(InputRoot, ImpliesParentsAndSortsEntries) {
  InputRootBuilder b(kFn);
  ASSERT_TRUE(b.add_file("src/z.c", d("z"), false).ok());
  ASSERT_TRUE(b.add_file("src/a.c", d("a"), false).ok());
  ASSERT_TRUE(b.add_file("run.sh", d("run"), true).ok());
  ASSERT_TRUE(b.add_symlink("link", "run.sh").ok());
  ASSERT_TRUE(b.add_tree("third_party", d("some tree")).ok());
  auto tree = b.finish();
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  const Directory root = decoded(*tree, tree->root);
  ASSERT_EQ(root.files.size(), 1u);
  EXPECT_TRUE(root.files[0].executable);
  ASSERT_EQ(root.directories.size(), 2u);
  EXPECT_EQ(root.directories[0].name, "src");
  EXPECT_EQ(root.directories[1].digest, d("some tree"));
  const Directory src = decoded(*tree, root.directories[0].digest);
  ASSERT_EQ(src.files.size(), 2u);
  EXPECT_EQ(src.files[0].name, "a.c");
}

TEST(InputRoot, OrderOfAdditionDoesNotMatter) {
  InputRootBuilder one(kFn);
  InputRootBuilder two(kFn);
  ASSERT_TRUE(one.add_file("a/b", d("1"), false).ok());
  ASSERT_TRUE(one.add_file("c", d("2"), false).ok());
  ASSERT_TRUE(two.add_file("c", d("2"), false).ok());
  ASSERT_TRUE(two.add_file("a/b", d("1"), false).ok());
  EXPECT_EQ(one.finish()->root, two.finish()->root);
}

TEST(InputRoot, SameThingTwiceIsFineDifferentThingIsNot) {
  InputRootBuilder b(kFn);
  ASSERT_TRUE(b.add_file("x", d("1"), false).ok());
  EXPECT_TRUE(b.add_file("x", d("1"), false).ok());
  auto clash = b.add_file("x", d("2"), false);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().message, "input 'x' is given twice with different contents");
}

TEST(InputRoot, NothingGoesInsideAFileOrAGraftedTree) {
  InputRootBuilder b(kFn);
  ASSERT_TRUE(b.add_file("f", d("1"), false).ok());
  ASSERT_TRUE(b.add_tree("t", d("tree")).ok());
  EXPECT_FALSE(b.add_file("f/inner", d("2"), false).ok());
  EXPECT_FALSE(b.add_file("t/inner", d("2"), false).ok());
  EXPECT_FALSE(b.add_file("t", d("2"), false).ok());
}

TEST(InputRoot, BadPathsAreRefused) {
  InputRootBuilder b(kFn);
  for (const char* path : {"", "/abs", "../up", "a/../b", "a//b", "a/./b"}) {
    EXPECT_FALSE(b.add_file(path, d("1"), false).ok()) << path;
  }
}

TEST(InputRoot, EmptyRootIsTheEmptyDirectory) {
  InputRootBuilder b(kFn);
  auto tree = b.finish();
  ASSERT_TRUE(tree.ok());
  EXPECT_EQ(tree->directories.size(), 1u);
}

}  // namespace
}  // namespace kiln::cas
