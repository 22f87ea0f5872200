// Tests of the LMDB store's API contract: blobs, corruption, the action
// cache, eviction, stats, digest functions, full maps, sizes. Crashes, full
// disks and concurrent processes are in store_crash_test.cpp.
#include "cas/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "cas/record.h"
#include "cas/store_test_util.h"

namespace kiln::cas {
namespace {

using namespace store_testing;

TEST_F(StoreTest, PutGetContainsAndDedup) {
  auto s = open();
  ASSERT_TRUE(s);
  auto a = s->put(std::string_view("hello"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, digest_xxh("hello"));
  ASSERT_TRUE(s->put(std::string_view("hello")).ok());  // dedup
  auto got = s->get(*a);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, "hello");
  EXPECT_TRUE(*s->contains(*a));
  const Digest absent = digest_xxh("absent");
  EXPECT_FALSE(*s->contains(absent));
  EXPECT_FALSE(s->get(absent)->has_value());
  auto empty = s->put(std::string_view(""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(**s->get(*empty), "");
  auto st = s->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->blob_count, 2u);
  EXPECT_EQ(st->total_bytes, 5u);
  EXPECT_EQ(st->file_blob_count, 0u);
  EXPECT_EQ(st->map_size, 64u << 20);
  EXPECT_GT(st->map_used_bytes, 0u);
}

TEST_F(StoreTest, FindMissingKeepsOrderAndDeduplicates) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put(std::string_view("b")).ok());
  const std::vector<Digest> asked = {digest_xxh("c"), digest_xxh("b"), digest_xxh("a"),
                                     digest_xxh("c"), digest_xxh("d")};
  auto missing = s->find_missing(asked);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, (std::vector<Digest>{digest_xxh("c"), digest_xxh("a"), digest_xxh("d")}));
}

