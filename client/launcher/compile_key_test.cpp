// What the launcher's keys cover, rule by rule.
#include "client/launcher/compile_key.h"

#include <gtest/gtest.h>

#include <variant>

namespace kiln::client::launcher {
namespace {

using cas::DigestFunction;

CompileArgs parse(std::vector<std::string> argv) {
  auto result = analyze_compile(argv, [](const std::string&) { return std::nullopt; });
  return std::get<CompileArgs>(result);
}

cas::Digest digest(std::string_view text) {
  return cas::digest_of(DigestFunction::kXxh3_128, text);
}

std::string key(const CompileArgs& args, const std::string& cwd, const std::string& basedir,
                std::map<std::string, std::string> env = {}) {
  DirectKeyInput input;
  input.identity = digest("gcc");
  input.args = &args;
  input.rewrite = PathRewrite{basedir, cwd};
  input.environment = &env;
  input.source_digest = digest("int x;");
  return direct_key_material(input);
}

TEST(PathRewrite, PathsUnderTheBaseBecomeRelativeToTheWorkingDirectory) {
  const PathRewrite rw{"/w/a", "/w/a/build"};
  bool rewritten = false;
  EXPECT_EQ(rw.to_key("/w/a/src/x.cc", &rewritten), "../src/x.cc");
  EXPECT_TRUE(rewritten);
  EXPECT_EQ(rw.to_key("/usr/include/stdio.h", &rewritten), "/usr/include/stdio.h");
  EXPECT_FALSE(rewritten);
  EXPECT_EQ(rw.to_key("/w/ab/x.h"), "/w/ab/x.h");  // a sibling sharing a prefix
  EXPECT_EQ(rw.to_key("relative.h"), "relative.h");
  EXPECT_EQ((PathRewrite{"/w/a", "/w/a"}).to_key("/w/a/x.h"), "x.h");
  EXPECT_EQ((PathRewrite{"/w/a", "/w"}).to_key("/w/a/x.h"), "a/x.h");
  EXPECT_EQ((PathRewrite{"", "/w"}).to_key("/w/a/x.h"), "/w/a/x.h");
}

TEST(PathRewrite, FromKeyRestoresThePathInThisCheckout) {
  const PathRewrite here{"/w/a", "/w/a/build"};
  EXPECT_EQ(here.from_key(here.to_key("/w/a/src/../inc/y.h")), "/w/a/src/../inc/y.h");
  const PathRewrite there{"/v", "/v/b/build"};
  EXPECT_EQ(there.from_key("../src/x.cc"), "/v/b/src/x.cc");
  EXPECT_EQ(there.from_key("."), "/v/b/build");
}

TEST(PathRewrite, OptionsWithPaths) {
  const PathRewrite rw{"/w/a", "/w/a/build"};
  EXPECT_EQ(rw.arg_to_key("-I/w/a/include"), "-I../include");
  EXPECT_EQ(rw.arg_to_key("-isystem/w/a/third"), "-isystem../third");
  EXPECT_EQ(rw.arg_to_key("/w/a/include"), "../include");
  EXPECT_EQ(rw.arg_to_key("-fdebug-prefix-map=/w/a/build=."), "-fdebug-prefix-map=.=.");
  EXPECT_EQ(rw.arg_to_key("-O2"), "-O2");
  EXPECT_EQ(rw.arg_to_key("-I/usr/include"), "-I/usr/include");
}

TEST(MappedDirectory, LastMatchingMapWins) {
  EXPECT_EQ(mapped_directory("/w/a/build", {}), "/w/a/build");
  EXPECT_EQ(mapped_directory("/w/a/build", {"-fdebug-prefix-map=/w/a=/src"}), "/src/build");
  EXPECT_EQ(mapped_directory("/w/a/build",
                             {"-fdebug-prefix-map=/w=/x", "-ffile-prefix-map=/w/a/build=."}),
            ".");
  EXPECT_EQ(mapped_directory("/w/a/build", {"-fdebug-prefix-map=/other=."}), "/w/a/build");
}

TEST(TimeMacros, FoundWhereverTheyAre) {
  EXPECT_FALSE(scan_time_macros("int x = __LINE__;").time);
  EXPECT_TRUE(scan_time_macros("const char* t = __TIME__;").time);
  EXPECT_TRUE(scan_time_macros("x __TIMESTAMP__").time);
  const TimeMacros date = scan_time_macros("__DATE__");
  EXPECT_TRUE(date.date);
  EXPECT_FALSE(date.time);
}

TEST(DirectKey, TwoCheckoutsShareAKeyOnlyUnderABaseDirectory) {
  const auto a = parse({"g++", "-I/w/a/include", "-c", "/w/a/src/x.cc", "-o", "x.o"});
  const auto b = parse({"g++", "-I/v/b/include", "-c", "/v/b/src/x.cc", "-o", "x.o"});
  EXPECT_NE(key(a, "/w/a/build", ""), key(b, "/v/b/build", ""));
  EXPECT_EQ(key(a, "/w/a/build", "/w/a"), key(b, "/v/b/build", "/v/b"));
  // One base directory above both checkouts, as KILN_BASEDIR=$HOME.
  EXPECT_EQ(key(a, "/w/a/build", "/"), key(b, "/v/b/build", "/"));
}

TEST(DirectKey, DebugInfoPutsTheMappedWorkingDirectoryInTheKey) {
  const auto a = parse({"g++", "-g", "-c", "/w/a/x.cc"});
  const auto b = parse({"g++", "-g", "-c", "/v/b/x.cc"});
  EXPECT_NE(key(a, "/w/a", "/w/a"), key(b, "/v/b", "/v/b"));
  const auto am = parse({"g++", "-g", "-fdebug-prefix-map=/w/a=.", "-c", "/w/a/x.cc"});
  const auto bm = parse({"g++", "-g", "-fdebug-prefix-map=/v/b=.", "-c", "/v/b/x.cc"});
  EXPECT_EQ(key(am, "/w/a", "/w/a"), key(bm, "/v/b", "/v/b"));
}

TEST(DirectKey, WhatChangesTheOutputChangesTheKey) {
  const auto base = parse({"gcc", "-O2", "-c", "x.c"});
  const std::string k = key(base, "/w", "");
  EXPECT_NE(k, key(parse({"gcc", "-O2", "-DX", "-c", "x.c"}), "/w", ""));
  EXPECT_NE(k, key(parse({"gcc", "-O1", "-c", "x.c"}), "/w", ""));
  EXPECT_NE(k, key(base, "/w", "", {{"CPATH", "/opt/include"}}));
  EXPECT_NE(k, key(base, "/w", "", {{"SOURCE_DATE_EPOCH", "1"}}));
  // Not in the key: the output's name, dependency-file options, unrelated
  // variables, and (without -g) the working directory.
  EXPECT_EQ(k, key(parse({"gcc", "-O2", "-c", "x.c", "-o", "y.o", "-MD", "-MF", "y.d"}), "/w", ""));
  EXPECT_EQ(k, key(base, "/w", "", {{"HOME", "/root"}}));
  EXPECT_EQ(k, key(base, "/elsewhere", ""));
}

TEST(Manifest, RoundTripsAndRefusesAnythingElse) {
  Manifest m;
  m.entries.push_back({{{"../src/x.cc", true, digest("a"), {}},
                        {"/usr/include/stdio.h",
                         false,
                         digest("b"),
                         {2049, 1234567, 321, -5, 1700000000000000000}}},
                       digest("result")});
  m.entries.push_back({{{"x.c", false, digest("c"), {}}}, digest("other")});
  const std::string text = encode_manifest(m);
  EXPECT_EQ(decode_manifest(text, DigestFunction::kXxh3_128), m);
  EXPECT_FALSE(decode_manifest(text, DigestFunction::kSha256));
  EXPECT_FALSE(decode_manifest("garbage", DigestFunction::kXxh3_128));
  EXPECT_FALSE(decode_manifest(text.substr(0, text.size() - 3), DigestFunction::kXxh3_128));
  EXPECT_FALSE(decode_manifest("kiln-manifest-v2\nE zz 1\n", DigestFunction::kXxh3_128));
  EXPECT_FALSE(decode_manifest("kiln-manifest-v2\nE " + digest("r").to_string() + " 1\na " +
                                   digest("f").to_string() + " 1 2 x.h\n",
                               DigestFunction::kXxh3_128));  // stat fields missing
  EXPECT_FALSE(decode_manifest("kiln-manifest-v1\nE " + digest("r").to_string() + " 99999999999\n",
                               DigestFunction::kXxh3_128));
  EXPECT_EQ(decode_manifest("kiln-manifest-v2\n", DigestFunction::kXxh3_128), Manifest{});
  // A path with spaces survives: it is the rest of the line.
  Manifest spaced;
  spaced.entries.push_back({{{"a dir/b c.h", false, digest("s"), {}}}, digest("r")});
  EXPECT_EQ(decode_manifest(encode_manifest(spaced), DigestFunction::kXxh3_128), spaced);
}

TEST(Manifest, NewestFirstDeduplicatedAndBounded) {
  Manifest m;
  for (std::size_t i = 0; i < kMaxManifestEntries + 5; ++i) {
    add_manifest_entry(m, {{{"x.h", false, digest(std::to_string(i)), {}}}, digest("r")});
  }
  EXPECT_EQ(m.entries.size(), kMaxManifestEntries);
  EXPECT_EQ(m.entries.front().files[0].digest, digest(std::to_string(kMaxManifestEntries + 4)));
  add_manifest_entry(m, {{{"x.h", false, digest("10"), {1, 2, 3, 4, 5}}}, digest("new")});
  EXPECT_EQ(m.entries.size(), kMaxManifestEntries);
  EXPECT_EQ(m.entries.front().result, digest("new"));
  EXPECT_EQ(std::count_if(m.entries.begin(), m.entries.end(),
                          [](const ManifestEntry& e) { return e.files[0].digest == digest("10"); }),
            1);
}

TEST(DependResult, DependsOnEveryFileAndDigest) {
  const std::vector<ManifestFile> files = {{"x.h", false, digest("1"), {}}};
  const std::vector<ManifestFile> changed = {{"x.h", false, digest("2"), {}}};
  EXPECT_NE(depend_result_material(digest("k"), files),
            depend_result_material(digest("k"), changed));
  EXPECT_NE(depend_result_material(digest("k"), files), depend_result_material(digest("j"), files));
}

TEST(ScanHasInclude, FindsLiteralProbesOnce) {
  const std::string text =
      "#if __has_include(<sys/single_threaded.h>)\n"
      "#elif __has_include ( \"local.h\" ) || __has_include_next(<next.h>)\n"
      "# define T __has_include(<sys/single_threaded.h>)\n"
      "#if __has_include(MACRO_NAME) || __has_include(<unterminated\n";
  EXPECT_EQ(scan_has_include(text),
            (std::vector<HeaderProbe>{
                {"sys/single_threaded.h", true}, {"local.h", false}, {"next.h", true}}));
  EXPECT_TRUE(scan_has_include("int x; // no probes").empty());
}

TEST(IncludeDirs, JoinedAndSeparateInOrder) {
  EXPECT_EQ(include_dirs({"-Iinc", "-DX", "-isystem", "/sys", "-iquote", "q", "-idirafter/late",
                          "-include", "pre.h", "-I", "sep"}),
            (std::vector<std::string>{"inc", "/sys", "q", "/late", "sep"}));
}

}  // namespace
}  // namespace kiln::client::launcher
