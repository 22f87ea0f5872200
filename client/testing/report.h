// Test results for `kiln test`: reading what test binaries report and
// writing the one merged report CI reads.
//
//   parse_gtest_xml   a GoogleTest --gtest_output=xml report -> TestResults
//   write_junit       TestResults -> one JUnit XML document (Jenkins, GitLab,
//                     the common JUnit XSD)
//   write_json        TestResults -> kiln's --json summary
//   parse_ctest_json  `ctest --show-only=json-v1` -> the tests CTest would run
//   filter_ctest      CTest's -R / -E / -L / -LE selection
//
// Pure: strings in, strings out; no files, processes or clocks (a timestamp
// for the report is passed in). Every input here is untrusted (it comes
// from test binaries and build trees): malformed or oversized input is an
// Error, never a crash.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kiln::client::testing {

// Inputs larger than this are refused (kResourceExhausted) before parsing.
inline constexpr std::size_t kMaxReportBytes = std::size_t{64} << 20;

enum class Outcome {
  kPassed,
  kFailed,
  kSkipped,   // GTEST_SKIP, disabled (DISABLED_ / notrun), or not runnable
  kFlaky,     // failed, then passed on a retry: not a real failure
  kCrashed,   // the test process died (signal, or exited without a verdict)
  kTimedOut,  // killed at its time limit
};

// "passed", "failed", "skipped", "flaky", "crashed", "timed_out".
std::string_view to_string(Outcome outcome);

// True for the outcomes that make `kiln test` exit non-zero.
bool is_real_failure(Outcome outcome);

struct TestResult {
  std::string id;     // "Suite.Name" (GoogleTest's --gtest_filter form)
  std::string suite;  // "Math", "Nums/P" (parameterized), "Ty/0" (typed)
  std::string name;   // "Adds", "Even/1"
  Outcome outcome = Outcome::kPassed;
  std::chrono::milliseconds time{0};
  // kFailed / kFlaky: the first failure's message; kSkipped: the reason
  // (GTEST_SKIP's message, "disabled", …); otherwise usually empty.
  std::string message;
  // Failure details: for a GoogleTest report, the text of every failure in
  // order; the runner may append the test's captured stdout/stderr.
  std::string output;
  int attempts = 1;     // runs it took (retries included)
  bool cached = false;  // the verdict came from the action cache
  // kCrashed: the terminating signal, 0 if it exited (then exit_code).
  int signal = 0;
  int exit_code = 0;
  // kTimedOut: the limit it hit (0: unknown; `time` is reported instead).
  std::chrono::milliseconds timeout{0};

  bool operator==(const TestResult&) const = default;
};

// Reads one GoogleTest XML report (<testsuites><testsuite><testcase…>).
// Per testcase: any <failure> (or <error>) child -> kFailed, message = the
// first one's message attribute, output = every failure's text; else
// result="skipped" or a <skipped> child -> kSkipped with its message;
// else status="notrun" or result="suppressed" (DISABLED_ tests) -> kSkipped
// "disabled"; else kPassed. time is seconds with decimals.
// A testcase with an empty name (GoogleTest's record of a failure outside
// any test, e.g. in a global environment) keeps the suite as its id, or
// "(environment)" when the suite is unnamed too.
// Note: GoogleTest does not record failures in SetUpTestSuite in the XML
// (the suite's tests come out skipped); the runner must also check the
// binary's exit status.
// Errors: kResourceExhausted (over kMaxReportBytes); kInvalidArgument for
// XML that does not parse (truncated, malformed) or is not a GoogleTest
// result report (wrong root, testcase without name or status, a test
// listing, a bad time).
Result<std::vector<TestResult>> parse_gtest_xml(std::string_view xml);

struct JUnitOptions {
  std::string name = "kiln test";  // <testsuites name>
  std::string timestamp;           // ISO 8601 ("2024-05-01T12:00:00"); "" leaves it out
  std::string hostname;            // "" leaves it out
  // Each failure's text and system-out is cut to its last this many bytes
  // (the end of a log is where the error is), with a note saying so.
  std::size_t max_output_bytes = std::size_t{1} << 20;
};

