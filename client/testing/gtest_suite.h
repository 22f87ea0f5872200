// A GoogleTest binary as a Suite (suite.h): the tests come from
// `BINARY ARGS --gtest_list_tests`, each job is a shard action running
// `BINARY ARGS --gtest_filter=<its tests> --gtest_output=xml:…` from the
// binary's input root (binary_root.h), and gtest_shard.h reads the run's
// report or, after a crash or a kill, its console.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "client/cli.h"
#include "client/testing/binary_root.h"
#include "client/testing/options.h"
#include "client/testing/store_records.h"
#include "client/testing/suite.h"

namespace kiln::client::testing {

class GTestSuite final : public Suite {
 public:
  // All of these must outlive the suite.
  GTestSuite(Context& ctx, SharedStore& shared, const TestOptions& opts, std::filesystem::path cwd,
             ExecutorFactory make_executor);

  // Stores the binary's input root and lists its tests. Throws
  // CommandError: BinaryRoot::load's, kTestExitSetup when the binary is
  // not a GoogleTest binary (the listing fails, hangs or does not parse),
  // kTestExitNoTests when the listing is empty.
  void load();

  std::string name() const override { return root_.name(); }
  std::string durations_key() const override { return root_.durations_key(); }
  std::string cache_material(const std::string& id) const override {
    return root_.cache_material(id);
  }
  const std::vector<TestCase>& tests() const override { return tests_; }
  bool batches() const override { return true; }
  // A shard may run longer than any one test may: its estimate twice over
  // plus one test's limit, but never more than every test at its limit.
  // interpret() still tells a hang from a slow shard.
  Work prepare(const Job& job) override;
  // interpret_gtest_shard; an unreadable report is a setup error too.
  Interpretation interpret(const Job& job, const RunOutput& run) override;

 private:
  void list();

  Context& ctx_;
  const TestOptions& opts_;
  BinaryRoot root_;
  std::vector<TestCase> tests_;
};

}  // namespace kiln::client::testing
