// RootedFiles against a temporary directory of symlink chains, ".." and
// broken links; relative_symlink_target on its own.
#include "exec/rooted_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace kiln::exec {

// How GoogleTest prints an entry (the name is GoogleTest's).
// NOLINTNEXTLINE(readability-identifier-naming)
void PrintTo(const RootedEntry& entry, std::ostream* out) {
  *out << (entry.kind == RootedEntry::Kind::kFile        ? "file "
           : entry.kind == RootedEntry::Kind::kDirectory ? "dir "
                                                         : "link ")
       << entry.path;
  if (entry.kind == RootedEntry::Kind::kSymlink) *out << " -> " << entry.target;
  if (entry.executable) *out << " (x)";
}

namespace {

namespace fs = std::filesystem;
using Kind = RootedEntry::Kind;

RootedEntry file(const fs::path& path, bool executable = false) {
  return {.kind = Kind::kFile, .path = path.string(), .target = {}, .executable = executable};
}
RootedEntry dir(const fs::path& path) {
  return {.kind = Kind::kDirectory, .path = path.string(), .target = {}, .executable = false};
}
RootedEntry link(const fs::path& path, const std::string& target) {
  return {.kind = Kind::kSymlink, .path = path.string(), .target = target, .executable = false};
}

std::string describe(const std::vector<RootedEntry>& entries) {
  std::ostringstream text;
  for (const auto& entry : entries) {
    PrintTo(entry, &text);
    text << "\n";
  }
  return text.str();
}

// "../" once per directory between the root and `dir`.
std::string up_to_root(const fs::path& dir) {
  std::string up;
  for (const auto& part : dir.relative_path()) {
    if (!part.empty()) up += "../";
  }
  return up;
}

class RootedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "real/dir");
    std::ofstream(root_ / "real/dir/file.h") << "header\n";
    std::ofstream(root_ / "real/dir/tool") << "#!/bin/sh\n";
    fs::permissions(root_ / "real/dir/tool", fs::perms::owner_exec, fs::perm_options::add);
    fs::create_directory_symlink("real", root_ / "rel");
    fs::create_directory_symlink(root_ / "real", root_ / "abs");
    fs::create_symlink("chain2", root_ / "chain1");
    fs::create_symlink("real/dir/file.h", root_ / "chain2");
    fs::create_symlink(root_ / "chain1", root_ / "abschain");
    fs::create_symlink("nowhere", root_ / "dangling");
    fs::create_symlink("loop2", root_ / "loop1");
    fs::create_symlink("loop1", root_ / "loop2");
    fs::create_directories(root_ / "up/a/b");
    fs::create_directory_symlink(root_ / "real/dir", root_ / "up/a/sym");
  }

  std::vector<RootedEntry> added(const fs::path& path) {
    RootedFiles files;
    const Status status = files.add_file(path.string());
    EXPECT_TRUE(status.ok()) << path << ": " << status.error().message;
    return files.entries();
  }

  test_support::TempDir temp_{"kiln-rooted"};
  const fs::path root_ = fs::canonical(temp_.path());
};

TEST_F(RootedFilesTest, APlainFileIsItself) {
  EXPECT_EQ(added(root_ / "real/dir/file.h"), std::vector{file(root_ / "real/dir/file.h")});
  EXPECT_EQ(added(root_ / "real/dir/tool"), std::vector{file(root_ / "real/dir/tool", true)});
}

TEST_F(RootedFilesTest, DirectorySymlinksAreRecordedWithRelativeTargets) {
  EXPECT_EQ(added(root_ / "rel/dir/file.h"),
            (std::vector{file(root_ / "real/dir/file.h"), link(root_ / "rel", "real")}));
  // An absolute target becomes relative to the link's directory.
  EXPECT_EQ(added(root_ / "abs/dir/file.h"),
            (std::vector{
                link(root_ / "abs", up_to_root(root_) + (root_ / "real").relative_path().string()),
                file(root_ / "real/dir/file.h")}));
}

TEST_F(RootedFilesTest, EveryLinkOfAChainIsRecorded) {
  const auto entries = added(root_ / "abschain");
  EXPECT_EQ(
      entries,
      (std::vector{
          link(root_ / "abschain", up_to_root(root_) + (root_ / "chain1").relative_path().string()),
          link(root_ / "chain1", "chain2"), link(root_ / "chain2", "real/dir/file.h"),
          file(root_ / "real/dir/file.h")}))
      << describe(entries);
}