// One JUnit XML document: <testsuites name tests failures errors skipped
// time [timestamp]> holding one <testsuite> per suite (in order of first
// appearance) and a <testcase name classname time> per result:
//   kFailed    <failure message type="failure">output</failure>
//   kCrashed   <error message="crashed (signal N)" type="crash">
//              (or "crashed (exit code N)")
//   kTimedOut  <error message="timed out after X s" type="timeout">
//   kSkipped   <skipped message/>
//   kFlaky     passes, with a system-out note of the earlier failure
// Properties inside the testcase, only when not the default:
// flaky=true, attempts=N (N != 1), cached=true. Flaky tests count as
// passed in the totals. Times are seconds with 3 decimals. Text that XML
// 1.0 cannot carry (control bytes, invalid UTF-8) becomes U+FFFD, so the
// document is always well-formed.
std::string write_junit(std::span<const TestResult> results, const JUnitOptions& options = {});

struct TestSummary {
  int total = 0;
  int passed = 0;
  int failed = 0;
  int flaky = 0;
  int skipped = 0;
  int crashed = 0;
  int timed_out = 0;
  int cached = 0;
  std::chrono::milliseconds time{0};  // the tests' times added up

  // No real failure (flaky and skipped tests do not count).
  bool ok() const { return failed == 0 && crashed == 0 && timed_out == 0; }
};

TestSummary summarize(std::span<const TestResult> results);

// {"tests":[{"id","suite","name","outcome","time_ms","attempts","cached",
//   "failure_message"}],
//  "summary":{"total","passed","failed","flaky","skipped","crashed",
//   "timed_out","cached","time_ms","ok"}}
// "failure_message" is TestResult::message (a skipped test's reason too).
// Invalid UTF-8 in any string becomes U+FFFD.
std::string write_json(std::span<const TestResult> results);

// What a run looked like, for the --json file: one entry per unit of work
// that ran (a shard, a queue batch, a retry, a CTest test) or was answered
// from the cache.
struct ShardRecord {
  std::string label;                      // "shard 2/4", "batch 7", "retry Flaky.X", a CTest name
  std::size_t tests = 0;                  // tests it held
  std::vector<std::string> ids{};         // their ids
  std::chrono::milliseconds estimate{0};  // what the plan expected
  std::chrono::milliseconds wall{0};      // how long it took (0 when cached)
  bool cached = false;
  std::string where;  // "local", "tcp://…", "cache"
};
struct RunInfo {
  std::vector<ShardRecord> shards;
  std::chrono::milliseconds wall{0};         // the whole run
  std::chrono::milliseconds lower_bound{0};  // makespan_lower_bound of the planned work
  std::size_t slots = 0;                     // shards that could run at once
};

// write_json plus "run":{"wall_ms","lower_bound_ms","slots","shards":[{"label",
// "tests","test_ids","estimate_ms","wall_ms","cached","where"}]}.
std::string write_json(std::span<const TestResult> results, const RunInfo& run);

// One test's verdict as kiln's result cache keeps it (JSON, every field of
// TestResult). decode_test_result is nullopt for anything malformed.
std::string encode_test_result(const TestResult& result);
std::optional<TestResult> decode_test_result(std::string_view json);

// What a GoogleTest binary's console output says about each test it
// started, in order: enough to tell which test a crashed or killed shard
// was running and which ones it finished (their XML report is written only
// at exit). Reads "[ RUN      ] X", "[       OK ] X (N ms)", "[  FAILED  ]
// X (N ms)" (also "X, where GetParam() = …"), "[  SKIPPED ] X (N ms)";
// the lines between a test's RUN and its verdict are its output.
struct GTestProgress {
  enum class State { kRunning, kPassed, kFailed, kSkipped };
  std::string id;
  State state = State::kRunning;
  std::chrono::milliseconds time{0};
  std::string output;
};
std::vector<GTestProgress> parse_gtest_progress(std::string_view console);

// One test of `ctest --show-only=json-v1` (CMake >= 3.14).
struct CTestCase {
  std::string name;
  // argv as CTest would run it; empty when CTest could not find the
  // executable (its "Could not find executable" case).
  std::vector<std::string> command;
  std::string working_directory;                     // WORKING_DIRECTORY ("" if unset)
  std::vector<std::string> environment;              // ENVIRONMENT, "K=V" each
  std::optional<std::chrono::milliseconds> timeout;  // TIMEOUT > 0
  std::vector<std::string> labels;                   // LABELS
  bool disabled = false;                             // DISABLED
  bool will_fail = false;                            // WILL_FAIL
  std::optional<int> skip_return_code;               // SKIP_RETURN_CODE
  std::vector<std::string> pass_regex;               // PASS_REGULAR_EXPRESSION
  std::vector<std::string> fail_regex;               // FAIL_REGULAR_EXPRESSION
  std::vector<std::string> skip_regex;               // SKIP_REGULAR_EXPRESSION
  // Names of the other properties (DEPENDS, FIXTURES_*, RESOURCE_LOCK,
  // ENVIRONMENT_MODIFICATION, …), which kiln does not honour; the runner
  // decides whether to warn.
  std::vector<std::string> ignored_properties;
  // Non-empty: do not run it; report it kSkipped with this reason
  // ("disabled", "not available: CTest found no executable").
  std::string skip_reason;

