// What `kiln test` knows about a test once it is decided, and about the run
// that decided it: the vocabulary every reader and writer of results
// (gtest_xml, junit, json_report, result_codec, ctest, gtest_shard) and the
// engine share. Each format lives in its own file; this one holds only the
// values and the arithmetic on them (totals, the real-failure rule).
//
// Pure: values in, values out.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "client/journal.h"

namespace kiln::client::testing {

// Inputs larger than this are refused (kResourceExhausted) before parsing.
// Every input read here is untrusted: it comes from test binaries and
// build trees.
inline constexpr std::size_t kMaxReportBytes = std::size_t{64} << 20;

// The kResourceExhausted error for `what` (e.g. "the CTest JSON") being
// `size` bytes, over kMaxReportBytes.
Error oversized_input(std::string_view what, std::size_t size);

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

// A TestResult for "Suite.Name": suite and name split at the first '.'
// (both the whole id when it has none).
TestResult test_result(const std::string& id, Outcome outcome);

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

// When a unit of work ran and what ran it, for the journal
// (client/journal.h): the wall clock, so records of processes and
// machines line up.
struct ShardTrace {
  std::int64_t start_us = 0;
  std::int64_t end_us = 0;
  std::string action_digest{};  // "" when it was not an action (CTest's tests)
  // What made the result: "local", or the grid worker's id (for a cached
  // result, the one that made it then, when it says).
  std::string made_by{};
  std::vector<Phase> phases{};  // the executor's, when it executed (not cached)
};

// What a run looked like (for the --json file and the summary): one entry
// per unit of work that ran (a shard, a queue batch, a retry, a CTest test)
// or was answered from the cache.
struct ShardRecord {
  std::string label;                      // "shard 2/4", "batch 7", "retry Flaky.X", a CTest name
  std::size_t tests = 0;                  // tests it held
  std::vector<std::string> ids{};         // their ids
  std::chrono::milliseconds estimate{0};  // what the plan expected
  std::chrono::milliseconds wall{0};      // how long it took (0 when cached)
  bool cached = false;
  std::string where;  // "local", "tcp://…", "cache"
  int exit_code = 0;
  ShardTrace trace{};
};
struct RunInfo {
  std::vector<ShardRecord> shards;
  std::chrono::milliseconds wall{0};         // the whole run
  std::chrono::milliseconds lower_bound{0};  // makespan_lower_bound of the planned work
  std::size_t slots = 0;                     // shards that could run at once
};

}  // namespace kiln::client::testing
