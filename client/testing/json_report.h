// Writing kiln's own JSON report (`kiln test --json FILE`): every test, the
// totals and, when given, what the run looked like (its shards, where they
// ran, the planned lower bound). nlohmann_json does the encoding.
//
// Pure: results in, a string out; the caller writes the file.
#pragma once

#include <span>
#include <string>

#include "client/testing/result.h"

namespace kiln::client::testing {

// {"tests":[{"id","suite","name","outcome","time_ms","attempts","cached",
//   "failure_message"}],
//  "summary":{"total","passed","failed","flaky","skipped","crashed",
//   "timed_out","cached","time_ms","ok"}}
// "failure_message" is TestResult::message (a skipped test's reason too).
// Invalid UTF-8 in any string becomes U+FFFD.
std::string write_json(std::span<const TestResult> results);

// write_json plus "run":{"wall_ms","lower_bound_ms","slots","shards":[{"label",
// "tests","test_ids","estimate_ms","wall_ms","cached","where"}]}.
std::string write_json(std::span<const TestResult> results, const RunInfo& run);

}  // namespace kiln::client::testing
