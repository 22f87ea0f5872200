// `kiln test`: a test suite split into shards balanced by measured
// duration, run in parallel on this machine or on the grid, failures
// retried to tell flaky from broken, passing tests cached, one JUnit report.
//
//   kiln test [OPTIONS] -- TEST_BINARY [ARGS...]         a GoogleTest binary
//   kiln test [OPTIONS] --ctest BUILD_DIR [-R RE] [-E RE] [-L RE]
//   kiln test [OPTIONS] --sharding-env -- BINARY [ARGS...]  any binary that
//                             honours GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX
//
// docs/testing.md is the user's guide; this is the map of the code in
// client/testing/:
//
//   cli.cpp            declaring the subcommand and checking its options
//                      (both executables declare it; only kiln-grid runs
//                      it, client/grid_link.h)
//   command.cpp        run_test: wires a suite, the engine and its real
//                      surroundings together, then writes the reports
//   engine             the pure loop and its decisions: plan, retries,
//                      flaky tests, reruns after crashes, the results cache
//                      and durations, progress (suite.h is its Suite)
//   gtest_suite, sharding_env_suite, ctest_suite
//                      the three kinds of suite; binary_root is the binary
//                      as an input root the first two share
//   thread_runner, interrupt, store_records, host
//                      the engine's real runner and clock, signals, records
//                      in the local store, and what the suites ask of this
//                      machine
//   plan, result, gtest_xml, gtest_console, gtest_shard, junit,
//   json_report, result_codec, ctest, summary, text
//                      pure: planning and every format read or written
//
// Exit codes (engine.h's TestExit): 0 every test passed (flaky ones too,
// unless --flaky-fails), 1 a test failed, crashed or timed out, 2 usage or
// setup error (the binary is not a test, its report is unreadable, the
// grid is unreachable), 4 no tests were found, 128+N interrupted by
// signal N.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "client/cli.h"
#include "client/testing/options.h"

namespace kiln::client::testing {

using TestRunner = std::function<int(Context&, const TestOptions&)>;

// Adds the subcommand and its options to `app`; the returned function, once
// parsed, checks the options and calls `run`.
std::function<int(Context&)> add_test_command(CLI::App& app, TestRunner run);

// What it does (kiln-grid only).
int run_test(Context& ctx, const TestOptions& opts);

}  // namespace kiln::client::testing
