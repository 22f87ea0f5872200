// A binary that shards itself by the GoogleTest/Bazel sharding environment
// (`kiln test --sharding-env --shards N -- BINARY`), as a Suite (suite.h):
// each of the N shards is one test case ("shard 2/4"), run as one action
// from the binary's input root (binary_root.h) with GTEST_TOTAL_SHARDS,
// GTEST_SHARD_INDEX, Bazel's TEST_TOTAL_SHARDS/TEST_SHARD_INDEX, the shard
// status file and XML_OUTPUT_FILE set, and passed by its exit code.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "client/cli.h"
#include "client/testing/binary_root.h"
#include "client/testing/options.h"
#include "client/testing/store_records.h"
#include "client/testing/suite.h"

namespace kiln::client::testing {

class ShardingEnvSuite final : public Suite {
 public:
  // `shards` >= 1. All of these must outlive the suite.
  ShardingEnvSuite(Context& ctx, SharedStore& shared, const TestOptions& opts,
                   std::filesystem::path cwd, std::size_t shards, ExecutorFactory make_executor);

  // BinaryRoot::load, with its errors.
  void load() { root_.load(); }

  std::string name() const override { return root_.name(); }
  std::string durations_key() const override { return root_.durations_key(); }
  std::string cache_material(const std::string& id) const override {
    return root_.cache_material(id);
  }
  const std::vector<TestCase>& tests() const override { return tests_; }
  bool batches() const override { return false; }
  Work prepare(const Job& job) override;
  // Passed on exit code 0; else timed out, crashed (a signal) or failed
  // (the exit code), with the console. With several shards, a run that
  // did not touch the status file gets a warning: the binary may not
  // honour the sharding variables.
  Interpretation interpret(const Job& job, const RunOutput& run) override;

 private:
  std::string shard_id(std::size_t i) const;

  BinaryRoot root_;
  std::size_t shards_;
  std::vector<TestCase> tests_;
};

}  // namespace kiln::client::testing
