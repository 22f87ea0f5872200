// `kiln test`: a test suite split into shards balanced by measured
// duration, run in parallel on this machine or on the grid, failures
// retried to tell flaky from broken, passing tests cached, one JUnit report.
//
//   kiln test [OPTIONS] -- TEST_BINARY [ARGS...]         a GoogleTest binary
//   kiln test [OPTIONS] --ctest BUILD_DIR [-R RE] [-E RE] [-L RE]
//   kiln test [OPTIONS] --sharding-env -- BINARY [ARGS...]  any binary that
//                             honours GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX
//
// docs/testing.md is the user's guide; this header is the map for the code.
//
// Declaring the subcommand (test_command_cli.cpp) is apart from running it
// (test_command.cpp, which may drive the grid): both executables declare
// it, only kiln-grid runs it (client/grid_link.h).
//
// Exit codes: 0 every test passed (flaky ones too, unless --flaky-fails),
// 1 a test failed, crashed or timed out, 2 usage or setup error (the binary
// is not a test, its report is unreadable, the grid is unreachable), 4 no
// tests were found.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "client/cli.h"
#include "client/testing/ctest.h"

namespace kiln::client::testing {

enum TestExit : int {
  kTestExitPassed = 0,
  kTestExitFailed = 1,
  kTestExitSetup = 2,
  kTestExitNoTests = 4,
};

struct TestOptions {
  std::string shards = "auto";  // a count, or "auto"
  std::size_t jobs = 0;         // shards at once; 0: cores here, the workers' slots on a grid
  bool queue = false;           // hand out batches as slots free up
  int retries = 0;              // extra runs of a failed test, alone
  bool flaky_fails = false;
  double timeout_s = 300;  // per test
  bool no_cache = false;
  std::vector<std::string> data;
  std::vector<std::string> env;
  std::string junit;
  std::string json;
  std::string progress = "auto";  // auto (a terminal), always, never
  // --ctest BUILD_DIR and CTest's selection.
  std::string ctest_dir;
  CTestFilter filter;
  bool sharding_env = false;
  std::vector<std::string> command;  // the test binary and its arguments
};

using TestRunner = std::function<int(Context&, const TestOptions&)>;

// Adds the subcommand and its options to `app`; the returned function, once
// parsed, checks the options and calls `run`.
std::function<int(Context&)> add_test_command(CLI::App& app, TestRunner run);

// What it does (kiln-grid only).
int run_test(Context& ctx, const TestOptions& opts);

}  // namespace kiln::client::testing
