#include "client/launcher/stats.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace kiln::client::launcher {
namespace {

namespace fs = std::filesystem;
using kiln::test_support::TempDir;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

StatsCounters zeros() {
  return {{"direct_hit", 0},         {"preprocessed_hit", 0},
          {"remote_hit", 0},         {"miss_local", 0},
          {"miss_remote", 0},        {"miss_remote_fallback", 0},
          {"compile_failed", 0},     {"error", 0},
          {"link_hit", 0},           {"link_miss", 0},
          {"miss_remote_headers", 0}};
}

StatsCounters read_ok(const fs::path& file) {
  auto r = read_stats(file);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return *r;
}

TEST(CompileStats, FileFormatRoundTrips) {
  const StatsCounters c = {{"direct_hit", 3},
                           {"uncacheable:linking", 10},
                           {"uncacheable:preprocessing only (-E)", 2},
                           {"uncacheable:unknown option -foo=a b:c", 1},
                           {"error", 18446744073709551615ULL}};
  const std::string text = format_stats_file(c);
  EXPECT_EQ(text,
            "direct_hit 3\n"
            "error 18446744073709551615\n"
            "uncacheable:linking 10\n"
            "uncacheable:preprocessing only (-E) 2\n"
            "uncacheable:unknown option -foo=a b:c 1\n");
  EXPECT_EQ(parse_stats_file(text), c);
  EXPECT_EQ(parse_stats_file(""), StatsCounters{});
  EXPECT_EQ(parse_stats_file("a 1\r\n\nb 2"), (StatsCounters{{"a", 1}, {"b", 2}}));
  EXPECT_EQ(parse_stats_file("a 1\na 2\n"), (StatsCounters{{"a", 3}}));
}

TEST(CompileStats, FileFormatRejectsGarbageAndCleansNames) {
  EXPECT_EQ(parse_stats_file("direct_hit\n"), std::nullopt);
  EXPECT_EQ(parse_stats_file(" 5\n"), std::nullopt);
  EXPECT_EQ(parse_stats_file("a \n"), std::nullopt);
  EXPECT_EQ(parse_stats_file("a -1\n"), std::nullopt);
  EXPECT_EQ(parse_stats_file("a 1x\n"), std::nullopt);
  EXPECT_EQ(parse_stats_file("a 18446744073709551616\n"), std::nullopt);
  EXPECT_EQ(parse_stats_file("ok 1\n\x01\x02garbage"), std::nullopt);
  EXPECT_EQ(format_stats_file({{"uncacheable:two\nlines", 1}, {"", 4}}),
            "uncacheable:two lines 1\n");
  EXPECT_EQ(uncacheable_stat("linking"), "uncacheable:linking");
}

TEST(CompileStats, MissingFileReadsAsZeros) {
  TempDir dir;
  EXPECT_EQ(read_ok(dir.path() / "nope" / "stats"), zeros());
}

TEST(CompileStats, AddCreatesDirectoriesAndAccumulates) {
  TempDir dir;
  const fs::path file = dir.path() / "a" / "b" / "stats";
  ASSERT_TRUE(add_stats(file, {{"direct_hit", 1}, {"uncacheable:linking", 2}}));
  ASSERT_TRUE(add_stats(file, {{"direct_hit", 4}, {"uncacheable:output to stdout", 1}}));
  StatsCounters expected = zeros();
  expected["direct_hit"] = 5;
  expected["uncacheable:linking"] = 2;
  expected["uncacheable:output to stdout"] = 1;
  EXPECT_EQ(read_ok(file), expected);
  EXPECT_EQ(slurp(file), "direct_hit 5\nuncacheable:linking 2\nuncacheable:output to stdout 1\n");
  // No temporary file is left beside it: only the counters and their lock.
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path() / "a" / "b"))
    names.insert(entry.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"stats", "stats.lock"}));
}

TEST(CompileStats, AdditionSaturates) {
  TempDir dir;
  const fs::path file = dir.path() / "stats";
  ASSERT_TRUE(add_stats(file, {{"error", 18446744073709551610ULL}}));
  ASSERT_TRUE(add_stats(file, {{"error", 100}}));
  EXPECT_EQ(read_ok(file)["error"], 18446744073709551615ULL);
}

