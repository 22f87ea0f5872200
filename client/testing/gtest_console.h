// Reading a GoogleTest binary's console output. GoogleTest writes its XML
// report only at exit, so when a shard crashes or is killed its console is
// all there is: which tests it finished (and how), which one it was
// running, and each test's own output (the lines between its RUN and its
// verdict). gtest_shard.h turns that into verdicts and reruns.
//
// Pure: a string in, values out. The console is untrusted; a test's output
// is kept up to kMaxReportBytes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "client/testing/result.h"

namespace kiln::client::testing {

// What a GoogleTest binary's console output says about each test it
// started, in order: enough to tell which test a crashed or killed shard
// was running and which ones it finished (their XML report is written only
// at exit). Reads "[ RUN      ] X", "[       OK ] X (N ms)", "[  FAILED  ]
// X (N ms)" (also "X, where GetParam() = …"), "[  SKIPPED ] X (N ms)";
// the lines between a test's RUN and its verdict are its output.
struct GTestProgress {
  enum class State { kRunning, kPassed, kFailed, kSkipped };
  std::string id;
  State state = State::kRunning;
  std::chrono::milliseconds time{0};
  std::string output;
};
std::vector<GTestProgress> parse_gtest_progress(std::string_view console);

}  // namespace kiln::client::testing
