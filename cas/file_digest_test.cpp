// digest_file against real files.
#include "cas/file_digest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace kiln::cas {
namespace {

TEST(FileDigestTest, DigestFile) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kiln_digest_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string data(3u << 20, '\0');  // more than digest_file's 1 MiB block
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 251);
  {
    std::ofstream out(dir / "blob", std::ios::binary);
    out << data;
  }
  for (auto fn : {DigestFunction::kXxh3_128, DigestFunction::kSha256}) {
    auto d = digest_file(fn, (dir / "blob").string());
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, digest_of(fn, data));
  }
  auto missing = digest_file(DigestFunction::kXxh3_128, (dir / "missing").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  auto is_dir = digest_file(DigestFunction::kXxh3_128, dir.string());
  ASSERT_FALSE(is_dir.ok());
  EXPECT_EQ(is_dir.error().code, Errc::kIo);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln::cas
