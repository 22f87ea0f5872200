// Toolchain identities and detection, against the compilers on this machine.
#include "exec/toolchain.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

TEST(Toolchain, CompilerNames) {
  for (const char* yes :
       {"gcc", "g++", "cc", "c++", "clang", "clang++", "gcc-12", "g++-12", "clang-14",
        "clang++-14.0", "x86_64-linux-gnu-g++-12", "x86_64-linux-gnu-gcc"}) {
    EXPECT_TRUE(is_compiler_name(yes)) << yes;
  }
  for (const char* no : {"gcc-ar", "gcc-nm-12", "x86_64-linux-gnu-gcc-ar-12", "ccache", "kiln",
                         "clang-tidy", "g++-", "-gcc", "gccx", "c++filt", "clang-format-14"}) {
    EXPECT_FALSE(is_compiler_name(no)) << no;
  }
}

TEST(Toolchain, IdentityIsStableAndCached) {
  if (::access("/usr/bin/gcc", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/gcc";
  const fs::path cache = fs::temp_directory_path() / ("kiln-tc-" + std::to_string(::getpid()));
  auto first = toolchain_identity("/usr/bin/gcc", cas::DigestFunction::kXxh3_128, cache);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto cached = toolchain_identity("/usr/bin/gcc", cas::DigestFunction::kXxh3_128, cache);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(*first, *cached);
  auto uncached = toolchain_identity("/usr/bin/gcc", cas::DigestFunction::kXxh3_128, {});
  ASSERT_TRUE(uncached.ok());
  EXPECT_EQ(*first, *uncached);
  // A corrupt cache entry is recomputed, not trusted.
  for (const auto& entry : fs::directory_iterator(cache)) std::ofstream(entry.path()) << "garbage";
  auto again = toolchain_identity("/usr/bin/gcc", cas::DigestFunction::kXxh3_128, cache);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
  fs::remove_all(cache);
  EXPECT_FALSE(toolchain_identity("/nonexistent/gcc", cas::DigestFunction::kXxh3_128, {}).ok());
}

TEST(Toolchain, DetectsCompilersOnPath) {
  if (::access("/usr/bin/gcc", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/gcc";
  const auto found = detect_toolchains("/usr/bin:/nonexistent", cas::DigestFunction::kXxh3_128);
  bool gcc = false;
  for (const auto& p : found) {
    EXPECT_EQ(p.name.rfind("toolchain:/", 0), 0u) << p.name;
    if (p.name == "toolchain:/usr/bin/gcc") gcc = true;
  }
  EXPECT_TRUE(gcc);
}

}  // namespace
}  // namespace kiln::exec
