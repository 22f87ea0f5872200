// Canonical encoding of the data model: round trips, a golden digest that
// pins the byte format, and decoders fed crafted, non-canonical and random
// bytes. Hostile bytes are made with the raw Cap'n Proto builder, which can
// express what the plain value types and encode_* refuse.
#include "cas/model.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "proto/model.capnp.h"

namespace kiln::cas {
namespace {

constexpr auto kXxh = DigestFunction::kXxh3_128;
constexpr auto kSha = DigestFunction::kSha256;

std::span<const std::byte> as_span(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

Digest blob(std::string_view text, DigestFunction fn = kXxh) { return digest_of(fn, text); }

Directory sample_directory(DigestFunction fn = kXxh) {
  Directory dir;
  dir.files = {{"README", blob("readme", fn), false}, {"run.sh", blob("#!/bin/sh", fn), true}};
  dir.directories = {{"include", blob("include dir", fn)}, {"src", blob("src dir", fn)}};
  dir.symlinks = {{"latest", "src/v2"}, {"up", "include/../src"}};
  return dir;
}

Command sample_command() {
  Command c;
  c.arguments = {"g++", "-c", "a.cpp", "-o", "out/a.o", ""};
  c.environment = {{"LANG", "C"}, {"PATH", "/usr/bin:/bin"}, {"Z", ""}};
  c.working_directory = "src/lib";
  c.output_files = {"out/a.d", "out/a.o"};
  c.output_directories = {"gen", "gen2/x"};
  c.platform = {{"arch", "x86_64"}, {"os", "linux"}, {"os", "linux-gnu"}};
  return c;
}

ActionResult sample_result(DigestFunction fn = kXxh) {
  ActionResult r;
  r.exit_code = -11;
  r.output_files = {{"out/a.o", blob("object", fn), false}, {"out/tool", blob("elf", fn), true}};
  r.output_directories = {{"gen", blob("tree", fn)}};
  r.stdout_digest = blob("", fn);
  r.stderr_digest = blob("warning", fn);
  r.metadata = {"worker-7", 1, 2, 3, 4, 5, 6, 7, 8, 9};
  return r;
}

// Canonical bytes of whatever the raw builder holds: lets a test write
// values that encode_* would refuse.
template <typename Reader>
std::string raw_canonical(Reader reader) {
  auto words = capnp::canonicalize(reader);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

void set_raw_digest(schema::Digest::Builder b, const Digest& d) {
  b.setHash(capnp::Data::Reader(d.hash_bytes().data(), d.hash_bytes().size()));
  b.setSizeBytes(d.size);
}

struct RawFile {
  std::string name;
  Digest digest;
};

std::string raw_directory(const std::vector<RawFile>& files,
                          const std::vector<std::string>& dirs = {},
                          const std::vector<std::pair<std::string, std::string>>& links = {}) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Directory>();
  if (!files.empty()) {
    auto list = root.initFiles(static_cast<unsigned>(files.size()));
    for (unsigned i = 0; i < files.size(); ++i) {
      list[i].setName(capnp::Text::Reader(files[i].name.data(), files[i].name.size()));
      set_raw_digest(list[i].initDigest(), files[i].digest);
    }
  }
  if (!dirs.empty()) {
    auto list = root.initDirectories(static_cast<unsigned>(dirs.size()));
    for (unsigned i = 0; i < dirs.size(); ++i) {
      list[i].setName(capnp::Text::Reader(dirs[i].data(), dirs[i].size()));
      set_raw_digest(list[i].initDigest(), blob(dirs[i]));
    }
  }
  if (!links.empty()) {
    auto list = root.initSymlinks(static_cast<unsigned>(links.size()));
    for (unsigned i = 0; i < links.size(); ++i) {
      list[i].setName(capnp::Text::Reader(links[i].first.data(), links[i].first.size()));
      list[i].setTarget(capnp::Text::Reader(links[i].second.data(), links[i].second.size()));
    }
  }
  return raw_canonical(root.asReader());
}

void expect_invalid(const Result<Directory>& r, std::string_view needle) {
  ASSERT_FALSE(r.ok()) << "accepted; expected an error containing '" << needle << "'";
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(ModelTest, ValidateName) {
  EXPECT_TRUE(validate_name("a").ok());
  EXPECT_TRUE(validate_name("...").ok());
  EXPECT_TRUE(validate_name(".hidden").ok());
  EXPECT_TRUE(validate_name("sp ace\xc3\xa9").ok());
  EXPECT_TRUE(validate_name(std::string(255, 'n')).ok());
  const std::string too_long(256, 'n');  // over NAME_MAX
  for (std::string_view bad : std::vector<std::string_view>{
           "", ".", "..", "a/b", "/", std::string_view("a\0b", 3), too_long}) {
    auto s = validate_name(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
  }
}

TEST(ModelTest, ValidateRelativePath) {
  for (std::string_view good : {"a", "a/b", "a/.b/c...", "x/y/z"}) {
    EXPECT_TRUE(validate_relative_path(good).ok()) << good;
  }
  for (std::string_view bad :
       std::vector<std::string_view>{"", "/a", "a/", "a//b", "../a", "a/..", "a/../b", "./a", "a/.",
                                     "/", std::string_view("a\0", 2)}) {
    auto s = validate_relative_path(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, Errc::kInvalidArgument);
  }
}

TEST(ModelTest, DirectoryRoundTrip) {
  for (auto fn : {kXxh, kSha}) {
    const Directory dir = sample_directory(fn);
    auto bytes = encode_directory(dir, fn);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    EXPECT_EQ(bytes->size() % 8, 0u);
    auto back = decode_directory(as_span(*bytes), fn);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, dir);
    auto again = encode_directory(*back, fn);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *bytes);
  }
  auto empty = encode_directory(Directory{}, kXxh);
  ASSERT_TRUE(empty.ok());
  auto back = decode_directory(as_span(*empty), kXxh);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, Directory{});
}

// Pins the byte format: if this changes, every digest in every deployed
// store changes with it. Change it only together with a format version.
// The golden values were cross-checked with the capnp tool, independently of
// kiln: the sample written as a text literal, then
//   capnp convert text:canonical proto/model.capnp Directory | xxhsum -H2
TEST(ModelTest, GoldenDirectoryDigest) {
  auto bytes = encode_directory(sample_directory(), kXxh);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(digest_of(kXxh, *bytes).to_string(), "ca28cc87f81312f060f5c159c3b1c20b/368");
  auto empty = encode_directory(Directory{}, kXxh);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(digest_of(kXxh, *empty).to_string(), "9126e16ba58661bc139613ae065cd39b/8");
}

TEST(ModelTest, EncodeRefusesBadDirectories) {
  const Digest d = blob("x");
  auto check = [](const Directory& dir, std::string_view needle, DigestFunction fn = kXxh) {
    auto r = encode_directory(dir, fn);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  check(Directory{{{"b", d, false}, {"a", d, false}}, {}, {}}, "not sorted");
  check(Directory{{{"a", d, false}, {"a", d, true}}, {}, {}}, "duplicate");
  check(Directory{{}, {{"b", d}, {"a", d}}, {}}, "not sorted");
  check(Directory{{}, {}, {{"b", "t"}, {"a", "t"}}}, "not sorted");
  check(Directory{{{"a", d, false}}, {{"a", d}}, {}}, "more than one list");
  check(Directory{{}, {{"a", d}}, {{"a", "t"}}}, "more than one list");
  // Bytewise order: 'B' (0x42) < 'a' (0x61) < '\xc3'.
  check(Directory{{{"a", d, false}, {"B", d, false}}, {}, {}}, "not sorted");
  EXPECT_TRUE(
      encode_directory(
          Directory{{{"B", d, false}, {"a", d, false}, {"\xc3\xa9", d, false}}, {}, {}}, kXxh)
          .ok());
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a/b", std::string("a\0b", 3)}) {
    check(Directory{{{bad, d, false}}, {}, {}}, "name");
    check(Directory{{}, {{bad, d}}, {}}, "name");
    check(Directory{{}, {}, {{bad, "t"}}}, "name");
  }
  check(Directory{{}, {}, {{"l", "/etc"}}}, "absolute");
  check(Directory{{}, {}, {{"l", ""}}}, "empty target");
  check(Directory{{{"a", blob("x", kSha), false}}, {}, {}}, "sha256");
  check(Directory{{{"a", d, false}}, {}, {}}, "xxh3-128", kSha);
}

TEST(ModelTest, DecodeRefusesCraftedDirectories) {
  const Digest d = blob("x");
  // The raw helper itself produces acceptable bytes for a valid value.
  auto good = raw_directory({{"a", d}, {"b", d}}, {"c"}, {{"d", "a"}});
  ASSERT_TRUE(decode_directory(as_span(good), kXxh).ok());

  expect_invalid(decode_directory(as_span(raw_directory({{"b", d}, {"a", d}})), kXxh),
                 "not sorted");
  expect_invalid(decode_directory(as_span(raw_directory({{"a", d}, {"a", d}})), kXxh), "duplicate");
  expect_invalid(decode_directory(as_span(raw_directory({}, {"b", "a"})), kXxh), "not sorted");
  expect_invalid(decode_directory(as_span(raw_directory({{"a", d}}, {"a"})), kXxh),
                 "more than one");
  expect_invalid(decode_directory(as_span(raw_directory({}, {}, {{"b", "x"}, {"a", "x"}})), kXxh),
                 "not sorted");
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "../x", "a/b", std::string("a\0b", 3)}) {
    expect_invalid(decode_directory(as_span(raw_directory({{bad, d}})), kXxh), "name");
    expect_invalid(decode_directory(as_span(raw_directory({}, {bad})), kXxh), "name");
    expect_invalid(decode_directory(as_span(raw_directory({}, {}, {{bad, "x"}})), kXxh), "name");
  }
  expect_invalid(decode_directory(as_span(raw_directory({}, {}, {{"l", "/etc"}})), kXxh),
                 "absolute");
  // Hash lengths: a SHA-256 hash in an xxh3-128 directory and vice versa.
  expect_invalid(decode_directory(as_span(raw_directory({{"a", blob("x", kSha)}})), kXxh), "16");
  expect_invalid(decode_directory(as_span(good), kSha), "32");
  auto no_hash = [&] {
    capnp::MallocMessageBuilder message;
    auto list = message.initRoot<schema::Directory>().initFiles(1);
    list[0].setName("a");
    list[0].initDigest().setSizeBytes(1);  // no hash at all
    return raw_canonical(message.getRoot<schema::Directory>().asReader());
  }();
  expect_invalid(decode_directory(as_span(no_hash), kXxh), "0 bytes");
}

