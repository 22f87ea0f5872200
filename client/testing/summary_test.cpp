// Unit tests for summary: the end-of-run text, byte for byte (CI logs and
// people read it; the summary line is grepped for).
#include "client/testing/summary.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

std::vector<TestResult> results() {
  TestResult slow = test_result("A.slow", Outcome::kPassed);
  slow.time = 1500ms;
  TestResult fail = test_result("A.fail", Outcome::kFailed);
  fail.time = 12ms;
  fail.message = "x.cpp:3\n  Expected equality";
  TestResult cached = test_result("B.cached", Outcome::kPassed);
  cached.time = 5000ms;
  cached.cached = true;
  TestResult skip = test_result("B.skip", Outcome::kSkipped);
  skip.message = "disabled";
  return {slow, fail, cached, skip};
}

RunInfo info() {
  RunInfo run;
  run.shards.push_back({.label = "shard 1/2",
                        .tests = 2,
                        .ids = {"A.fail", "A.slow"},
                        .estimate = 1000ms,
                        .wall = 1500ms,
                        .cached = false,
                        .where = "this machine"});
  run.shards.push_back({.label = "shard 2/2",
                        .tests = 1,
                        .ids = {"B.cached"},
                        .estimate = 0ms,
                        .wall = 0ms,
                        .cached = true,
                        .where = "cache"});
  run.wall = 2000ms;
  run.lower_bound = 1200ms;
  run.slots = 2;
  return run;
}

TEST(PrintSummary, SlowestShardsFailuresAndTheSummaryLine) {
  std::ostringstream out;
  print_summary(out, results(), info(), /*batches=*/true);
  EXPECT_EQ(out.str(),
            "slowest tests:\n"
            "     1.50 s  A.slow\n"
            "     0.01 s  A.fail\n"
            "shards: longest 1.50 s (lower bound 1.20 s), wall 2.00 s\n"
            "  shard 1/2                       2 tests  ran   1.50 s  estimated   1.00 s  "
            "this machine\n"
            "  failed    A.fail  x.cpp:3 Expected equality\n"
            "kiln test: 4 tests: 2 passed, 1 failed, 0 flaky, 0 crashed, 0 timed out, 1 skipped "
            "(1 cached) in 2.00 s\n");
}

TEST(PrintSummary, OneJobPerTestListsNoShards) {
  std::ostringstream out;
  print_summary(out, results(), info(), /*batches=*/false);
  EXPECT_EQ(out.str().find("shards:"), std::string::npos) << out.str();
}

TEST(PrintSummary, NothingRanIsJustTheSummaryLine) {
  std::ostringstream out;
  print_summary(out, {}, RunInfo{}, /*batches=*/true);
  EXPECT_EQ(out.str(),
            "kiln test: 0 tests: 0 passed, 0 failed, 0 flaky, 0 crashed, 0 timed out, 0 skipped "
            "(0 cached) in 0.00 s\n");
}

}  // namespace
}  // namespace kiln::client::testing
