// `kiln test`'s options; see command.h.
#include <memory>

#include "client/testing/command.h"

namespace kiln::client::testing {

std::function<int(Context&)> add_test_command(CLI::App& app, TestRunner run) {
  auto opts = std::make_shared<TestOptions>();
  CLI::App* cmd = app.add_subcommand("test", "Run a test suite in shards, cached and retried");
  cmd->add_option("--shards", opts->shards,
                  "Number of shards, or 'auto' (from recorded durations and slots)")
      ->capture_default_str();
  cmd->add_option(
      "-j,--jobs", opts->jobs,
      "Shards running at once (default: this machine's cores; on a grid, its workers' slots)");
  cmd->add_option("--shard-index", opts->shard_index,
                  "Run only slice I (from 0) of --total-shards N: for CI jobs that fan out "
                  "themselves; every slice agrees on the split");
  cmd->add_option("--total-shards", opts->total_shards,
                  "How many slices the CI jobs split the suite into (with --shard-index)");
  cmd->add_flag("--queue", opts->queue,
                "Queue mode: hand out small batches as slots free up instead of fixed shards");
  cmd->add_option("--retries", opts->retries, "Re-run a failed test alone up to N more times")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_flag("--flaky-fails", opts->flaky_fails,
                "A test that failed and then passed fails the run");
  cmd->add_option("--timeout", opts->timeout_s, "Per-test time limit in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--no-cache", opts->no_cache, "Run every test, even those that passed before");
  cmd->add_option("--data", opts->data,
                  "A file or directory the tests read, inside the current directory (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--env", opts->env, "Pass NAME (from here) or NAME=VALUE to the tests")
      ->allow_extra_args(false);
  cmd->add_option("--platform", opts->platform,
                  "Platform property NAME=VALUE the shards need: a worker's, or network=on to "
                  "give them the network in the sandbox (repeatable)");
  cmd->add_option("--junit", opts->junit, "Write a JUnit XML report to FILE");
  cmd->add_option("--json", opts->json, "Write a JSON report to FILE");
  cmd->add_option("--progress", opts->progress, "Live progress line: auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  cmd->add_option("--ctest", opts->ctest_dir, "Run the CTest suite of BUILD_DIR");
  cmd->add_option("-R,--tests-regex", opts->filter.include, "CTest: run tests matching RE");
  cmd->add_option("-E,--exclude-regex", opts->filter.exclude, "CTest: skip tests matching RE");
  cmd->add_option("-L,--label-regex", opts->filter.label,
                  "CTest: run tests with a label matching RE");
  cmd->add_option("--label-exclude", opts->filter.label_exclude,
                  "CTest: skip tests with a label matching RE");
  cmd->add_flag("--sharding-env", opts->sharding_env,
                "The binary is not GoogleTest but honours GTEST_TOTAL_SHARDS/GTEST_SHARD_INDEX");
  cmd->footer(
      "The test binary and its arguments follow '--'. Exit codes: 0 passed, 1 tests "
      "failed, 2 usage or setup error, 4 no tests found (docs/testing.md).");
  return [opts, cmd, run = std::move(run)](Context& ctx) {
    opts->command = ctx.after_dashes;
    const bool ctest = !opts->ctest_dir.empty();
    if (ctest && !opts->command.empty())
      throw CommandError(kExitUsage, "kiln test: --ctest takes no test binary after '--'");
    if (ctest && opts->sharding_env)
      throw CommandError(kExitUsage, "kiln test: --ctest and --sharding-env exclude each other");
    if (ctest && !opts->platform.empty())
      throw CommandError(kExitUsage,
                         "kiln test: --platform is for a test binary's shards; CTest's tests run "
                         "in place, unsandboxed");
    if (!ctest && opts->command.empty())
      throw CommandError(kExitUsage,
                         "kiln test: no test binary (kiln test [OPTIONS] -- BINARY [ARGS...] or "
                         "kiln test --ctest BUILD_DIR)");
    const bool filters = !opts->filter.include.empty() || !opts->filter.exclude.empty() ||
                         !opts->filter.label.empty() || !opts->filter.label_exclude.empty();
    if (filters && !ctest)
      throw CommandError(kExitUsage, "kiln test: -R/-E/-L/--label-exclude need --ctest");
    if (opts->shards != "auto") {
      std::size_t used = 0;
      long count = 0;
      try {
        count = std::stol(opts->shards, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != opts->shards.size() || count < 1 || count > 10000)
        throw CommandError(kExitUsage,
                           "kiln test: --shards wants a number from 1 to 10000 or 'auto', not '" +
                               opts->shards + "'");
    }
    if (opts->shard_index.has_value() != opts->total_shards.has_value())
      throw CommandError(kExitUsage,
                         "kiln test: --shard-index and --total-shards go together (slice I of N)");
    if (opts->total_shards && (*opts->total_shards < 1 || *opts->total_shards > 10000))
      throw CommandError(kExitUsage,
                         "kiln test: --total-shards wants a number from 1 to 10000, not " +
                             std::to_string(*opts->total_shards));
    if (opts->shard_index && (*opts->shard_index < 0 || *opts->shard_index >= *opts->total_shards))
      throw CommandError(kExitUsage, "kiln test: --shard-index wants 0 to " +
                                         std::to_string(*opts->total_shards - 1) + ", not " +
                                         std::to_string(*opts->shard_index));
    (void)cmd;
    return run(ctx, *opts);
  };
}

}  // namespace kiln::client::testing
