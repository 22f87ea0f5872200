// Reading a GoogleTest XML report (`--gtest_output=xml:FILE`), which is how
// a shard that exited says what each of its tests did. pugixml parses; what
// is kiln's own is the mapping from GoogleTest's attributes to a
// TestResult (see parse_gtest_xml for the rules).
//
// Pure: a string in, results out. The report is untrusted (a test binary
// wrote it): malformed or oversized input is an Error, never a crash.
#pragma once

#include <string_view>
#include <vector>

#include "base/result.h"
#include "client/testing/result.h"

namespace kiln::client::testing {

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

}  // namespace kiln::client::testing
