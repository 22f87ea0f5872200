// Unit tests for gtest_console: GoogleTest console output (captured from
// real GoogleTest 1.12 runs) into per-test progress.
#include "client/testing/gtest_console.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

// ---- parse_gtest_progress ----

std::string_view state_name(GTestProgress::State s) {
  switch (s) {
    case GTestProgress::State::kRunning:
      return "running";
    case GTestProgress::State::kPassed:
      return "passed";
    case GTestProgress::State::kFailed:
      return "failed";
    case GTestProgress::State::kSkipped:
      return "skipped";
  }
  return "?";
}

// One line per test: "id state Nms [output]", for readable comparisons.
std::string describe(const std::vector<GTestProgress>& tests) {
  std::string out;
  for (const GTestProgress& t : tests) {
    out += t.id + " " + std::string(state_name(t.state)) + " " + std::to_string(t.time.count()) +
           "ms [" + t.output + "]\n";
  }
  return out;
}

// The console of a real GoogleTest 1.12 run (a plain suite, a typed test
// and a value-parameterized test), up to the end of the last verdict.
constexpr const char* kConsoleTests = R"kiln(Running main() from ./googletest/src/gtest_main.cc
[==========] Running 7 tests from 3 test suites.
[----------] Global test environment set-up.
[----------] 3 tests from A
[ RUN      ] A.Pass
hello from pass
[       OK ] A.Pass (0 ms)
[ RUN      ] A.Fail
before
t.cpp:5: Failure
Expected equality of these values:
  1
  2
[  FAILED  ] A.Fail (12 ms)
[ RUN      ] A.Skip
t.cpp:6: Skipped
not today
[  SKIPPED ] A.Skip (1 ms)
[----------] 3 tests from A (13 ms total)

[----------] 1 test from In/Ty/0, where TypeParam = int
[ RUN      ] In/Ty/0.Zero
t.cpp:13: Failure
Expected equality of these values:
  TypeParam()
    Which is: 0
  TypeParam(1)
    Which is: 1
[  FAILED  ] In/Ty/0.Zero, where TypeParam = int (3 ms)
[----------] 1 test from In/Ty/0 (3 ms total)

[----------] 3 tests from Nums/P
[ RUN      ] Nums/P.Even/0
[       OK ] Nums/P.Even/0 (1500 ms)
[ RUN      ] Nums/P.Even/1
t.cpp:9: Failure
Expected equality of these values:
  GetParam() % 2
    Which is: 1
  0
[  FAILED  ] Nums/P.Even/1, where GetParam() = 3 (7 ms)
[ RUN      ] Nums/P.Even/2
[  FAILED  ] Nums/P.Even/2, where GetParam() = "a (b) c, where d" (0 ms)
[----------] 3 tests from Nums/P (1507 ms total)
)kiln";

// What GoogleTest prints after the last test: the summary lists every
// failed test again, without a time.
constexpr const char* kConsoleSummary = R"kiln(
[----------] Global test environment tear-down
[==========] 7 tests from 3 test suites ran. (1523 ms total)
[  PASSED  ] 2 tests.
[  SKIPPED ] 1 test, listed below:
[  SKIPPED ] A.Skip
[  FAILED  ] 4 tests, listed below:
[  FAILED  ] A.Fail
[  FAILED  ] In/Ty/0.Zero, where TypeParam = int
[  FAILED  ] Nums/P.Even/1, where GetParam() = 3
[  FAILED  ] Nums/P.Even/2, where GetParam() = "a (b) c, where d"

 4 FAILED TESTS
)kiln";

constexpr const char* kConsoleExpected =
    "A.Pass passed 0ms [hello from pass\n]\n"
    "A.Fail failed 12ms [before\nt.cpp:5: Failure\nExpected equality of these values:\n  1\n"
    "  2\n]\n"
    "A.Skip skipped 1ms [t.cpp:6: Skipped\nnot today\n]\n"
    "In/Ty/0.Zero failed 3ms [t.cpp:13: Failure\nExpected equality of these values:\n"
    "  TypeParam()\n    Which is: 0\n  TypeParam(1)\n    Which is: 1\n]\n"
    "Nums/P.Even/0 passed 1500ms []\n"
    "Nums/P.Even/1 failed 7ms [t.cpp:9: Failure\nExpected equality of these values:\n"
    "  GetParam() % 2\n    Which is: 1\n  0\n]\n"
    "Nums/P.Even/2 failed 0ms []\n";

