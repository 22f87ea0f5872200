// Digest functions, text form and file hashing. The XXH3-128 vectors are what
// `xxhsum -H2` prints, so kiln's digests agree with the command-line tool.
#include "cas/digest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace kiln::cas {
namespace {

TEST(DigestTest, Xxh3KnownVectors) {
  EXPECT_EQ(digest_of(DigestFunction::kXxh3_128, "").to_string(),
            "99aa06d3014798d86001c324468d497f/0");
  EXPECT_EQ(digest_of(DigestFunction::kXxh3_128, "abc").to_string(),
            "06b05ab6733a618578af5f94892f3950/3");
  // Long enough for the vectorized (dispatched) stripes loop.
  EXPECT_EQ(digest_of(DigestFunction::kXxh3_128, std::string(3000000, 'x')).hex(),
            "1f895bac9b72598405afde2f9995314a");
}

TEST(DigestTest, Sha256KnownVectors) {
  EXPECT_EQ(digest_of(DigestFunction::kSha256, "abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/3");
  EXPECT_EQ(digest_of(DigestFunction::kSha256, "").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(DigestTest, FunctionNames) {
  EXPECT_EQ(hash_size(DigestFunction::kXxh3_128), 16u);
  EXPECT_EQ(hash_size(DigestFunction::kSha256), 32u);
  for (auto fn : {DigestFunction::kXxh3_128, DigestFunction::kSha256}) {
    EXPECT_EQ(parse_digest_function(to_string(fn)), fn);
  }
  EXPECT_EQ(parse_digest_function("xxh3"), DigestFunction::kXxh3_128);
  EXPECT_EQ(parse_digest_function("sha-256"), DigestFunction::kSha256);
  EXPECT_EQ(parse_digest_function("md5"), std::nullopt);
}

TEST(DigestTest, TextRoundTrip) {
  for (auto fn : {DigestFunction::kXxh3_128, DigestFunction::kSha256}) {
    const Digest d = digest_of(fn, "hello, kiln");
    auto parsed = parse_digest(d.to_string());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, d);
  }
  auto upper = parse_digest("06B05AB6733A618578AF5F94892F3950/3");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(*upper, digest_of(DigestFunction::kXxh3_128, "abc"));
  auto max = parse_digest("06b05ab6733a618578af5f94892f3950/18446744073709551615");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->size, UINT64_MAX);
}

TEST(DigestTest, ParseErrors) {
  const std::string hex = "06b05ab6733a618578af5f94892f3950";
  for (const std::string& bad : std::vector<std::string>{
           std::string(""),
           hex,                             // missing size
           hex + "/",                       // empty size
           hex + "/-1",                     // not decimal
           hex + "/1x",                     // trailing junk
           hex + "/ 3",                     // space
           hex + "/18446744073709551616",   // 2^64: overflow
           hex + "/99999999999999999999",   // overflow, 20 digits
           hex + "/000000000000000000003",  // 21 digits
           hex.substr(1) + "/3",            // 31 digits
           hex + "0/3",                     // 33 digits
           "g" + hex.substr(1) + "/3",      // bad hex
           hex.substr(0, 31) + "z/3",       // bad hex at the end
           hex + hex.substr(0, 31) + "/3",  // 63 digits
           "/3",
       }) {
    auto parsed = parse_digest(bad);
    ASSERT_FALSE(parsed.ok()) << "'" << bad << "' parsed";
    EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument);
    EXPECT_FALSE(parsed.error().message.empty());
  }
}

TEST(DigestTest, FromBytes) {
  const Digest d = digest_of(DigestFunction::kSha256, "abc");
  auto ok = digest_from_bytes(DigestFunction::kSha256, d.hash_bytes(), 3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, d);
  auto bad = digest_from_bytes(DigestFunction::kXxh3_128, d.hash_bytes(), 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
}

TEST(DigestTest, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 300000; ++i) data.push_back(static_cast<char>(i * 7 + i / 13));
  for (auto fn : {DigestFunction::kXxh3_128, DigestFunction::kSha256}) {
    // Chunk sizes that straddle XXH3's 64-byte stripes and 1 KiB blocks.
    for (std::size_t chunk : {1ul, 63ul, 64ul, 1000ul, 1024ul, 65537ul, data.size()}) {
      Hasher hasher(fn);
      for (std::size_t at = 0; at < data.size(); at += chunk) {
        hasher.update(std::string_view(data).substr(at, chunk));
      }
      EXPECT_EQ(hasher.finish(), digest_of(fn, data)) << "chunk " << chunk;
    }
    Hasher empty(fn);
    EXPECT_EQ(empty.finish(), digest_of(fn, ""));
  }
}

TEST(DigestTest, HashAndOrder) {
  const Digest a = digest_of(DigestFunction::kXxh3_128, "a");
  const Digest b = digest_of(DigestFunction::kXxh3_128, "b");
  EXPECT_NE(a, b);
  EXPECT_NE(DigestHash{}(a), DigestHash{}(b));
  EXPECT_EQ(DigestHash{}(a), DigestHash{}(digest_of(DigestFunction::kXxh3_128, "a")));
  EXPECT_TRUE(a < b || b < a);
}

}  // namespace
}  // namespace kiln::cas