TEST(CompileStats, CorruptFileCountsAsZerosAndIsRewritten) {
  TempDir dir;
  const fs::path file = dir.path() / "stats";
  spit(file, "direct_hit 12\nthis is not a counter line\n");
  EXPECT_EQ(read_ok(file), zeros());
  ASSERT_TRUE(add_stats(file, {{"miss_local", 1}}));
  EXPECT_EQ(slurp(file), "miss_local 1\n");
}

TEST(CompileStats, ZeroForgetsEverything) {
  TempDir dir;
  const fs::path file = dir.path() / "stats";
  ASSERT_TRUE(add_stats(file, {{"direct_hit", 7}, {"uncacheable:linking", 3}}));
  ASSERT_TRUE(zero_stats(file));
  EXPECT_EQ(read_ok(file), zeros());
  EXPECT_EQ(parse_stats_file(slurp(file)), zeros());
  ASSERT_TRUE(zero_stats(dir.path() / "new" / "stats"));  // creates it
  EXPECT_EQ(read_ok(dir.path() / "new" / "stats"), zeros());
}

TEST(CompileStats, IoFailuresAreErrors) {
  TempDir dir;
  // A parent that is a regular file (works as root too, unlike chmod).
  spit(dir.path() / "plain", "x");
  const fs::path file = dir.path() / "plain" / "stats";
  const Status added = add_stats(file, {{"error", 1}});
  ASSERT_FALSE(added);
  EXPECT_NE(added.error().message.find("plain"), std::string::npos) << added.error().message;
  EXPECT_FALSE(zero_stats(file));
  // Reading a directory fails (EISDIR), it is not "missing".
  fs::create_directories(dir.path() / "dir");
  EXPECT_FALSE(read_stats(dir.path() / "dir"));
}

