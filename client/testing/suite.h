// What the engine (engine.h) asks of a test suite: which tests there are,
// how to turn a job (some of those tests) into work that runs them, and
// what a finished run says about them. A GoogleTest binary
// (gtest_suite.h), a binary that follows the sharding environment
// (sharding_env_suite.h) and a CTest build tree (ctest_suite.h) answer
// these in their own ways; the engine's tests use a fake.
//
// Pure: the interface and its values. Running work is a JobRunner's
// (engine.h); the work itself is the suite's.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/testing/gtest_shard.h"
#include "client/testing/plan.h"
#include "client/testing/result.h"

namespace kiln::client::testing {

// One unit of work: a shard, a queue batch, a retry, one CTest test.
struct Job {
  std::vector<std::string> tests{};  // sorted ids
  int attempt = 1;                   // 1: the first run; more: a retry
  std::string label{};               // "shard 2/4", "batch 7", "retry 1 of A.b", "A.b (alone)"
  std::chrono::milliseconds estimate{0};
};

// What running a job gives back: the run as gtest_shard.h reads it (exit
// code, signal, timeout, console, report, wall time), and more.
struct RunOutput : ShardRun {
  std::optional<std::string> error{};  // it could not run at all (a setup error)
  bool status_file = false;            // it touched TEST_SHARD_STATUS_FILE
  bool cached = false;                 // answered by an action cache
  std::string where{};                 // "local", "tcp://…"
  ShardTrace trace{};                  // for the journal
};

// The work a job's runner calls (on another thread, for the real runner).
// It may throw; the runner turns that into RunOutput::error.
using Work = std::function<RunOutput()>;

// What a suite makes of a finished run.
struct Interpretation {
  std::vector<TestResult> verdicts{};
  std::vector<std::string> rerun{};        // not finished: run again together
  std::vector<std::string> rerun_alone{};  // not finished: run again, each alone
  std::string setup_error{};               // the binary misbehaved as a test tool
  std::string warning{};                   // said once per distinct text
};

class Suite {
 public:
  virtual ~Suite() = default;
  // For messages: the binary's name, or the build directory.
  virtual std::string name() const = 0;
  // The duration book's configuration: what the tests are (the binary's
  // name and arguments, or the build tree) and the platform. Not the
  // binary's content: durations outlive a rebuild.
  virtual std::string durations_key() const = 0;
  // Everything a test's verdict depends on besides its id (inputs'
  // digests, arguments, environment, time limit): the results cache key.
  virtual std::string cache_material(const std::string& id) const = 0;
  // The tests to decide, in the order the reports list them.
  virtual const std::vector<TestCase>& tests() const = 0;
  // Tests decided without running (CTest's disabled ones), reported first.
  virtual std::vector<TestResult> preset() const { return {}; }
  // Whether one job may hold several tests (shards, batches); if not,
  // every job is one test, labelled with its id.
  virtual bool batches() const = 0;
  // The work that runs `job`. Called on the engine's thread; may throw
  // (the run then stops with a setup error).
  virtual Work prepare(const Job& job) = 0;
  // What `run` says about `job`'s tests. May throw (as prepare).
  virtual Interpretation interpret(const Job& job, const RunOutput& run) = 0;
};

}  // namespace kiln::client::testing
