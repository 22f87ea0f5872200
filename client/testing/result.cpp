// Outcome's names, the real-failure rule, summaries: see result.h.
#include "client/testing/result.h"

#include <string>

namespace kiln::client::testing {

Error oversized_input(std::string_view what, std::size_t size) {
  return make_error(Errc::kResourceExhausted, std::string(what) + " is " + std::to_string(size) +
                                                  " bytes; the limit is " +
                                                  std::to_string(kMaxReportBytes));
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPassed:
      return "passed";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kFlaky:
      return "flaky";
    case Outcome::kCrashed:
      return "crashed";
    case Outcome::kTimedOut:
      return "timed_out";
  }
  return "unknown";
}

bool is_real_failure(Outcome outcome) {
  return outcome == Outcome::kFailed || outcome == Outcome::kCrashed ||
         outcome == Outcome::kTimedOut;
}

TestResult test_result(const std::string& id, Outcome outcome) {
  TestResult r;
  r.id = id;
  const auto dot = id.find('.');
  r.suite = dot == std::string::npos ? id : id.substr(0, dot);
  r.name = dot == std::string::npos ? id : id.substr(dot + 1);
  r.outcome = outcome;
  return r;
}

TestSummary summarize(std::span<const TestResult> results) {
  TestSummary s;
  for (const TestResult& r : results) {
    ++s.total;
    s.cached += r.cached ? 1 : 0;
    s.time += r.time;
    switch (r.outcome) {
      case Outcome::kPassed:
        ++s.passed;
        break;
      case Outcome::kFailed:
        ++s.failed;
        break;
      case Outcome::kSkipped:
        ++s.skipped;
        break;
      case Outcome::kFlaky:
        ++s.flaky;
        break;
      case Outcome::kCrashed:
        ++s.crashed;
        break;
      case Outcome::kTimedOut:
        ++s.timed_out;
        break;
    }
  }
  return s;
}

}  // namespace kiln::client::testing