  bool operator==(const CTestCase&) const = default;
};

// Errors: kResourceExhausted (over kMaxReportBytes); kInvalidArgument for
// text that is not JSON, not CTest's "ctestInfo" major version 1, or has a
// test or property of the wrong shape.
Result<std::vector<CTestCase>> parse_ctest_json(std::string_view json);

// CTest's selection options; "" means not given. A test is kept when its
// name matches `include` (-R), its name does not match `exclude` (-E), one
// of its labels matches `label` (-L), and none matches `label_exclude`
// (-LE). "Matches" is a search (anywhere in the string), as in CTest.
//
// The expressions are std::regex ECMAScript, not CTest's own (KWSys)
// flavour: the common subset (., *, +, ?, [], ^, $, |, ()) behaves the
// same, but ECMAScript also knows \d, \w, {m,n} and non-greedy *?, which
// KWSys would read literally or reject.
struct CTestFilter {
  std::string include{};
  std::string exclude{};
  std::string label{};
  std::string label_exclude{};
};

// The kept cases, in order. Errors: kInvalidArgument naming the option
// whose expression does not compile.
Result<std::vector<CTestCase>> filter_ctest(std::span<const CTestCase> cases,
                                            const CTestFilter& filter);

// CTest's verdict on one finished run of `test`, as ctest would give it:
// a timeout or a signal first; then SKIP_RETURN_CODE and
// SKIP_REGULAR_EXPRESSION (skipped); then PASS_REGULAR_EXPRESSION (passes
// only if one matches; the exit code is ignored), FAIL_REGULAR_EXPRESSION
// (fails if one matches), else the exit code; WILL_FAIL inverts pass and
// fail. `output` is the test's stdout and stderr. `message` is set to why
// it did not pass ("exit code 3", "matched FAIL_REGULAR_EXPRESSION 'x'",
// …), or to the skip reason. An expression that does not compile fails
// the test with a message saying so.
struct CTestRun {
  int exit_code = 0;
  int signal = 0;  // the terminating signal, 0 if it exited
  bool timed_out = false;
};
Outcome ctest_outcome(const CTestCase& test, const CTestRun& run, std::string_view output,
                      std::string& message);

// A TestResult for "Suite.Name": suite and name split at the first '.'
// (both the whole id when it has none).
TestResult test_result(const std::string& id, Outcome outcome);

// One run of a GoogleTest shard (`BINARY --gtest_filter=<tests>
// --gtest_output=xml:…`) as its runner saw it.
struct ShardRun {
  int exit_code = 0;
  int signal = 0;  // the terminating signal, 0 if it exited
  bool timed_out = false;
  std::chrono::milliseconds wall{0};
  std::chrono::milliseconds timeout{0};  // the limit the shard ran under
  std::string out;                       // its console (stdout)
  std::string err;
  std::optional<std::string> report;  // the XML report, if it wrote one
};

// What a shard's run says about its tests.
struct ShardVerdicts {
  std::vector<TestResult> verdicts;      // tests decided by this run
  std::vector<std::string> rerun;        // not reached: run again, together
  std::vector<std::string> rerun_alone;  // undecided: run again, each alone
  std::string report_error;              // the XML report did not parse (why)
};

// The verdicts of a shard of `tests`, each allowed `per_test_timeout`:
// - It exited and wrote a report: the report's verdicts for `tests`, the
//   failing ones with their console output; a test missing from the report
//   failed; a non-zero exit with no test failed fails every test that ran
//   (something outside the tests failed: SetUpTestSuite, a leak check). A
//   report that does not parse fails every test and sets report_error.
// - It crashed, was killed, or wrote no report: the console decides.
//   Tests with a verdict line keep it. The test left running crashed (with
//   the signal, or the exit code), or timed out if the shard was killed at
//   its limit and that test alone had run past per_test_timeout (or it was
//   the shard's only test); killed earlier, it goes to rerun_alone. Tests
//   the shard never reached go to rerun. With no test started at all, a
//   lone test crashed or timed out; several go to rerun_alone, so the next
//   runs say which one it was.
ShardVerdicts interpret_gtest_shard(std::span<const std::string> tests, const ShardRun& run,
                                    std::chrono::milliseconds per_test_timeout);

}  // namespace kiln::client::testing