TEST(ParseGTestProgress, ReadsEveryVerdictOfARealRun) {
  const auto tests = parse_gtest_progress(kConsoleTests);
  ASSERT_EQ(tests.size(), 7u) << describe(tests);
  EXPECT_EQ(describe(tests), kConsoleExpected);
}

TEST(ParseGTestProgress, TheFinalSummaryChangesNothing) {
  const std::string whole = std::string(kConsoleTests) + kConsoleSummary;
  EXPECT_EQ(describe(parse_gtest_progress(whole)), kConsoleExpected);

  // Not even when the summary calls a passed test failed, or repeats one.
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n[       OK ] A.x (4 ms)\n[  FAILED  ] A.x\n[  FAILED  ] A.x (9 ms)\n"
      "[  SKIPPED ] A.x\n");
  EXPECT_EQ(describe(tests), "A.x passed 4ms []\n");
}

TEST(ParseGTestProgress, ACrashLeavesTheTestRunningWithItsOutput) {
  const auto tests = parse_gtest_progress(
      "[==========] Running 3 tests from 1 test suite.\n"
      "[ RUN      ] A.ok\n"
      "[       OK ] A.ok (2 ms)\n"
      "[ RUN      ] A.dies\n"
      "about to crash\n"
      "last words without a newline");
  EXPECT_EQ(describe(tests),
            "A.ok passed 2ms []\n"
            "A.dies running 0ms [about to crash\nlast words without a newline]\n");

  // Killed right after RUN: running, no output.
  EXPECT_EQ(describe(parse_gtest_progress("[ RUN      ] A.x\n")), "A.x running 0ms []\n");
  EXPECT_EQ(describe(parse_gtest_progress("[ RUN      ] A.x")), "A.x running 0ms []\n");
}

TEST(ParseGTestProgress, NothingStartedIsEmpty) {
  EXPECT_TRUE(parse_gtest_progress("").empty());
  EXPECT_TRUE(parse_gtest_progress("\n\n").empty());
  EXPECT_TRUE(parse_gtest_progress("Running main() from gtest_main.cc\n"
                                   "[==========] Running 0 tests from 0 test suites.\n"
                                   "[==========] 0 tests from 0 test suites ran. (0 ms total)\n"
                                   "[  PASSED  ] 0 tests.\n")
                  .empty());
  // Verdicts without a RUN (e.g. a summary from an earlier run) start nothing.
  EXPECT_TRUE(parse_gtest_progress("[       OK ] A.x (1 ms)\n[  FAILED  ] B.y (2 ms)\n"
                                   "[  SKIPPED ] C.z (0 ms)\n")
                  .empty());
}

