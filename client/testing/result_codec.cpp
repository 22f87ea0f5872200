// The results cache's JSON document: see result_codec.h.
#include "client/testing/result_codec.h"

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace kiln::client::testing {

std::string encode_test_result(const TestResult& r) {
  const nlohmann::ordered_json doc{{"id", r.id},
                                   {"suite", r.suite},
                                   {"name", r.name},
                                   {"outcome", to_string(r.outcome)},
                                   {"time_ms", r.time.count()},
                                   {"message", r.message},
                                   {"output", r.output},
                                   {"attempts", r.attempts},
                                   {"signal", r.signal},
                                   {"exit_code", r.exit_code},
                                   {"timeout_ms", r.timeout.count()}};
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::optional<TestResult> decode_test_result(std::string_view json) {
  if (json.size() > kMaxReportBytes) return std::nullopt;
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  const auto text = [&](const char* key, std::string& out) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  const auto number = [&](const char* key, std::int64_t& out) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_number_integer()) return false;
    // An unsigned value past int64's range would wrap to a negative one.
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      return false;
    out = it->get<std::int64_t>();
    return true;
  };
  TestResult r;
  std::string outcome;
  std::int64_t time = 0, attempts = 0, signal = 0, exit_code = 0, timeout = 0;
  if (!text("id", r.id) || !text("suite", r.suite) || !text("name", r.name) ||
      !text("outcome", outcome) || !text("message", r.message) || !text("output", r.output) ||
      !number("time_ms", time) || !number("attempts", attempts) || !number("signal", signal) ||
      !number("exit_code", exit_code) || !number("timeout_ms", timeout)) {
    return std::nullopt;
  }
  bool known = false;
  for (Outcome o : {Outcome::kPassed, Outcome::kFailed, Outcome::kSkipped, Outcome::kFlaky,
                    Outcome::kCrashed, Outcome::kTimedOut}) {
    if (to_string(o) == outcome) {
      r.outcome = o;
      known = true;
    }
  }
  constexpr std::int64_t kMaxMs = std::int64_t{24} * 3600 * 1000;
  if (!known || r.id.empty() || time < 0 || time > kMaxMs || timeout < 0 || timeout > kMaxMs ||
      attempts < 1 || attempts > 1000 || signal < 0 || signal > 128 || exit_code < -1 ||
      exit_code > 255) {
    return std::nullopt;
  }
  r.time = std::chrono::milliseconds(time);
  r.timeout = std::chrono::milliseconds(timeout);
  r.attempts = static_cast<int>(attempts);
  r.signal = static_cast<int>(signal);
  r.exit_code = static_cast<int>(exit_code);
  return r;
}

}  // namespace kiln::client::testing