TEST_F(RootedFilesTest, DotDotRecordsTheDirectoriesItStepsOutOf) {
  auto entries = added(root_.string() + "/up/a/b/../../.././real/.//dir//file.h");
  EXPECT_EQ(entries, (std::vector{file(root_ / "real/dir/file.h"), dir(root_ / "up"),
                                  dir(root_ / "up/a"), dir(root_ / "up/a/b")}))
      << describe(entries);
  // ".." after a symlink leaves the link's target, not the link's
  // directory: up/a/sym/.. is real, where there is a dir/file.h (and
  // lexically up/a/dir/file.h, which does not exist).
  entries = added(root_ / "up/a/sym/../dir/file.h");
  EXPECT_EQ(
      entries,
      (std::vector{dir(root_ / "real/dir"), file(root_ / "real/dir/file.h"),
                   link(root_ / "up/a/sym", up_to_root(root_ / "up/a") +
                                                (root_ / "real/dir").relative_path().string())}))
      << describe(entries);
}

TEST_F(RootedFilesTest, FailuresSayWhyAndAddNothing) {
  RootedFiles files;
  auto expect_error = [&](const std::string& path, Errc code) {
    const Status status = files.add_file(path);
    ASSERT_FALSE(status.ok()) << path;
    EXPECT_EQ(status.error().code, code) << path << ": " << status.error().message;
  };
  expect_error((root_ / "dangling").string(), Errc::kNotFound);
  expect_error((root_ / "rel/missing.h").string(), Errc::kNotFound);
  expect_error((root_ / "real/dir/file.h/x").string(), Errc::kNotFound);
  expect_error((root_ / "real/dir/file.h").string() + "/", Errc::kNotFound);
  expect_error((root_ / "real/dir").string(), Errc::kInvalidArgument);
  expect_error((root_ / "rel").string(), Errc::kInvalidArgument);
  expect_error((root_ / "rel/dir/..").string(), Errc::kInvalidArgument);
  expect_error((root_ / "loop1").string(), Errc::kInvalidArgument);
  expect_error("/dev/null", Errc::kInvalidArgument);
  expect_error("/", Errc::kInvalidArgument);
  expect_error("/bin", Errc::kInvalidArgument);  // a directory, or a symlink to /usr/bin
  expect_error("/kiln-nonexistent", Errc::kNotFound);
  expect_error("real/dir/file.h", Errc::kInvalidArgument);
  expect_error("", Errc::kInvalidArgument);
  EXPECT_TRUE(files.entries().empty()) << describe(files.entries());
  // The directory part resolved for a failed file is not lost for the next.
  ASSERT_TRUE(files.add_file((root_ / "rel/dir/file.h").string()).ok());
  EXPECT_EQ(files.entries(),
            (std::vector{file(root_ / "real/dir/file.h"), link(root_ / "rel", "real")}));
}

TEST_F(RootedFilesTest, FortySymlinksAreFollowedAndNotOneMore) {
  // link0 -> link1 -> ... -> linkN -> real/dir/file.h: N + 1 symlinks.
  auto chain = [&](int count) {
    const fs::path dir = root_ / ("chain" + std::to_string(count));
    fs::create_directory(dir);
    for (int i = 0; i + 1 < count; ++i) {
      fs::create_symlink("link" + std::to_string(i + 1), dir / ("link" + std::to_string(i)));
    }
    fs::create_symlink("../real/dir/file.h", dir / ("link" + std::to_string(count - 1)));
    return (dir / "link0").string();
  };
  RootedFiles files;
  EXPECT_TRUE(files.add_file(chain(40)).ok());
  const Status status = files.add_file(chain(41));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kInvalidArgument) << status.error().message;
}

