// The results cache's document: one test's verdict as kiln keeps it between
// runs (the "result.json" record; engine.h says when one is written and
// read). Changing this encoding makes every cached result miss once, so
// decode_test_result accepts exactly what encode_test_result writes.
//
// Pure: a value in, a string out, and back.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "client/testing/result.h"

namespace kiln::client::testing {

// One test's verdict as kiln's result cache keeps it (JSON, every field of
// TestResult but `cached`). decode_test_result is nullopt for anything
// malformed: not JSON, a missing field or one of the wrong type, an unknown
// outcome, numbers out of range, or more than kMaxReportBytes.
std::string encode_test_result(const TestResult& result);
std::optional<TestResult> decode_test_result(std::string_view json);

}  // namespace kiln::client::testing