TEST(ModelTest, DecodeRefusesNonCanonicalBytes) {
  const Directory dir = sample_directory();
  const std::string canonical = *encode_directory(dir, kXxh);

  // Trailing words after the message.
  expect_invalid(decode_directory(as_span(canonical + std::string(8, '\0')), kXxh), "canonical");
  // Not a whole number of words, and empty.
  expect_invalid(decode_directory(as_span(canonical.substr(0, canonical.size() - 3)), kXxh),
                 "multiple");
  expect_invalid(decode_directory(as_span(std::string()), kXxh), "multiple");

  // The builder's own segment is a valid message, but not canonical: the
  // digest struct keeps its zero data word (sizeBytes = 0) that canonical
  // form trims.
  {
    capnp::MallocMessageBuilder message;
    auto files = message.initRoot<schema::Directory>().initFiles(1);
    files[0].setName("a");
    set_raw_digest(files[0].initDigest(), blob(""));
    auto segments = message.getSegmentsForOutput();
    ASSERT_EQ(segments.size(), 1u);
    auto bytes = segments[0].asBytes();
    const std::string raw(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
    const std::string canon = raw_canonical(message.getRoot<schema::Directory>().asReader());
    ASSERT_NE(raw, canon);
    expect_invalid(decode_directory(as_span(raw), kXxh), "canonical");
    EXPECT_TRUE(decode_directory(as_span(canon), kXxh).ok());
  }
  // Canonical Cap'n Proto, but an explicitly empty list where kiln writes
  // none: the same value must have exactly one byte form.
  {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::Directory>();
    root.initSymlinks(0);
    expect_invalid(decode_directory(as_span(raw_canonical(root.asReader())), kXxh), "canonical");
  }
}

TEST(ModelTest, DecodeRefusesAmplification) {
  // Root struct with 3 pointers; `files` points at an inline-composite list
  // of 2^28 zero-sized structs: 5 words that claim 268 million elements.
  // The traversal limit (a few times the message size) stops the read.
  const std::uint64_t words[5] = {
      std::uint64_t{3} << 48,                                  // root: 0 data, 3 ptrs
      1 | (std::uint64_t{2} << 2) | (std::uint64_t{7} << 32),  // files: composite
      0,                                                       // directories
      0,                                                       // symlinks
      (std::uint64_t{1} << 28) << 2,                           // tag: 2^28 x 0 words
  };
  const std::string bytes(reinterpret_cast<const char*>(words), sizeof words);
  auto r = decode_directory(as_span(bytes), kXxh);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("traversal limit"), std::string::npos) << r.error().message;
}

