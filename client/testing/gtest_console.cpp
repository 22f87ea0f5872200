// GoogleTest console output into per-test progress: see gtest_console.h.
#include "client/testing/gtest_console.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>

namespace kiln::client::testing {

namespace {

using std::string_view;

// "X (12 ms)" / "X, where GetParam() = 3 (12 ms)" -> {"X", 12ms}; the
// summary's "[  FAILED  ] X" (no time) gives no time.
std::pair<std::string, std::optional<std::chrono::milliseconds>> verdict_subject(string_view rest) {
  std::optional<std::chrono::milliseconds> time;
  if (rest.size() > 5 && rest.substr(rest.size() - 4) == " ms)") {
    const auto open = rest.rfind(" (");
    if (open != string_view::npos) {
      std::int64_t ms = 0;
      const char* first = rest.data() + open + 2;
      const char* last = rest.data() + rest.size() - 4;
      auto [end, ec] = std::from_chars(first, last, ms);
      if (ec == std::errc() && end == last && ms >= 0) {
        time = std::chrono::milliseconds(ms);
        rest = rest.substr(0, open);
      }
    }
  }
  if (auto where = rest.find(", where "); where != string_view::npos) rest = rest.substr(0, where);
  return {std::string(rest), time};
}

}  // namespace

std::vector<GTestProgress> parse_gtest_progress(std::string_view console) {
  constexpr string_view kRun = "[ RUN      ] ";
  constexpr string_view kOk = "[       OK ] ";
  constexpr string_view kFailed = "[  FAILED  ] ";
  constexpr string_view kSkipped = "[  SKIPPED ] ";
  std::vector<GTestProgress> tests;
  bool open = false;  // tests.back() is running
  std::size_t pos = 0;
  while (pos < console.size()) {
    const auto nl = console.find('\n', pos);
    const std::size_t end = nl == string_view::npos ? console.size() : nl + 1;
    string_view line = console.substr(pos, end - pos);
    pos = end;
    string_view body = line;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
    if (body.starts_with(kRun)) {
      tests.push_back(GTestProgress{
          std::string(body.substr(kRun.size())), GTestProgress::State::kRunning, {}, {}});
      open = true;
      continue;
    }
    if (open) {
      GTestProgress& current = tests.back();
      // A test's output without a final newline runs into the verdict
      // ("partial[       OK ] A.b (0 ms)"): the verdict starts mid-line.
      std::size_t marker = string_view::npos;
      for (string_view m : {kOk, kFailed, kSkipped}) marker = std::min(marker, body.find(m));
      if (marker != string_view::npos && marker > 0) {
        current.output.append(line.substr(0, marker));
        line = line.substr(marker);
        body = body.substr(marker);
      }
      std::optional<GTestProgress::State> state;
      string_view rest;
      if (body.starts_with(kOk)) {
        state = GTestProgress::State::kPassed;
        rest = body.substr(kOk.size());
      } else if (body.starts_with(kFailed)) {
        state = GTestProgress::State::kFailed;
        rest = body.substr(kFailed.size());
      } else if (body.starts_with(kSkipped)) {
        state = GTestProgress::State::kSkipped;
        rest = body.substr(kSkipped.size());
      }
      if (state) {
        auto [id, time] = verdict_subject(rest);
        if (id == current.id) {
          current.state = *state;
          current.time = time.value_or(std::chrono::milliseconds(0));
          open = false;
          continue;
        }
      }
      if (current.output.size() < kMaxReportBytes) current.output.append(line);
    }
  }
  return tests;
}

}  // namespace kiln::client::testing
