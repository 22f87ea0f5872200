// `kiln test`'s options, as cli.cpp parses and checks them and run_test
// (command.h) and the suites read them. docs/testing.md says what each
// does for users.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "client/testing/ctest.h"

namespace kiln::client::testing {

struct TestOptions {
  std::string shards = "auto";  // a count from 1 to 10000, or "auto"
  std::size_t jobs = 0;         // shards at once; 0: cores here, the workers' slots on a grid
  // --shard-index I --total-shards N: only slice I of N (engine.h's Slice);
  // both or neither, 0 <= I < N <= 10000 (cli.cpp checks).
  std::optional<long> shard_index;
  std::optional<long> total_shards;
  bool queue = false;  // hand out batches as slots free up
  int retries = 0;     // extra runs of a failed test, alone
  bool flaky_fails = false;
  double timeout_s = 300;  // per test
  bool no_cache = false;
  std::vector<std::string> data;
  std::vector<std::string> env;
  std::vector<std::string> platform;  // NAME=VALUE: the shards' platform (network=on, ...)
  std::string junit;
  std::string json;
  std::string progress = "auto";  // auto (a terminal), always, never
  // --ctest BUILD_DIR and CTest's selection.
  std::string ctest_dir;
  CTestFilter filter;
  bool sharding_env = false;
  std::vector<std::string> command;  // the test binary and its arguments
};

// --timeout as a time limit: whole milliseconds, at least one (0 would be
// "no limit" to the runner).
inline std::chrono::milliseconds per_test_timeout(const TestOptions& opts) {
  return std::chrono::milliseconds(std::max(1LL, std::llround(opts.timeout_s * 1000)));
}

}  // namespace kiln::client::testing
