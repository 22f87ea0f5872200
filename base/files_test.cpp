// read_file / write_file_atomically against a real temporary directory.
#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace kiln::base {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

void put(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ReadFile, ReadsAWholeFile) {
  TempDir dir;
  put(dir.path() / "a", "hello\nworld");
  auto data = read_file((dir.path() / "a").string());
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(*data, "hello\nworld");
}

TEST(ReadFile, MissingIsNotFoundAndNamesThePath) {
  TempDir dir;
  const std::string path = (dir.path() / "nope").string();
  auto data = read_file(path);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().code, Errc::kNotFound);
  EXPECT_NE(data.error().message.find(path), std::string::npos);
  auto maybe = read_file_if_exists(path);
  ASSERT_TRUE(maybe.ok());
  EXPECT_FALSE(maybe->has_value());
}

TEST(ReadFile, ADirectoryIsNotAFile) {
  TempDir dir;
  auto data = read_file(dir.path().string());
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(read_file_if_exists(dir.path().string()).ok());
}

TEST(ReadFile, RefusesFilesOverTheLimitBeforeReading) {
  TempDir dir;
  put(dir.path() / "big", std::string(1000, 'x'));
  ReadFileOptions options;
  options.max_bytes = 999;
  auto data = read_file((dir.path() / "big").string(), options);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().code, Errc::kResourceExhausted);
  options.max_bytes = 1000;
  EXPECT_TRUE(read_file((dir.path() / "big").string(), options).ok());
}

TEST(ReadFile, HandsEachChunkToTheCallback) {
  TempDir dir;
  put(dir.path() / "c", std::string(10, 'a') + std::string(10, 'b') + "cc");
  std::vector<std::string> chunks;
  ReadFileOptions options;
  options.chunk_bytes = 10;
  options.on_chunk = [&](std::string_view piece) { chunks.emplace_back(piece); };
  auto data = read_file((dir.path() / "c").string(), options);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(chunks, (std::vector<std::string>{std::string(10, 'a'), std::string(10, 'b'), "cc"}));
  EXPECT_EQ(*data, chunks[0] + chunks[1] + chunks[2]);
}

TEST(WriteFileAtomically, ReplacesTheFileAndLeavesNoTemporary) {
  TempDir dir;
  const fs::path target = dir.path() / "out";
  put(target, "old");
  ASSERT_TRUE(write_file_atomically(target.string(), "new contents").ok());
  EXPECT_EQ(*read_file(target.string()), "new contents");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(WriteFileAtomically, AppliesTheMode) {
  TempDir dir;
  const fs::path target = dir.path() / "tool";
  WriteFileOptions options;
  options.mode = 0755;
  options.durable = true;
  const mode_t old_mask = ::umask(022);
  ASSERT_TRUE(write_file_atomically(target.string(), "#!/bin/sh\n", options).ok());
  ::umask(old_mask);
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST(WriteFileAtomically, AMissingDirectoryIsAnErrorNamingThePath) {
  TempDir dir;
  const std::string target = (dir.path() / "no-such-dir" / "f").string();
  auto written = write_file_atomically(target, "x");
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, Errc::kNotFound);
  EXPECT_NE(written.error().message.find(target), std::string::npos);
}

TEST(WriteFileAtomically, AFailedRenameKeepsTheOldFile) {
  TempDir dir;
  // The target is a non-empty directory: rename(2) over it fails.
  const fs::path target = dir.path() / "d";
  fs::create_directories(target / "inside");
  ASSERT_FALSE(write_file_atomically(target.string(), "x").ok());
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(ReadFd, ReadsAPipeToItsEnd) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_TRUE(write_all(fds[1], "through a pipe", "pipe").ok());
  ::close(fds[1]);
  auto data = read_fd(fds[0], "pipe");
  ::close(fds[0]);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "through a pipe");
}

}  // namespace
}  // namespace kiln::base
