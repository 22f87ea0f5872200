// parse_size / format_size.
#include "base/size.h"

#include <gtest/gtest.h>

namespace kiln::base {
namespace {

TEST(Size, ParseAndFormat) {
  EXPECT_EQ(*parse_size("1000"), 1000u);
  EXPECT_EQ(*parse_size("64K"), 64u << 10);
  EXPECT_EQ(*parse_size("512M"), 512u << 20);
  EXPECT_EQ(*parse_size("10G"), 10ull << 30);
  EXPECT_EQ(*parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(*parse_size("2 GiB"), 2ull << 30);
  EXPECT_EQ(*parse_size("3kb"), 3u << 10);
  EXPECT_EQ(*parse_size("1T"), 1ull << 40);
  for (const char* bad :
       {"", "G", "-1", "1.5", "10X", "1GG", "99999999999999999999", "16777216T"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(64u << 10), "64 KiB");
  EXPECT_EQ(format_size(3ull << 29), "1.5 GiB");
  EXPECT_EQ(format_size(10ull << 30), "10 GiB");
  for (std::uint64_t v : {0ull, 1023ull, 1ull << 20, 5ull << 40}) {
    EXPECT_EQ(*parse_size(format_size(v)), v);
  }
}

}  // namespace
}  // namespace kiln::base