TEST_F(RootedFilesTest, WorkingDirectories) {
  RootedFiles files;
  ASSERT_TRUE(files.add_directory((root_ / "rel/dir").string()).ok());
  ASSERT_TRUE(files.add_directory("/").ok());
  EXPECT_EQ(files.entries(), (std::vector{dir(root_ / "real/dir"), link(root_ / "rel", "real")}));
  const Status not_dir = files.add_directory((root_ / "real/dir/file.h").string());
  ASSERT_FALSE(not_dir.ok());
  EXPECT_EQ(not_dir.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(files.add_directory((root_ / "missing").string()).error().code, Errc::kNotFound);
}

TEST_F(RootedFilesTest, EntriesAreSortedAndMerged) {
  RootedFiles files;
  for (const char* path : {"abschain", "rel/dir/file.h", "real/dir/file.h", "rel/dir/tool",
                           "up/a/b/../../../rel/dir/file.h", "chain2"}) {
    ASSERT_TRUE(files.add_file((root_ / path).string()).ok()) << path;
  }
  ASSERT_TRUE(files.add_directory((root_ / "real/dir").string()).ok());
  const auto entries = files.entries();
  EXPECT_EQ(
      entries,
      (std::vector{
          link(root_ / "abschain", up_to_root(root_) + (root_ / "chain1").relative_path().string()),
          link(root_ / "chain1", "chain2"), link(root_ / "chain2", "real/dir/file.h"),
          dir(root_ / "real/dir"), file(root_ / "real/dir/file.h"),
          file(root_ / "real/dir/tool", true), link(root_ / "rel", "real"), dir(root_ / "up"),
          dir(root_ / "up/a"), dir(root_ / "up/a/b")}))
      << describe(entries);
}

TEST_F(RootedFilesTest, HeadersInSharedDirectoriesCostOneLstatEach) {
  const fs::path many = root_ / "real/many";
  fs::create_directory(many);
  constexpr int kHeaders = 300;
  for (int i = 0; i < kHeaders; ++i) std::ofstream(many / ("h" + std::to_string(i) + ".h"));
  RootedFiles files;
  // Through a symlink and "..", as GCC names its C++ headers.
  const std::string prefix = (root_ / "up/a/b/../../../rel/many/").string();
  for (int i = 0; i < kHeaders; ++i) {
    ASSERT_TRUE(files.add_file(prefix + "h" + std::to_string(i) + ".h").ok());
  }
  // The directory part once (every component of root_, up, a, b, rel and
  // its readlink, real, many), then one lstat per header.
  std::size_t depth = 0;
  for (const auto& part : root_.relative_path()) depth += part.empty() ? 0 : 1;
  EXPECT_EQ(files.filesystem_calls(), depth + 7 + kHeaders);
  EXPECT_EQ(files.entries().size(), std::size_t{kHeaders} + 4);  // + rel, up, up/a, up/a/b
  // Asked again, by another route: nothing new to look at.
  const std::size_t calls = files.filesystem_calls();
  for (int i = 0; i < kHeaders; ++i) {
    ASSERT_TRUE(files.add_file((many / ("h" + std::to_string(i) + ".h")).string()).ok());
  }
  EXPECT_EQ(files.filesystem_calls(), calls);
}

TEST(RelativeSymlinkTarget, AbsoluteTargetsClimbToTheRoot) {
  EXPECT_EQ(relative_symlink_target("/a/b/link", "/x/y"), "../../x/y");
  EXPECT_EQ(relative_symlink_target("/link", "/x/y"), "x/y");
  EXPECT_EQ(relative_symlink_target("/a/b/link", "//x//y/"), "../../x//y/");
  EXPECT_EQ(relative_symlink_target("/a/b/link", "/"), "../..");
  EXPECT_EQ(relative_symlink_target("/link", "/"), ".");
  EXPECT_EQ(relative_symlink_target("/a/link", "/../x"), "../x");
  // /usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
  EXPECT_EQ(relative_symlink_target("/usr/lib64/ld-linux-x86-64.so.2",
                                    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
            "../../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
}

TEST(RelativeSymlinkTarget, RelativeTargetsStayUnlessTheyClimbPastTheRoot) {
  EXPECT_EQ(relative_symlink_target("/usr/bin/clang++", "../lib/llvm-14/bin/clang++"),
            "../lib/llvm-14/bin/clang++");
  EXPECT_EQ(relative_symlink_target("/bin", "usr/bin"), "usr/bin");
  EXPECT_EQ(relative_symlink_target("/a/b/link", "./../../x"), "./../../x");
  // The kernel stops at "/": the extra ".." go.
  EXPECT_EQ(relative_symlink_target("/a/b/link", "../../../../x"), "../../x");
  EXPECT_EQ(relative_symlink_target("/link", "../x"), "x");
  EXPECT_EQ(relative_symlink_target("/a/link", "../.."), "..");
  // Only the leading run: a ".." after a name depends on what the name is.
  EXPECT_EQ(relative_symlink_target("/a/link", "x/../../../y"), "x/../../../y");
}

}  // namespace
}  // namespace kiln::exec
