// A CTest build tree as a Suite (suite.h), run as ctest would run it: the
// tests come from `ctest --show-only=json-v1` and the -R/-E/-L/-LE
// selection (ctest.h); each job is one test, run in place in its working
// directory with this environment plus its ENVIRONMENT (its command names
// paths in the build tree, so it always runs on this machine); ctest.h's
// rules give the verdict. A test's results cache key covers its command,
// working directory and environment, the content of its executable and of
// that executable's non-system libraries, --env, the --data digests and
// its time limit.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "client/cli.h"
#include "client/testing/ctest.h"
#include "client/testing/options.h"
#include "client/testing/store_records.h"
#include "client/testing/suite.h"

namespace kiln::client::testing {

class CTestSuite final : public Suite {
 public:
  // `cancel_fd` (the interrupt's) kills a running test when readable. All
  // of these must outlive the suite.
  CTestSuite(Context& ctx, SharedStore& shared, const TestOptions& opts, int cancel_fd);

  // Lists and selects the tests and digests their inputs. Throws
  // CommandError: kTestExitSetup for a missing or non-CTest directory or a
  // failing or unreadable listing, kExitUsage for a bad filter expression
  // or a missing --data path.
  void load();

  std::string name() const override { return dir_.string(); }
  std::string durations_key() const override;
  std::string cache_material(const std::string& id) const override;
  const std::vector<TestCase>& tests() const override { return tests_; }
  // DISABLED tests and those CTest found no executable for: skipped.
  std::vector<TestResult> preset() const override { return preset_; }
  bool batches() const override { return false; }
  Work prepare(const Job& job) override;
  Interpretation interpret(const Job& job, const RunOutput& run) override;

 private:
  struct Entry {
    CTestCase test;
    std::string material;
  };

  std::string material(const CTestCase& test, const std::vector<std::string>& data_digests,
                       const std::vector<std::string>& env) const;
  std::filesystem::path working_dir(const CTestCase& test) const;
  std::chrono::milliseconds timeout_of(const CTestCase& test) const;

  Context& ctx_;
  SharedStore& shared_;
  const TestOptions& opts_;
  int cancel_fd_;
  std::filesystem::path dir_;
  std::vector<TestCase> tests_;
  std::vector<TestResult> preset_;
  std::map<std::string, Entry> by_name_;
};

}  // namespace kiln::client::testing
