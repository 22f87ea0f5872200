// Unit tests for gtest_shard: what a GoogleTest shard's report or console
// says about its tests, and what is left to run again.
#include "client/testing/gtest_shard.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

// ---- interpret_gtest_shard ----

// A two-test report: A.ok passed in 5 ms, A.bad failed with "boom".
constexpr const char* kShardReport = R"kiln(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" failures="1" disabled="0" errors="0" time="0.01" name="AllTests">
  <testsuite name="A" tests="2" failures="1" disabled="0" errors="0" time="0.01">
    <testcase name="ok" status="run" result="completed" time="0.005" classname="A" />
    <testcase name="bad" status="run" result="completed" time="0.001" classname="A">
      <failure message="t.cpp:3&#x0A;boom" type=""><![CDATA[t.cpp:3
boom]]></failure>
    </testcase>
  </testsuite>
</testsuites>
)kiln";

const TestResult* verdict_of(const ShardVerdicts& v, const std::string& id) {
  for (const TestResult& r : v.verdicts)
    if (r.id == id) return &r;
  return nullptr;
}

TEST(InterpretGTestShard, AReportDecidesAndFailuresKeepTheirConsole) {
  const std::vector<std::string> tests{"A.bad", "A.ok"};
  ShardRun run;
  run.exit_code = 1;
  run.out =
      "[ RUN      ] A.ok\n[       OK ] A.ok (5 ms)\n[ RUN      ] A.bad\nt.cpp:3: Failure\nboom\n"
      "[  FAILED  ] A.bad (1 ms)\n";
  run.report = kShardReport;
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_TRUE(v.rerun.empty());
  EXPECT_TRUE(v.rerun_alone.empty());
  EXPECT_TRUE(v.report_error.empty());
  EXPECT_EQ(verdict_of(v, "A.ok")->outcome, Outcome::kPassed);
  EXPECT_EQ(verdict_of(v, "A.ok")->time, 5ms);
  const TestResult* bad = verdict_of(v, "A.bad");
  EXPECT_EQ(bad->outcome, Outcome::kFailed);
  EXPECT_EQ(bad->output, "t.cpp:3: Failure\nboom\n");
}

TEST(InterpretGTestShard, ATestMissingFromTheReportFailed) {
  const std::vector<std::string> tests{"A.bad", "A.gone", "A.ok"};
  ShardRun run;
  run.exit_code = 1;
  run.report = kShardReport;
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 3u);
  EXPECT_EQ(verdict_of(v, "A.gone")->outcome, Outcome::kFailed);
  EXPECT_NE(verdict_of(v, "A.gone")->message.find("did not report"), std::string::npos);
}

TEST(InterpretGTestShard, ANonZeroExitWithEveryTestPassedFailsThem) {
  const std::vector<std::string> tests{"A.ok"};
  ShardRun run;
  run.exit_code = 23;  // a leak check at exit, say
  run.err = "LeakSanitizer: detected memory leaks\n";
  run.report = kShardReport;
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kFailed);
  EXPECT_NE(v.verdicts[0].message.find("exited with code 23"), std::string::npos);
  EXPECT_NE(v.verdicts[0].output.find("LeakSanitizer"), std::string::npos);
}

TEST(InterpretGTestShard, AnUnreadableReportFailsEveryTestAndSaysWhy) {
  const std::vector<std::string> tests{"A.ok", "B.x"};
  ShardRun run;
  run.report = "<testsuites><testsuite name=\"A\" & ";
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  EXPECT_FALSE(v.report_error.empty());
  ASSERT_EQ(v.verdicts.size(), 2u);
  for (const TestResult& r : v.verdicts) EXPECT_EQ(r.outcome, Outcome::kFailed);
}

TEST(InterpretGTestShard, ACrashFailsTheRunningTestAndRerunsTheRest) {
  const std::vector<std::string> tests{"A.a", "A.b", "A.c", "A.d"};
  ShardRun run;
  run.signal = 11;
  run.exit_code = 139;
  run.out = "[ RUN      ] A.a\n[       OK ] A.a (3 ms)\n[ RUN      ] A.b\nabout to crash\n";
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_EQ(verdict_of(v, "A.a")->outcome, Outcome::kPassed);
  const TestResult* b = verdict_of(v, "A.b");
  EXPECT_EQ(b->outcome, Outcome::kCrashed);
  EXPECT_EQ(b->signal, 11);
  EXPECT_EQ(b->output, "about to crash\n");
  EXPECT_EQ(v.rerun, (std::vector<std::string>{"A.c", "A.d"}));
  EXPECT_TRUE(v.rerun_alone.empty());
}

TEST(InterpretGTestShard, AKillIsATimeoutOnlyIfTheTestAloneRanPastItsLimit) {
  const std::vector<std::string> tests{"A.a", "A.b", "A.c"};
  ShardRun run;
  run.timed_out = true;
  run.exit_code = 137;
  run.out = "[ RUN      ] A.a\n[       OK ] A.a (4000 ms)\n[ RUN      ] A.b\n";
  // Killed 7 s in: A.b had run 3 s, past its 2 s limit.
  run.wall = 7000ms;
  ShardVerdicts v = interpret_gtest_shard(tests, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_EQ(verdict_of(v, "A.b")->outcome, Outcome::kTimedOut);
  EXPECT_EQ(verdict_of(v, "A.b")->timeout, 2s);
  EXPECT_EQ(v.rerun, (std::vector<std::string>{"A.c"}));
  // Killed 5 s in: A.b had run 1 s, under its limit; the shard's own limit
  // came first, so A.b runs again alone.
  run.wall = 5000ms;
  v = interpret_gtest_shard(tests, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.rerun_alone, (std::vector<std::string>{"A.b"}));
  EXPECT_EQ(v.rerun, (std::vector<std::string>{"A.c"}));
}

TEST(InterpretGTestShard, NothingStartedIsLoneTestsVerdictOrEachAlone) {
  ShardRun run;
  run.signal = 6;
  run.exit_code = 134;
  run.err = "abort in a static constructor\n";
  const std::vector<std::string> one{"A.a"};
  ShardVerdicts v = interpret_gtest_shard(one, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kCrashed);
  EXPECT_EQ(v.verdicts[0].signal, 6);
  const std::vector<std::string> two{"A.a", "A.b"};
  v = interpret_gtest_shard(two, run, 2s);
  EXPECT_TRUE(v.verdicts.empty());
  EXPECT_EQ(v.rerun_alone, two);
  run = ShardRun{};
  run.timed_out = true;
  v = interpret_gtest_shard(one, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kTimedOut);
}

TEST(InterpretGTestShard, TestsOutsideTheShardAreIgnored) {
  const std::vector<std::string> tests{"A.ok"};
  ShardRun run;
  run.signal = 9;
  run.out = "[ RUN      ] Other.x\n[       OK ] Other.x (1 ms)\n[ RUN      ] A.ok\n";
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].id, "A.ok");
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kCrashed);
}

}  // namespace
}  // namespace kiln::client::testing
