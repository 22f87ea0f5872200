// put_tree against a real store and a real directory.
#include "cas/put_tree.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace kiln::cas {
namespace {

namespace fs = std::filesystem;

TEST(PutTree, StoresWhatIsMissingOnce) {
  test_support::TempDir dir;
  fs::create_directories(dir.path() / "src" / "sub");
  std::ofstream(dir.path() / "src" / "a.txt") << "alpha";
  std::ofstream(dir.path() / "src" / "sub" / "b.txt") << "beta";
  StoreOptions options;
  options.dir = dir.path() / "store";
  auto store = Store::open(options);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto tree = build_tree(dir.path() / "src", DigestFunction::kXxh3_128);
  ASSERT_TRUE(tree.ok());

  auto first = put_tree(**store, *tree);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->blobs.size(), 4u);  // two Directories, two files
  EXPECT_EQ(first->added, 4u);
  for (const Digest& d : first->blobs) EXPECT_TRUE(*(*store)->contains(d));
  auto again = put_tree(**store, *tree);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->added, 0u);
  EXPECT_EQ(again->added_bytes, 0u);
}

TEST(PutTree, AFileChangedSinceTheTreeWasBuiltIsRefused) {
  test_support::TempDir dir;
  fs::create_directories(dir.path() / "src");
  std::ofstream(dir.path() / "src" / "a.txt") << "before";
  StoreOptions options;
  options.dir = dir.path() / "store";
  auto store = Store::open(options);
  ASSERT_TRUE(store.ok());
  auto tree = build_tree(dir.path() / "src", DigestFunction::kXxh3_128);
  ASSERT_TRUE(tree.ok());
  std::ofstream(dir.path() / "src" / "a.txt") << "after!";
  auto put = put_tree(**store, *tree);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, Errc::kIo);
  EXPECT_NE(put.error().message.find("changed while it was being stored"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cas