TEST(ParseGTestProgress, CrLfLineEnds) {
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\r\nhello\r\n[       OK ] A.x (5 ms)\r\n"
      "[ RUN      ] P/T.y/1\r\n[  FAILED  ] P/T.y/1, where GetParam() = 1 (6 ms)\r\n"
      "[ RUN      ] A.s\r\n[  SKIPPED ] A.s (0 ms)\r\n"
      "[ RUN      ] A.z\r\n[  FAILED  ] A.z (7 ms)\r\n"
      "[  FAILED  ] A.z\r\n"
      "[ RUN      ] A.crash\r\nboom\r\n");
  ASSERT_EQ(tests.size(), 5u) << describe(tests);
  EXPECT_EQ(tests[0].id, "A.x");
  EXPECT_EQ(tests[0].state, GTestProgress::State::kPassed);
  EXPECT_EQ(tests[0].time, 5ms);
  std::string output = tests[0].output;
  std::erase(output, '\r');  // whether '\r' stays in the output is not specified
  EXPECT_EQ(output, "hello\n");
  EXPECT_EQ(tests[1].id, "P/T.y/1");
  EXPECT_EQ(tests[1].state, GTestProgress::State::kFailed);
  EXPECT_EQ(tests[1].time, 6ms);
  EXPECT_EQ(tests[2].id, "A.s");
  EXPECT_EQ(tests[2].state, GTestProgress::State::kSkipped);
  EXPECT_EQ(tests[3].id, "A.z");
  EXPECT_EQ(tests[3].state, GTestProgress::State::kFailed);
  EXPECT_EQ(tests[3].time, 7ms);
  EXPECT_EQ(tests[4].id, "A.crash");
  EXPECT_EQ(tests[4].state, GTestProgress::State::kRunning);
  output = tests[4].output;
  std::erase(output, '\r');
  EXPECT_EQ(output, "boom\n");
}

TEST(ParseGTestProgress, AVerdictNamingAnotherTestIsOutput) {
  // A test that prints GoogleTest-looking lines (it runs another GoogleTest
  // binary, or logs one): only its own verdict ends it.
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n"
      "[       OK ] B.y (1 ms)\n"
      "[  FAILED  ] A.xy (2 ms)\n"
      "[  SKIPPED ] A (3 ms)\n"
      "[  FAILED  ] Other.t, where GetParam() = 1 (4 ms)\n"
      "[       OK ] A.x (5 ms)\n"
      "[ RUN      ] A.w\n"
      "[       OK ] A.wx (1 ms)\n");
  EXPECT_EQ(describe(tests),
            "A.x passed 5ms [[       OK ] B.y (1 ms)\n[  FAILED  ] A.xy (2 ms)\n"
            "[  SKIPPED ] A (3 ms)\n[  FAILED  ] Other.t, where GetParam() = 1 (4 ms)\n]\n"
            "A.w running 0ms [[       OK ] A.wx (1 ms)\n]\n");
}

TEST(ParseGTestProgress, LinesBetweenTestsAreNobodysOutput) {
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n"
      "[       OK ] A.x (1 ms)\n"
      "stray output between tests\n"
      "[----------] 1 test from A (1 ms total)\n"
      "[ RUN      ] B.y\n"
      "mine\n"
      "[  FAILED  ] B.y (2 ms)\n"
      "[----------] Global test environment tear-down\n");
  EXPECT_EQ(describe(tests), "A.x passed 1ms []\nB.y failed 2ms [mine\n]\n");
}

TEST(ParseGTestProgress, TheSameTestRunTwiceIsListedTwice) {
  // --gtest_repeat=2
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n[       OK ] A.x (1 ms)\n"
      "Repeating all tests (iteration 2) . . .\n"
      "[ RUN      ] A.x\noops\n[  FAILED  ] A.x (2 ms)\n");
  EXPECT_EQ(describe(tests), "A.x passed 1ms []\nA.x failed 2ms [oops\n]\n");
}

// A test whose last output has no trailing newline (printf("partial") in
// the test body) makes GoogleTest print its verdict on the same line:
// "partial[       OK ] A.NoNewline (0 ms)" (captured from GoogleTest 1.12).
TEST(ParseGTestProgress, VerdictAfterOutputWithoutANewline) {
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.NoNewline\n"
      "partial[       OK ] A.NoNewline (0 ms)\n"
      "[----------] 1 test from A (0 ms total)\n"
      "[ RUN      ] B.next\n"
      "[       OK ] B.next (1 ms)\n");
  ASSERT_EQ(tests.size(), 2u) << describe(tests);
  EXPECT_EQ(tests[0].state, GTestProgress::State::kPassed) << describe(tests);
  EXPECT_EQ(tests[0].time, 0ms) << describe(tests);
  EXPECT_EQ(tests[0].output.find("[       OK ]"), std::string::npos) << describe(tests);
}

}  // namespace
}  // namespace kiln::client::testing
