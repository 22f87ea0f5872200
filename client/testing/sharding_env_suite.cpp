// Shards of a binary that follows the sharding environment: see
// sharding_env_suite.h.
#include "client/testing/sharding_env_suite.h"

#include <utility>

#include "client/testing/text.h"

namespace kiln::client::testing {

ShardingEnvSuite::ShardingEnvSuite(Context& ctx, SharedStore& shared, const TestOptions& opts,
                                   std::filesystem::path cwd, std::size_t shards,
                                   ExecutorFactory make_executor)
    : root_(ctx, shared, opts, std::move(cwd), std::move(make_executor)), shards_(shards) {
  for (std::size_t i = 0; i < shards_; ++i) tests_.push_back({shard_id(i)});
}

std::string ShardingEnvSuite::shard_id(std::size_t i) const {
  return "shard " + std::to_string(i + 1) + "/" + std::to_string(shards_);
}

Work ShardingEnvSuite::prepare(const Job& job) {
  std::size_t index = 0;
  while (index < shards_ && shard_id(index) != job.tests.front()) ++index;
  std::vector<std::string> argv{root_.program()};
  argv.insert(argv.end(), root_.args().begin(), root_.args().end());
  std::vector<cas::Property> env = root_.environment();
  env.push_back({"GTEST_TOTAL_SHARDS", std::to_string(shards_)});
  env.push_back({"GTEST_SHARD_INDEX", std::to_string(index)});
  env.push_back({"TEST_TOTAL_SHARDS", std::to_string(shards_)});
  env.push_back({"TEST_SHARD_INDEX", std::to_string(index)});
  // Bazel's name, and GoogleTest's own (it reads only GTEST_SHARD_STATUS_FILE).
  env.push_back({"TEST_SHARD_STATUS_FILE", kShardStatusPath});
  env.push_back({"GTEST_SHARD_STATUS_FILE", kShardStatusPath});
  env.push_back({"XML_OUTPUT_FILE", kReportPath});
  return root_.action(std::move(argv), std::move(env), root_.per_test_timeout(), job);
}

Interpretation ShardingEnvSuite::interpret(const Job& job, const RunOutput& run) {
  Interpretation in;
  TestResult r = test_result(job.tests.front(), Outcome::kPassed);
  r.suite = name();
  r.name = job.tests.front();
  r.time = run.wall;
  if (run.timed_out) {
    r.outcome = Outcome::kTimedOut;
    r.timeout = root_.per_test_timeout();
    r.message = "timed out after " + seconds_text(root_.per_test_timeout());
  } else if (run.signal != 0) {
    r.outcome = Outcome::kCrashed;
    r.signal = run.signal;
    r.message = "crashed (signal " + std::to_string(run.signal) + ")";
  } else if (run.exit_code != 0) {
    r.outcome = Outcome::kFailed;
    r.exit_code = run.exit_code;
    r.message = "exit code " + std::to_string(run.exit_code);
  }
  if (r.outcome != Outcome::kPassed) r.output = tail_text(run.out + run.err, 65536);
  if (!run.status_file && shards_ > 1 && !run.timed_out && run.signal == 0) {
    in.warning = name() +
                 " did not touch TEST_SHARD_STATUS_FILE: it may not honour "
                 "GTEST_TOTAL_SHARDS, and every shard may have run the whole suite";
  }
  in.verdicts.push_back(std::move(r));
  return in;
}

}  // namespace kiln::client::testing
