// CTest suites, read as ctest itself would: the test list of `ctest
// --show-only=json-v1` (each test's command and properties), the -R / -E /
// -L / -LE selection, and the verdict rules (timeouts, signals,
// SKIP_RETURN_CODE, the PASS/FAIL/SKIP regular expressions, WILL_FAIL).
// nlohmann_json parses; std::regex matches.
//
// Pure: strings in, values out; running the tests is ctest_suite's. The
// test list is untrusted (it comes from a build tree): malformed or
// oversized input is an Error, never a crash.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "client/testing/result.h"

namespace kiln::client::testing {

// One test of `ctest --show-only=json-v1` (CMake >= 3.14).
struct CTestCase {
  std::string name;
  // argv as CTest would run it; empty when CTest could not find the
  // executable (its "Could not find executable" case).
  std::vector<std::string> command;
  std::string working_directory;                     // WORKING_DIRECTORY ("" if unset)
  std::vector<std::string> environment;              // ENVIRONMENT, "K=V" each
  std::optional<std::chrono::milliseconds> timeout;  // TIMEOUT > 0, rounded, >= 1 ms
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

}  // namespace kiln::client::testing
