#include "reapi/digests.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::reapi {
namespace {

const std::string kHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

v2::Digest digest(const std::string& hash, std::int64_t size) {
  v2::Digest d;
  d.set_hash(hash);
  d.set_size_bytes(size);
  return d;
}

TEST(ReapiDigest, ASha256DigestRoundTrips) {
  auto d = from_proto(digest(kHash, 0));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->function, cas::DigestFunction::kSha256);
  EXPECT_EQ(d->hex(), kHash);
  EXPECT_EQ(to_proto(*d).hash(), kHash);
  EXPECT_EQ(to_proto(*d).size_bytes(), 0);
  EXPECT_EQ(to_text(digest(kHash, 12)), kHash + "/12");
}

TEST(ReapiDigest, MalformedDigestsAreRefused) {
  std::string upper = kHash;
  upper[0] = 'E';
  for (const auto& bad : {digest(kHash.substr(1), 1), digest(kHash + "0", 1), digest(upper, 1),
                          digest("", 0), digest(std::string(32, 'a'), 1),  // an XXH3 length
                          digest(kHash, -1), digest(kHash, std::int64_t{1} << 62)}) {
    auto d = from_proto(bad);
    ASSERT_FALSE(d.ok()) << bad.hash() << "/" << bad.size_bytes();
    EXPECT_EQ(d.error().code, Errc::kInvalidArgument);
  }
}

TEST(ReapiDigest, OnlySha256IsServed) {
  EXPECT_TRUE(check_digest_function(v2::DigestFunction::UNKNOWN).ok());
  EXPECT_TRUE(check_digest_function(v2::DigestFunction::SHA256).ok());
  for (auto other : {v2::DigestFunction::SHA1, v2::DigestFunction::MD5, v2::DigestFunction::BLAKE3,
                     static_cast<v2::DigestFunction::Value>(77)}) {
    const Status s = check_digest_function(other);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("SHA256"), std::string::npos) << s.error().message;
  }
}

TEST(ReapiResource, ReadNames) {
  auto plain = parse_read_resource("blobs/" + kHash + "/5");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(plain->zstd);
  EXPECT_EQ(plain->digest.size, 5u);
  auto instance = parse_read_resource("my/instance/compressed-blobs/zstd/" + kHash + "/5");
  ASSERT_TRUE(instance.ok()) << instance.error().message;
  EXPECT_TRUE(instance->zstd);
  for (const std::string& bad : std::vector<std::string>{
           "", "blobs", "blobs/" + kHash, "blobs/" + kHash + "/x", "blobs/" + kHash + "/5/extra",
           "compressed-blobs/deflate/" + kHash + "/5", "compressed-blobs/" + kHash + "/5",
           "uploads/u/blobs/" + kHash + "/5x", "blobs/" + kHash.substr(2) + "/5"}) {
    auto r = parse_read_resource(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(ReapiResource, WriteNames) {
  auto w = parse_write_resource("inst/uploads/4f1e-uuid/blobs/" + kHash + "/7/meta/data");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->upload_id, "4f1e-uuid");
  EXPECT_FALSE(w->zstd);
  auto z = parse_write_resource("uploads/u/compressed-blobs/zstd/" + kHash + "/7");
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_TRUE(z->zstd);
  for (const std::string& bad : std::vector<std::string>{
           "blobs/" + kHash + "/7", "uploads//blobs/" + kHash + "/7", "uploads/u/blobs/" + kHash,
           "uploads/u/compressed-blobs/brotli/" + kHash + "/7",
           "uploads/u/other/" + kHash + "/7"}) {
    EXPECT_FALSE(parse_write_resource(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace kiln::reapi