TEST(ModelTest, GarbageNeverCrashes) {
  std::mt19937_64 rng(42);
  const std::string valid = *encode_directory(sample_directory(), kXxh);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng() % 200);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (i % 4 == 0) bytes.resize(bytes.size() / 8 * 8);
    } else {
      bytes = valid;  // a valid message with a few bytes flipped
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
      }
    }
    auto dir = decode_directory(as_span(bytes), kXxh);
    auto cmd = decode_command(as_span(bytes));
    auto act = decode_action(as_span(bytes), kXxh);
    auto res = decode_action_result(as_span(bytes), kSha);
    if (dir.ok()) {
      ++accepted;
      EXPECT_EQ(*encode_directory(*dir, kXxh), bytes);  // only canonical bytes pass
    }
    if (cmd.ok()) {
      EXPECT_EQ(*encode_command(*cmd), bytes);
    }
    if (act.ok()) {
      EXPECT_EQ(*encode_action(*act, kXxh), bytes);
    }
    if (res.ok()) {
      EXPECT_EQ(*encode_action_result(*res, kSha), bytes);
    }
  }
  RecordProperty("accepted", accepted);
}

TEST(ModelTest, CommandRoundTripAndRules) {
  const Command c = sample_command();
  auto bytes = encode_command(c);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto back = decode_command(as_span(*bytes));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, c);
  auto empty = encode_command(Command{});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*decode_command(as_span(*empty)), Command{});

  auto refused = [](auto mutate, std::string_view needle) {
    Command bad = sample_command();
    mutate(bad);
    auto r = encode_command(bad);
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  refused([](Command& x) { std::swap(x.environment[0], x.environment[1]); }, "not sorted");
  refused([](Command& x) { x.environment[1].name = "LANG"; }, "duplicate");
  refused([](Command& x) { x.environment[0].name = "A=B"; }, "'='");
  refused([](Command& x) { x.environment[0].name = ""; }, "empty");
  refused([](Command& x) { x.arguments[0] = std::string("a\0b", 3); }, "NUL");
  refused([](Command& x) { x.working_directory = "../up"; }, "working directory");
  refused([](Command& x) { x.working_directory = "/abs"; }, "absolute");
  refused([](Command& x) { std::swap(x.output_files[0], x.output_files[1]); }, "not sorted");
  refused([](Command& x) { x.output_files[1] = "out/a.d"; }, "duplicate");
  refused([](Command& x) { x.output_files[0] = "/etc/passwd"; }, "absolute");
  refused([](Command& x) { x.output_directories[0] = "a/../.."; }, "reserved");
  refused([](Command& x) { std::swap(x.platform[1], x.platform[2]); }, "platform");
  refused([](Command& x) { x.platform[2] = x.platform[1]; }, "platform");

  // The same rules hold on decode: unsorted environment from raw bytes.
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Command>();
  auto env = root.initEnvironment(2);
  env[0].setName("B");
  env[1].setName("A");
  auto r = decode_command(as_span(raw_canonical(root.asReader())));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not sorted"), std::string::npos) << r.error().message;
}