TEST_F(StoreTest, FileBlobsRoundTripAndAreCopiedNotLinked) {
  auto s = open();
  ASSERT_TRUE(s);
  const std::string big = make_blob(1, 100'000);
  auto d = s->put(big);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(fs::exists(blob_file(dir, *d)));
  EXPECT_EQ(**s->get(*d), big);

  const fs::path src = tmp.path() / "src.bin";
  std::ofstream(src, std::ios::binary) << make_blob(2, 50'000);
  auto f = s->put_file(src);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(*f, digest_xxh(make_blob(2, 50'000)));
  std::ofstream(tmp.path() / "small.bin", std::ios::binary) << "small";
  EXPECT_EQ(*s->put_file(tmp.path() / "small.bin"), digest_xxh("small"));
  EXPECT_EQ(s->stats()->file_blob_count, 2u);

  const fs::path out = tmp.path() / "out";
  fs::create_directory(out);
  const int dfd = ::open(out.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  EXPECT_TRUE(*s->write_blob_to(*d, dfd, "big", true));
  EXPECT_TRUE(*s->write_blob_to(digest_xxh("small"), dfd, "small", false));
  EXPECT_FALSE(*s->write_blob_to(digest_xxh("nope"), dfd, "nope", false));
  ::close(dfd);
  std::ifstream in(out / "big", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), big);
  struct stat copy {
  }, stored{};
  ASSERT_EQ(::stat((out / "big").c_str(), &copy), 0);
  ASSERT_EQ(::stat(blob_file(dir, *d).c_str(), &stored), 0);
  EXPECT_NE(copy.st_ino, stored.st_ino);
  EXPECT_EQ(stored.st_nlink, 1u);
  EXPECT_TRUE(copy.st_mode & S_IXUSR);
  EXPECT_FALSE(fs::exists(out / "nope"));
}

// adopt_file moves a file the caller hashed into the store: no copy; a
// wrong size is refused; the file is gone either way; small ones go inline.
TEST_F(StoreTest, AdoptFileMovesAVerifiedFileIn) {
  auto s = open();
  ASSERT_TRUE(s);
  const std::string big = make_blob(3, 100'000);
  const fs::path upload = tmp.path() / "upload.bin";
  std::ofstream(upload, std::ios::binary) << big;
  struct stat before {};
  ASSERT_EQ(::stat(upload.c_str(), &before), 0);
  ASSERT_TRUE(s->adopt_file(digest_xxh(big), upload).ok());
  EXPECT_FALSE(fs::exists(upload));
  struct stat stored {};
  ASSERT_EQ(::stat(blob_file(dir, digest_xxh(big)).c_str(), &stored), 0);
  EXPECT_EQ(stored.st_ino, before.st_ino);  // moved, not copied
  EXPECT_EQ(**s->get(digest_xxh(big)), big);

  std::ofstream(upload, std::ios::binary) << big;  // present already: the file goes
  EXPECT_TRUE(s->adopt_file(digest_xxh(big), upload).ok());
  EXPECT_FALSE(fs::exists(upload));

  const std::string other = make_blob(4, 100'000);
  std::ofstream(upload, std::ios::binary) << other.substr(1);
  const Status short_file = s->adopt_file(digest_xxh(other), upload);
  ASSERT_FALSE(short_file.ok());
  EXPECT_EQ(short_file.error().code, Errc::kCorrupt);
  EXPECT_FALSE(fs::exists(upload));
  EXPECT_FALSE(*s->contains(digest_xxh(other)));

  std::ofstream(upload, std::ios::binary) << "small";
  ASSERT_TRUE(s->adopt_file(digest_xxh("small"), upload).ok());
  EXPECT_EQ(**s->get(digest_xxh("small")), "small");
  EXPECT_FALSE(fs::exists(upload));
}

TEST_F(StoreTest, WrongDigestIsCorruptAndStoresNothing) {
  auto s = open();
  ASSERT_TRUE(s);
  for (std::size_t size : {100u, 100'000u}) {
    const std::string data = make_blob(3, size);
    Digest wrong = digest_xxh(data);
    wrong.hash[0] ^= 1;
    Status st = s->put(wrong, std::as_bytes(std::span(data.data(), data.size())));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::kCorrupt);
    EXPECT_FALSE(*s->contains(wrong));
    EXPECT_FALSE(*s->contains(digest_xxh(data)));
  }
  EXPECT_EQ(s->stats()->blob_count, 0u);
  EXPECT_EQ(s->stats()->total_bytes, 0u);
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
  EXPECT_TRUE(fs::is_empty(dir / "files"));
}

TEST_F(StoreTest, CorruptFileBlobIsDroppedWithAWarning) {
  auto s = open();
  ASSERT_TRUE(s);
  const std::string data = make_blob(4, 40'000);
  auto d = s->put(data);
  ASSERT_TRUE(d.ok());
  {
    std::fstream f(blob_file(dir, *d), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1234);
    f.put(static_cast<char>(data[1234] ^ 0x20));
  }
  auto got = s->get(*d);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(d->to_string()), std::string::npos);
  EXPECT_FALSE(*s->contains(*d));
  EXPECT_FALSE(fs::exists(blob_file(dir, *d)));
  EXPECT_EQ(s->stats()->total_bytes, 0u);
  ASSERT_TRUE(s->put(data).ok());  // and it can be stored again
  EXPECT_EQ(**s->get(*d), data);
}

TEST_F(StoreTest, CorruptInlineBlobIsDroppedWithAWarning) {
  const std::string data = make_blob(5, 3000);
  Digest d;
  {
    auto s = open();
    ASSERT_TRUE(s);
    d = *s->put(data);
  }
  // LMDB keeps no checksums: flip a byte of the blob inside data.mdb.
  std::fstream f(dir / "data.mdb", std::ios::in | std::ios::out | std::ios::binary);
  const std::string db((std::istreambuf_iterator<char>(f)), {});
  const auto pos = db.find(data);
  ASSERT_NE(pos, std::string::npos);
  f.seekp(static_cast<std::streamoff>(pos + 100));
  f.put(static_cast<char>(data[100] ^ 1));
  f.close();
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->get(d)->has_value());
  EXPECT_EQ(warnings.size(), 1u);
  EXPECT_FALSE(*s->contains(d));
  EXPECT_EQ(s->stats()->blob_count, 0u);
}

TEST_F(StoreTest, ActionCacheHitsOnlyWhenEveryBlobIsPresent) {
  auto s = open();
  ASSERT_TRUE(s);
  const Digest out = *s->put(make_blob(6, 100));
  const Digest log = *s->put(make_blob(7, 30'000));  // a file blob
  const Digest act1 = digest_xxh("action1");
  const Digest act2 = digest_xxh("action2");
  const std::vector<Digest> refs = {out, log};
  ASSERT_TRUE(s->put_action_result(act1, "result1", refs).ok());
  auto hit = s->get_action_result(act1);
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(hit->value_or("miss"), "result1");
  EXPECT_FALSE(s->get_action_result(digest_xxh("unknown"))->has_value());

  const std::vector<Digest> with_missing = {out, digest_xxh("never stored")};
  ASSERT_TRUE(s->put_action_result(act2, "result2", with_missing).ok());
  EXPECT_FALSE(s->get_action_result(act2)->has_value());
  EXPECT_EQ(s->stats()->action_count, 2u);

  // Overwrite keeps one entry.
  ASSERT_TRUE(s->put_action_result(act1, "result1b", refs).ok());
  EXPECT_EQ(s->get_action_result(act1)->value_or("miss"), "result1b");

  // Evicting everything takes the entries naming the blobs along.
  auto report = s->gc(0);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->evicted_blobs, 2u);
  EXPECT_EQ(report->evicted_actions, 2u);
  EXPECT_EQ(report->total_bytes_after, 0u);
  EXPECT_FALSE(s->get_action_result(act1)->has_value());
  EXPECT_EQ(s->stats()->action_count, 0u);
  EXPECT_FALSE(fs::exists(blob_file(dir, log)));
}

TEST_F(StoreTest, RecordsRoundTripAndAreFoundOnlyByTheirName) {
  auto s = open();
  ASSERT_TRUE(s);
  const Digest key = digest_xxh("record key");
  EXPECT_FALSE(get_record(*s, key, "manifest")->has_value());
  ASSERT_TRUE(put_record(*s, key, "manifest", "first").ok());
  EXPECT_EQ(get_record(*s, key, "manifest")->value_or("none"), "first");
  // Another name under the same key is not this record.
  EXPECT_FALSE(get_record(*s, key, "durations.json")->has_value());
  // Replacing it.
  ASSERT_TRUE(put_record(*s, key, "manifest", "second").ok());
  EXPECT_EQ(get_record(*s, key, "manifest")->value_or("none"), "second");
  // An undecodable action-cache entry is an error, never a record.
  const Digest action = digest_xxh("an action");
  ASSERT_TRUE(s->put_action_result(action, "not an encoded result", {}).ok());
  EXPECT_FALSE(get_record(*s, action, "manifest").ok());
  // Evicted with its blob.
  ASSERT_TRUE(s->gc(0).ok());
  EXPECT_FALSE(get_record(*s, key, "manifest")->has_value());
}

TEST_F(StoreTest, EvictionIsLeastRecentlyUsedAndReadsRefresh) {
  auto o = options();
  o.max_size = 10 * 2000;
  o.file_threshold = 3000;
  auto s = open(o);
  ASSERT_TRUE(s);
  std::vector<Digest> d;
  for (int i = 0; i < 8; ++i) {
    d.push_back(*s->put(make_blob(100 + i, i % 2 ? 2000 : 4000)));  // files and inline
    std::this_thread::sleep_for(milliseconds(3));
  }
  // Sizes 4000, 2000, 4000, ...: the 7th put reaches 22,000 > 20,000 and
  // evicts the oldest down to 18,000; the 8th brings it back to 20,000.
  EXPECT_FALSE(*s->contains(d[0]));
  for (int i = 1; i < 8; ++i) EXPECT_TRUE(*s->contains(d[i])) << i;
  EXPECT_EQ(s->stats()->total_bytes, 20'000u);

  // Reads are recorded at a coarse granularity (1 s): wait it out, read the
  // oldest blob, and flush; the next eviction then skips it.
  std::this_thread::sleep_for(milliseconds(1100));
  ASSERT_TRUE(s->get(d[1])->has_value());
  ASSERT_TRUE(s->flush_access().ok());
  ASSERT_TRUE(s->put(make_blob(200, 4000)).ok());  // 24,000: evicts d2, d3
  EXPECT_TRUE(*s->contains(d[1]));
  EXPECT_FALSE(*s->contains(d[2]));
  EXPECT_FALSE(*s->contains(d[3]));
  EXPECT_TRUE(*s->contains(d[4]));
  EXPECT_EQ(s->stats()->total_bytes, 18'000u);

  // A read buffered without flush_access() rides on the next put.
  std::this_thread::sleep_for(milliseconds(1100));
  ASSERT_TRUE(s->get(d[4])->has_value());
  ASSERT_TRUE(s->put(make_blob(201, 2000)).ok());  // 20,000: at the limit
  ASSERT_TRUE(s->put(make_blob(202, 2000)).ok());  // 22,000: evicts d5, d6
  EXPECT_TRUE(*s->contains(d[4]));
  EXPECT_FALSE(*s->contains(d[5]));
  EXPECT_FALSE(*s->contains(d[6]));
  EXPECT_TRUE(*s->contains(d[7]));
  EXPECT_TRUE(*s->contains(d[1]));
  EXPECT_EQ(s->stats()->total_bytes, 16'000u);
}

TEST_F(StoreTest, GcAndStats) {
  auto s = open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->put(make_blob(i, 1000 + 10'000 * (i % 3))).ok());
  auto before = s->stats();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->blob_count, 10u);
  EXPECT_EQ(before->file_blob_count, 3u);
  EXPECT_EQ(before->total_bytes, 10 * 1000u + 3 * 10'000 + 3 * 20'000);
  auto report = s->gc(50'000);
  ASSERT_TRUE(report.ok());
  EXPECT_LE(report->total_bytes_after, 50'000u);
  EXPECT_EQ(report->total_bytes_after + report->evicted_bytes, before->total_bytes);
  auto after = s->stats();
  EXPECT_EQ(after->total_bytes, report->total_bytes_after);
  EXPECT_EQ(after->blob_count, 10 - report->evicted_blobs);
  EXPECT_EQ(s->gc(50'000)->evicted_blobs, 0u);
}

// What a writer killed between rename and commit, or mid-write, leaves
// behind: gc removes it once it is an hour old, and nothing indexed.
TEST_F(StoreTest, GcRemovesOrphanedFilesAndTempFiles) {
  auto s = open();
  ASSERT_TRUE(s);
  const Digest kept = *s->put(make_blob(20, 30'000));
  const std::string orphan_bytes = make_blob(21, 30'000);
  const Digest orphan = digest_xxh(orphan_bytes);
  fs::create_directories(fs::path(blob_file(dir, orphan)).parent_path());
  std::ofstream(blob_file(dir, orphan), std::ios::binary) << orphan_bytes;
  std::ofstream(dir / "tmp" / "blob.old") << "partial";
  std::ofstream(dir / "tmp" / "blob.new") << "in progress";
  const timespec old[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
  for (const std::string& p :
       {blob_file(dir, orphan), blob_file(dir, kept), (dir / "tmp" / "blob.old").string()}) {
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), old, 0), 0);
  }
  EXPECT_FALSE(*s->contains(orphan));
  auto report = s->gc(1u << 30);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->evicted_blobs, 0u);
  EXPECT_FALSE(fs::exists(blob_file(dir, orphan)));
  EXPECT_FALSE(fs::exists(dir / "tmp" / "blob.old"));
  EXPECT_TRUE(fs::exists(dir / "tmp" / "blob.new"));
  EXPECT_EQ(s->get(kept)->value_or(""), make_blob(20, 30'000));
}

TEST_F(StoreTest, OtherDigestFunctionAndForeignDirectoriesAreRejected) {
  { ASSERT_TRUE(open()); }
  auto o = options();
  o.function = DigestFunction::kSha256;
  auto s = Store::open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
  EXPECT_NE(s.error().message.find("xxh3-128"), std::string::npos) << s.error().message;

  o.dir = tmp.path() / "home";
  fs::create_directory(o.dir);
  std::ofstream(o.dir / "notes.txt") << "mine";
  s = Store::open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument);

  o.dir = tmp.path() / "garbage";
  fs::create_directory(o.dir);
  std::ofstream(o.dir / "data.mdb") << std::string(20000, 'x');
  s = Store::open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kInvalidArgument) << s.error().message;
}

TEST_F(StoreTest, Sha256StoreWorks) {
  auto o = options();
  o.function = DigestFunction::kSha256;
  auto s = open(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->digest_function(), DigestFunction::kSha256);
  const std::string big = make_blob(9, 20'000);
  auto a = s->put(std::string_view("abc"));
  auto b = s->put(big);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(**s->get(*a), "abc");
  EXPECT_EQ(**s->get(*b), big);
  ASSERT_TRUE(s->put_action_result(*a, "r", std::vector<Digest>{*b}).ok());
  EXPECT_EQ(s->get_action_result(*a)->value_or(""), "r");
  // An XXH3 digest is a usage error, not a miss.
  EXPECT_EQ(s->get(digest_xxh("abc")).error().code, Errc::kInvalidArgument);
}

TEST_F(StoreTest, FullMapIsResourceExhaustedAndKeepsBlobs) {
  auto o = options();
  o.map_size = 1u << 20;
  o.file_threshold = 1u << 20;
  auto s = open(o);
  ASSERT_TRUE(s);
  std::vector<std::string> stored;
  Error error;
  for (int i = 0; i < 200; ++i) {
    const std::string blob = make_blob(300 + i, 20'000);
    auto d = s->put(blob);
    if (!d.ok()) {
      error = d.error();
      break;
    }
    stored.push_back(blob);
  }
  ASSERT_FALSE(stored.empty());
  ASSERT_LT(stored.size(), 200u) << "the map never filled";
  EXPECT_EQ(error.code, Errc::kResourceExhausted);
  EXPECT_EQ(error.message.rfind("store is full: cannot store blob: ", 0), 0u) << error.message;
  EXPECT_EQ(s->stats()->blob_count, stored.size());
  for (const auto& b : stored) EXPECT_EQ(s->get(digest_xxh(b))->value_or(""), b);
  s.reset();
  s = open(o);
  ASSERT_TRUE(s);
  for (const auto& b : stored) EXPECT_TRUE(*s->contains(digest_xxh(b)));
  // gc makes room again.
  auto report = s->gc(s->stats()->total_bytes / 2);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(s->put(make_blob(299, 20'000)).ok());
}

}  // namespace
}  // namespace kiln::cas
