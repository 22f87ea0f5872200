// A GoogleTest shard's run into verdicts and reruns: see gtest_shard.h.
#include "client/testing/gtest_shard.h"

#include <cstdio>
#include <map>
#include <set>

#include "client/testing/gtest_console.h"
#include "client/testing/gtest_xml.h"
#include "client/testing/text.h"

namespace kiln::client::testing {
namespace {

// "3.00 s"
std::string two_decimal_seconds(std::chrono::milliseconds ms) {
  char text[32];
  (void)std::snprintf(text, sizeof text, "%.2f s", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

// A failing verdict's output: the test's own console lines, else what it
// had, else the end of the shard's stderr.
TestResult with_console(TestResult r, const std::vector<GTestProgress>& progress,
                        const ShardRun& run) {
  if (!is_real_failure(r.outcome)) return r;
  const GTestProgress* seen = nullptr;
  for (const GTestProgress& p : progress)
    if (p.id == r.id) seen = &p;  // the last run of it, as a map would keep
  if (seen != nullptr && !seen->output.empty()) r.output = seen->output;
  if (r.output.empty()) r.output = tail_text(run.err, 8192);
  return r;
}

// The shard exited and wrote `report`: it decides.
ShardVerdicts from_report(std::span<const std::string> tests, const ShardRun& run,
                          const std::string& report, const std::vector<GTestProgress>& progress) {
  ShardVerdicts in;
  auto parsed = parse_gtest_xml(report);
  if (!parsed.ok()) {
    in.report_error = parsed.error().message;
    for (const std::string& id : tests) {
      TestResult r = test_result(id, Outcome::kFailed);
      r.message = "invalid XML report: " + parsed.error().message;
      in.verdicts.push_back(with_console(std::move(r), progress, run));
    }
    return in;
  }
  const std::set<std::string> wanted(tests.begin(), tests.end());
  std::map<std::string, TestResult> reported;
  bool any_failed = false;
  for (TestResult& r : *parsed) {
    if (!wanted.contains(r.id)) continue;
    any_failed = any_failed || is_real_failure(r.outcome);
    reported[r.id] = std::move(r);
  }
  for (const std::string& id : tests) {
    auto it = reported.find(id);
    if (it == reported.end()) {
      TestResult r = test_result(id, Outcome::kFailed);
      r.message =
          "the binary did not report this test (exit code " + std::to_string(run.exit_code) + ")";
      in.verdicts.push_back(with_console(std::move(r), progress, run));
      continue;
    }
    TestResult r = std::move(it->second);
    // A non-zero exit with nothing failed in the report: something
    // outside the tests failed (SetUpTestSuite, a leak check at exit).
    if (run.exit_code != 0 && !any_failed && r.outcome != Outcome::kSkipped) {
      r.outcome = Outcome::kFailed;
      r.message = "the binary exited with code " + std::to_string(run.exit_code) +
                  " although its tests passed";
      r.output = tail_text(run.out + run.err, 8192);
    }
    in.verdicts.push_back(with_console(std::move(r), progress, run));
  }
  return in;
}

// The verdict of `running`, the test the shard died in.
void decide_running(ShardVerdicts& in, const GTestProgress& running, std::size_t tests,
                    const ShardRun& run, std::chrono::milliseconds finished_time,
                    std::chrono::milliseconds per_test_timeout) {
  const std::chrono::milliseconds in_test = run.wall - finished_time;
  if (run.timed_out && (tests == 1 || in_test >= per_test_timeout)) {
    TestResult r = test_result(running.id, Outcome::kTimedOut);
    r.time = in_test;
    r.timeout = per_test_timeout;
    r.message = "timed out after " + two_decimal_seconds(per_test_timeout);
    r.output = running.output;
    in.verdicts.push_back(std::move(r));
  } else if (run.timed_out) {
    // The shard's limit came before this test's own: run it alone.
    in.rerun_alone.push_back(running.id);
  } else {
    TestResult r = test_result(running.id, Outcome::kCrashed);
    r.signal = run.signal;
    r.exit_code = run.signal != 0 ? 0 : run.exit_code;
    r.message = run.signal != 0
                    ? "crashed (signal " + std::to_string(run.signal) + ")"
                    : "exited with code " + std::to_string(run.exit_code) + " during the test";
    r.output = running.output + tail_text(run.err, 8192);
    in.verdicts.push_back(std::move(r));
  }
}

// No report: it crashed, was killed at its limit, or exited early. The
// console says which tests finished and which one was running.
ShardVerdicts from_console(std::span<const std::string> tests, const ShardRun& run,
                           const std::vector<GTestProgress>& progress,
                           std::chrono::milliseconds per_test_timeout) {
  ShardVerdicts in;
  const std::set<std::string> wanted(tests.begin(), tests.end());
  std::chrono::milliseconds finished_time{0};
  const GTestProgress* running = nullptr;
  for (const GTestProgress& p : progress) {
    if (!wanted.contains(p.id)) continue;
    if (p.state == GTestProgress::State::kRunning) {
      running = &p;
      continue;
    }
    finished_time += p.time;
    TestResult r =
        test_result(p.id, p.state == GTestProgress::State::kPassed    ? Outcome::kPassed
                          : p.state == GTestProgress::State::kSkipped ? Outcome::kSkipped
                                                                      : Outcome::kFailed);
    r.time = p.time;
    if (r.outcome == Outcome::kFailed) {
      r.message = first_line(p.output);
      r.output = p.output;
    }
    in.verdicts.push_back(std::move(r));
  }
  std::set<std::string> decided;
  for (const TestResult& r : in.verdicts) decided.insert(r.id);
  if (running != nullptr) {
    decided.insert(running->id);
    decide_running(in, *running, tests.size(), run, finished_time, per_test_timeout);
  }
  std::vector<std::string> left;
  for (const std::string& id : tests)
    if (!decided.contains(id)) left.push_back(id);
  if (left.empty()) return in;
  if (running == nullptr && tests.size() == 1) {
    // It died before its test started (or never printed): that test.
    TestResult r =
        test_result(left.front(), run.timed_out ? Outcome::kTimedOut : Outcome::kCrashed);
    r.signal = run.signal;
    r.exit_code = run.signal != 0 ? 0 : run.exit_code;
    r.timeout = run.timed_out ? per_test_timeout : std::chrono::milliseconds(0);
    r.time = run.wall;
    r.message = run.timed_out ? "timed out after " + two_decimal_seconds(run.timeout)
                : run.signal != 0
                    ? "crashed (signal " + std::to_string(run.signal) + ")"
                    : "exited with code " + std::to_string(run.exit_code) + " without a report";
    r.output = tail_text(run.out + run.err, 8192);
    in.verdicts.push_back(std::move(r));
    return in;
  }
  // Nothing said which test it died in: each alone finds out.
  if (running == nullptr)
    in.rerun_alone = left;
  else
    in.rerun = left;
  return in;
}

}  // namespace

ShardVerdicts interpret_gtest_shard(std::span<const std::string> tests, const ShardRun& run,
                                    std::chrono::milliseconds per_test_timeout) {
  const std::vector<GTestProgress> progress = parse_gtest_progress(run.out);
  const bool finished = !run.timed_out && run.signal == 0;
  if (finished && run.report) return from_report(tests, run, *run.report, progress);
  return from_console(tests, run, progress, per_test_timeout);
}

}  // namespace kiln::client::testing
