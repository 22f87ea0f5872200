// A test binary as the input root of its shards' actions, shared by the
// GoogleTest suite (gtest_suite.h) and the sharding-environment suite
// (sharding_env_suite.h). load() stores the binary, every non-system
// library `ldd` resolves and the --data paths as one input root:
//
//   .kiln-test/bin/NAME      the binary
//   .kiln-test/lib/*.so*     its libraries (LD_LIBRARY_PATH points here)
//   .kiln-test/tmp/          empty: TEST_TMPDIR, private to each shard
//   <--data paths>           at their paths relative to the current directory
//
// action() makes the Work of one shard: an action (cas/model.h) run by an
// exec::ActionExecutor, here or on the grid, whose XML report and shard
// status file come back as declared outputs. The root's digest, the
// arguments, the environment and the time limit make a test's results
// cache key (cache_material); the binary's name, arguments and platform
// make the duration book's (durations_key).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cas/digest.h"
#include "cas/model.h"
#include "client/cli.h"
#include "client/testing/options.h"
#include "client/testing/store_records.h"
#include "client/testing/suite.h"
#include "exec/action_executor.h"

namespace kiln::client::testing {

// Where a shard's files live inside its input root.
inline constexpr const char* kBinDir = ".kiln-test/bin";
inline constexpr const char* kLibDir = ".kiln-test/lib";
inline constexpr const char* kReportPath = ".kiln-test/report.xml";
// Each shard's private scratch directory, as TEST_TMPDIR (Bazel's name,
// which GoogleTest's TempDir() and leveldb read): shards of one binary
// running side by side would otherwise share /tmp paths.
inline constexpr const char* kTempDir = ".kiln-test/tmp";
inline constexpr const char* kShardStatusPath = ".kiln-test/shard-status";

// What the scheduler's pages call one shard's action (its InvocationTag):
// kind "test", or "test-retry" for a retry of tests that failed (one that
// passes is a flaky test there); subject "BINARY shard 2/4", "BINARY retry 1
// of A.b", ...
struct WorkTag {
  std::string kind;
  std::string subject;
};

// Makes the executor one shard's action runs on (called on the job's
// thread, once per shard), told what the action is.
using ExecutorFactory = std::function<std::unique_ptr<exec::ActionExecutor>(const WorkTag&)>;

class BinaryRoot {
 public:
  // All of these must outlive the root and every Work it made.
  BinaryRoot(Context& ctx, SharedStore& shared, const TestOptions& opts, std::filesystem::path cwd,
             ExecutorFactory make_executor);

  // Finds opts.command's binary, resolves its libraries and stores the
  // input root. Throws CommandError: kTestExitSetup when the binary is not
  // found or needs a library the loader cannot find, kExitUsage for a bad
  // --data path, others for store errors.
  void load();

  const std::filesystem::path& binary() const { return binary_; }  // as found
  std::string name() const { return binary_.filename().string(); }
  const std::vector<std::string>& args() const { return args_; }
  const std::filesystem::path& cwd() const { return cwd_; }
  // The binary's path inside the input root, for argv[0].
  const std::string& program() const { return program_; }
  // The tests' environment (command_environment, LD_LIBRARY_PATH,
  // TEST_TMPDIR), sorted.
  const std::vector<cas::Property>& environment() const { return base_env_; }
  // --timeout.
  std::chrono::milliseconds per_test_timeout() const;

  // "gtest:NAME ARGS… @PLATFORM" ("env:" with --sharding-env).
  std::string durations_key() const;
  // The input root, argv, environment and limit, then "test ID".
  std::string cache_material(const std::string& id) const;

  // The work of one action running `argv` with `env` under `timeout`
  // (stored now, on the calling thread; executed when the work is called).
  // The work's output carries the exit status, console, XML report and
  // whether the shard status file was written; an executor failure is
  // RunOutput::error. Throws (store errors) as load() does.
  // `job` names it for the scheduler's pages (WorkTag).
  Work action(std::vector<std::string> argv, std::vector<cas::Property> env,
              std::chrono::milliseconds timeout, const Job& job);

 private:
  RunOutput execute(const cas::Digest& action_digest, const cas::Action& action,
                    std::chrono::milliseconds timeout, const WorkTag& tag);

  Context& ctx_;
  SharedStore& shared_;
  const TestOptions& opts_;
  std::filesystem::path cwd_;
  ExecutorFactory make_executor_;
  std::filesystem::path binary_;
  std::string program_;
  std::vector<std::string> args_;
  std::vector<cas::Property> base_env_;
  std::vector<cas::Property> platform_;  // --platform, in every shard's Command
  cas::Digest input_root_;
};

}  // namespace kiln::client::testing