TEST(ModelTest, ActionRoundTripAndRules) {
  for (auto fn : {kXxh, kSha}) {
    Action a;
    a.command_digest = blob("command", fn);
    a.input_root_digest = blob("root", fn);
    a.timeout_ms = 60000;
    a.do_not_cache = true;
    a.salt = std::string("s\0lt\xff", 5);
    auto bytes = encode_action(a, fn);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto back = decode_action(as_span(*bytes), fn);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, a);
    // The digest function is part of the action: decoding under the other
    // function fails.
    const auto other = fn == kXxh ? kSha : kXxh;
    auto wrong = decode_action(as_span(*bytes), other);
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().code, Errc::kInvalidArgument);
    EXPECT_FALSE(encode_action(a, other).ok());
  }
  // Different salts, different keys.
  Action a{blob("c"), blob("r"), 0, false, "1"};
  Action b = a;
  b.salt = "2";
  EXPECT_NE(*encode_action(a, kXxh), *encode_action(b, kXxh));
}

TEST(ModelTest, ActionResultRoundTripAndRules) {
  for (auto fn : {kXxh, kSha}) {
    const ActionResult r = sample_result(fn);
    auto bytes = encode_action_result(r, fn);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto back = decode_action_result(as_span(*bytes), fn);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, r);
  }
  ActionResult bad = sample_result();
  std::swap(bad.output_files[0], bad.output_files[1]);
  EXPECT_FALSE(encode_action_result(bad, kXxh).ok());
  bad = sample_result();
  bad.output_directories[0].path = "../gen";
  EXPECT_FALSE(encode_action_result(bad, kXxh).ok());
  bad = sample_result();
  bad.stderr_digest = blob("x", kSha);
  EXPECT_FALSE(encode_action_result(bad, kXxh).ok());
}

}  // namespace
}  // namespace kiln::cas