TEST(CompileStats, ConcurrentAddersLoseNothing) {
  TempDir dir;
  const fs::path file = dir.path() / "cache" / "stats";
  // Processes first (no thread of ours is running when we fork)…
  constexpr int kProcesses = 32;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      bool ok = true;
      for (int i = 0; i < 25; ++i) ok = add_stats(file, {{"remote_hit", 1}}).ok() && ok;
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  // …then threads: each add_stats opens its own descriptors, and flock is
  // per open file description, so threads contend like processes.
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&file, &failures, t] {
      for (int i = 0; i < 100; ++i) {
        if (!add_stats(file, {{"direct_hit", 1}, {"uncacheable:linking", 1}})) ++failures[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const int f : failures) EXPECT_EQ(f, 0);
  const StatsCounters c = read_ok(file);
  EXPECT_EQ(c.at("direct_hit"), 800U);
  EXPECT_EQ(c.at("uncacheable:linking"), 800U);
  EXPECT_EQ(c.at("remote_hit"), 800U);
}

StatsCounters example() {
  return {{"direct_hit", 100},
          {"preprocessed_hit", 10},
          {"remote_hit", 10},
          {"miss_local", 15},
          {"miss_remote", 2},
          {"miss_remote_headers", 3},
          {"miss_remote_fallback", 0},
          {"uncacheable:linking", 10},
          {"uncacheable:preprocessing only (-E)", 2},
          {"uncacheable:never seen", 0},
          {"compile_failed", 1},
          {"error", 0}};
}

// 1.2 GiB (rounded up to a whole byte) of 5 GiB.
StatsView example_view() { return {"/home/u/.cache/kiln", 1288490189ULL, 5ULL << 30}; }

TEST(CompileStats, RendersText) {
  EXPECT_EQ(render_stats_text(example(), example_view()),
            "Cache directory     /home/u/.cache/kiln\n"
            "Hits                     120 / 140 (85.71 %)\n"
            "  direct                 100\n"
            "  preprocessed            10\n"
            "  remote                  10\n"
            "Misses                    20\n"
            "  compiled locally        15\n"
            "  compiled remotely        5\n"
            "    headers                3\n"
            "    preprocessed           2\n"
            "  remote fallback          0\n"
            "Uncacheable               12\n"
            "  linking                 10\n"
            "  preprocessing only (-E)  2\n"
            "Compile failed             1\n"
            "Errors                     0\n"
            "Links cached               0\n"
            "  hits                     0\n"
            "  misses                   0\n"
            "Cache size          1.2 GiB / 5 GiB (24 %)\n");
}

TEST(CompileStats, RendersTextWithoutCountsOrLimit) {
  EXPECT_EQ(render_stats_text({}, {"/c", 0, 0}),
            "Cache directory     /c\n"
            "Hits                       0 / 0\n"
            "  direct                   0\n"
            "  preprocessed             0\n"
            "  remote                   0\n"
            "Misses                     0\n"
            "  compiled locally         0\n"
            "  compiled remotely        0\n"
            "    headers                0\n"
            "    preprocessed           0\n"
            "  remote fallback          0\n"
            "Uncacheable                0\n"
            "Compile failed             0\n"
            "Errors                     0\n"
            "Links cached               0\n"
            "  hits                     0\n"
            "  misses                   0\n"
            "Cache size          0 B\n");
}

TEST(CompileStats, LongReasonsWidenTheNumberColumn) {
  StatsCounters c = {{"uncacheable:unknown option -fsome-very-long-option-name", 3},
                     {"uncacheable:linking", 1234567},
                     {"uncacheable:b", 3},
                     {"uncacheable:a", 3}};
  const std::string text = render_stats_text(c, {"/c", 0, 0});
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> numbered;
  while (std::getline(lines, line)) {
    if (line.rfind("Cache", 0) != 0 && line.rfind("Hits", 0) != 0) numbered.push_back(line);
  }
  // Every counter line ends at the same column.
  for (const std::string& l : numbered) EXPECT_EQ(l.size(), numbered[0].size()) << l;
  EXPECT_NE(text.find("Uncacheable"), std::string::npos);
  // By count, most first; ties keep name order.
  const auto linking = text.find("  linking ");
  const auto a = text.find("  a ");
  const auto b = text.find("  b ");
  const auto unknown = text.find("  unknown option");
  EXPECT_LT(linking, a);
  EXPECT_LT(a, b);
  EXPECT_LT(b, unknown);
  EXPECT_NE(text.find("  unknown option -fsome-very-long-option-name 3\n"), std::string::npos);
}

TEST(CompileStats, RendersJson) {
  const std::string text = render_stats_json(example(), example_view());
  ASSERT_EQ(text.back(), '\n');
  const nlohmann::json j = nlohmann::json::parse(text);
  const nlohmann::json expected = {
      {"cache_dir", "/home/u/.cache/kiln"},
      {"hits", {{"direct", 100}, {"preprocessed", 10}, {"remote", 10}, {"total", 120}}},
      {"misses",
       {{"local", 15},
        {"remote", 5},
        {"remote_by_mode", {{"headers", 3}, {"preprocessed", 2}}},
        {"remote_fallback", 0},
        {"total", 20}}},
      {"uncacheable", {{"linking", 10}, {"preprocessing only (-E)", 2}}},
      {"uncacheable_total", 12},
      {"compile_failed", 1},
      {"errors", 0},
      {"links", {{"hits", 0}, {"misses", 0}}},
      {"cache_size", 1288490189ULL},
      {"max_size", 5ULL << 30},
  };
  EXPECT_EQ(j, expected);
  // Keys in the documented order.
  EXPECT_LT(text.find("\"cache_dir\""), text.find("\"hits\""));
  EXPECT_LT(text.find("\"hits\""), text.find("\"misses\""));
  EXPECT_LT(text.find("\"errors\""), text.find("\"cache_size\""));
  // An empty map still has the whole shape.
  const nlohmann::json empty = nlohmann::json::parse(render_stats_json({}, {"/c", 0, 0}));
  EXPECT_TRUE(empty.at("uncacheable").is_object());
  EXPECT_EQ(empty.at("uncacheable").size(), 0U);
  EXPECT_EQ(empty.at("hits").at("total"), 0);
  // Reasons that are not UTF-8 do not throw.
  EXPECT_NO_THROW(render_stats_json({{"uncacheable:bad \xff byte", 1}}, example_view()));
}

}  // namespace
}  // namespace kiln::client::launcher
