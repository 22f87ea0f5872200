// find_program against real directories with real executables.
#include "base/program_path.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace kiln::base {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

void make_program(const fs::path& path, mode_t mode = 0755) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "#!/bin/sh\n";
  ::chmod(path.c_str(), mode);
}

TEST(SplitSearchPath, KeepsEmptyEntries) {
  EXPECT_EQ(split_search_path("/a::/b:"), (std::vector<std::string_view>{"/a", "", "/b", ""}));
  EXPECT_EQ(split_search_path(""), (std::vector<std::string_view>{""}));
}

TEST(FindProgram, FirstExecutableInPathOrder) {
  TempDir dir;
  make_program(dir.path() / "one" / "tool", 0644);  // not executable: skipped
  make_program(dir.path() / "two" / "tool");
  make_program(dir.path() / "three" / "tool");
  const std::string path = (dir.path() / "one").string() + ":" + (dir.path() / "two").string() +
                           ":" + (dir.path() / "three").string();
  EXPECT_EQ(find_program("tool", {.path = path}), (dir.path() / "two" / "tool").string());
  EXPECT_EQ(find_program("missing", {.path = path}), std::nullopt);
}

TEST(FindProgram, DirectoriesAreNotPrograms) {
  TempDir dir;
  fs::create_directories(dir.path() / "a" / "tool");
  make_program(dir.path() / "b" / "tool");
  const std::string path = (dir.path() / "a").string() + ":" + (dir.path() / "b").string();
  EXPECT_EQ(find_program("tool", {.path = path}), (dir.path() / "b" / "tool").string());
}

TEST(FindProgram, RelativeAndEmptyEntriesResolveAgainstCwd) {
  TempDir dir;
  make_program(dir.path() / "bin" / "tool");
  make_program(dir.path() / "here");
  EXPECT_EQ(find_program("tool", {.path = "bin", .cwd = dir.path()}),
            (dir.path() / "bin" / "tool").string());
  EXPECT_EQ(find_program("here", {.path = ":/nonexistent", .cwd = dir.path()}),
            (dir.path() / "here").string());
}

TEST(FindProgram, ANameWithASlashIsNotSearched) {
  TempDir dir;
  make_program(dir.path() / "bin" / "tool");
  EXPECT_EQ(find_program("bin/tool", {.path = "/nonexistent", .cwd = dir.path()}),
            (dir.path() / "bin" / "tool").string());
  EXPECT_EQ(find_program("./bin/../bin/tool", {.path = "", .cwd = dir.path()}),
            (dir.path() / "bin" / "tool").string());
  EXPECT_EQ(find_program("bin/nope", {.cwd = dir.path()}), std::nullopt);
}

TEST(FindProgram, TheCallerDecidesWhatCounts) {
  TempDir dir;
  make_program(dir.path() / "a" / "gcc");  // say, a symlink to kiln itself
  make_program(dir.path() / "b" / "gcc");
  const std::string skip = (dir.path() / "a" / "gcc").string();
  ProgramSearch search;
  const std::string path = (dir.path() / "a").string() + ":" + (dir.path() / "b").string();
  search.path = path;
  search.accept = [&](const std::string& candidate) {
    return candidate != skip && is_executable_file(candidate);
  };
  EXPECT_EQ(find_program("gcc", search), (dir.path() / "b" / "gcc").string());
}

}  // namespace
}  // namespace kiln::base
