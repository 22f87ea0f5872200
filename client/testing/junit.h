// Writing the one JUnit XML document CI reads (`kiln test --junit FILE`).
// pugixml does the escaping; what is kiln's own is the mapping from
// TestResult to testsuite and testcase elements, and making text from test
// binaries safe for XML 1.0.
//
// Two schemas are the common yardsticks, and the document is written to
// satisfy both: Jenkins' junit-10.xsd (xunit plugin) and the Ant JUnit
// schema (windyroad's JUnit.xsd). The Ant one is the strict one, so its
// rules shape the document:
//   - <testsuites> carries no attribute at all, so there is no grand total
//     or run name on it: the totals are each <testsuite>'s (CI readers sum
//     the suites or count the testcases anyway), and the run's name is a
//     suite property, `run`.
//   - Every <testsuite> has name, tests, failures, errors, time, timestamp,
//     hostname, id and package, and its children in this order: one
//     <properties>, the <testcase>s, one <system-out>, one <system-err>
//     (empty ones included). `package` is empty: Jenkins would prefix the
//     suite's name with it, and a GoogleTest suite has no package. No
//     `skipped` count: junit-10 allows one, the Ant schema does not, and
//     readers count <skipped> elements.
//   - A <testcase> holds nothing but one <failure> or <error>: no
//     properties and no system-out. So kiln's facts about a test (flaky,
//     attempts, cached) are properties of its suite, named after the test:
//     `flaky:NAME`, `attempts:NAME`, `cached:NAME`, where NAME is the
//     testcase's name attribute. Both schemas accept suite properties, the
//     names are unique within a suite (a reader that keeps them in a map
//     loses none), and a flaky test's note (its first failure) goes in the
//     suite's system-out.
//   - The one exception: a skipped test keeps <skipped message/>. The Ant
//     schema has no way to say "skipped" at all (a testcase may hold only
//     a failure or an error), while Jenkins' JUnit plugin, GitLab and
//     junit-10 read <skipped>; dropping it would show skipped tests as
//     passed. So a document with a skipped test is valid against junit-10
//     and differs from the Ant schema in those elements alone.
// Everything else the Ant schema allows, junit-10 allows too, so one
// document passes both.
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
  std::string name = "kiln test";  // the run: every suite's property `run`
  // When the tests ran, "YYYY-MM-DDTHH:MM:SS" (UTC, no zone and no
  // fraction: the Ant schema's pattern). Anything else, "" included, is
  // written as 1970-01-01T00:00:00, since every suite must have one.
  std::string timestamp;
  std::string hostname;  // "" (or blank): "localhost", as the Ant schema asks
  // Each failure's text, and the output in a flaky test's note, is cut to
  // its last this many bytes (the end of a log is where the error is), with
  // a note saying so.
  std::size_t max_output_bytes = std::size_t{1} << 20;
};

// One JUnit XML document: a bare <testsuites> holding one <testsuite name
// tests failures errors time timestamp hostname id package=""> per suite
// (in order of first appearance; id counts from 0; a blank suite name is
// written "(no suite)") and a <testcase name classname time> per result:
//   kFailed    <failure message type="failure">output</failure>
//   kCrashed   <error message="crashed (signal N)" type="crash">
//              (or "crashed (exit code N)")
//   kTimedOut  <error message="timed out after X s" type="timeout">
//   kSkipped   <skipped message/>
//   kFlaky     passes; its suite's system-out has a note of the earlier
//              failure
// The suite's <properties> hold run=options.name, then per test and only
// when not the default: flaky:NAME=true, attempts:NAME=N (N != 1),
// cached:NAME=true. Flaky tests count as passed in the totals. Times are
// seconds with 3 decimals. Text that XML 1.0 cannot carry (control bytes,
// invalid UTF-8) becomes U+FFFD, so the document is always well-formed.
std::string write_junit(std::span<const TestResult> results, const JUnitOptions& options = {});

}  // namespace kiln::client::testing
