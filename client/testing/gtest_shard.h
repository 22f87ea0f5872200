// What one run of a GoogleTest shard says about its tests. A shard that
// exited wrote an XML report (gtest_xml.h), which decides; one that
// crashed or was killed did not, and its console (gtest_console.h) says
// which tests finished, which one it died in, and which it never reached.
// The engine runs again what this leaves undecided (engine.h).
//
// Pure: a run's exit status, console and report in, verdicts out.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/testing/result.h"

namespace kiln::client::testing {

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
