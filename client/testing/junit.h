// Writing the one JUnit XML document CI reads (`kiln test --junit FILE`):
// the common schema Jenkins, GitLab and the JUnit XSD agree on. pugixml
// does the escaping; what is kiln's own is the mapping from TestResult to
// testcase elements and making text from test binaries safe for XML 1.0.
//
// Pure: results in, a string out (the timestamp and hostname are passed
// in; the caller writes the file).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "client/testing/result.h"

namespace kiln::client::testing {

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

}  // namespace kiln::client::testing
