// A GoogleTest binary's tests, shards and verdicts: see gtest_suite.h.
#include "client/testing/gtest_suite.h"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string_view>
#include <utility>

#include "client/input_files.h"
#include "client/testing/engine.h"
#include "client/testing/gtest_shard.h"
#include "client/testing/host.h"
#include "client/testing/plan.h"
#include "client/testing/text.h"

namespace kiln::client::testing {

using std::chrono::milliseconds;

GTestSuite::GTestSuite(Context& ctx, SharedStore& shared, const TestOptions& opts,
                       std::filesystem::path cwd, ExecutorFactory make_executor)
    : ctx_(ctx), opts_(opts), root_(ctx, shared, opts, std::move(cwd), std::move(make_executor)) {}

void GTestSuite::load() {
  root_.load();
  list();
}

void GTestSuite::list() {
  const std::string binary = root_.binary().string();
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), root_.args().begin(), root_.args().end());
  argv.push_back("--gtest_list_tests");
  std::vector<cas::Property> env = command_environment(ctx_, opts_.env);
  const exec::RunOutcome listed =
      run_here(argv, root_.cwd(), environment_list(env), binary + " --gtest_list_tests");
  const std::string what = binary + " is not a GoogleTest binary";
  if (listed.timed_out)
    throw CommandError(kTestExitSetup, what + ": --gtest_list_tests did not finish");
  if (listed.exit_code != 0) {
    throw CommandError(kTestExitSetup, what + ": --gtest_list_tests exited with code " +
                                           std::to_string(listed.exit_code) + ": " +
                                           first_line(listed.stderr_data + listed.stdout_data));
  }
  auto tests = parse_gtest_list(listed.stdout_data);
  if (!tests.ok()) {
    // Output before the list (a main() that prints first)?
    const std::string_view tail = gtest_list_tail(listed.stdout_data);
    if (tail.size() < listed.stdout_data.size()) {
      auto from_tail = parse_gtest_list(tail);
      if (from_tail.ok() && !from_tail->empty()) {
        ctx_.err << "kiln: warning: " << root_.name()
                 << " printed other output before its test list; it was ignored\n";
        tests = std::move(from_tail);
      }
    }
  }
  if (!tests.ok()) {
    // An empty listing is an empty suite (a filter in ARGS that matches
    // nothing); anything else that does not parse is not a test binary.
    bool blank = true;
    std::istringstream lines(listed.stdout_data);
    for (std::string line; std::getline(lines, line);) {
      if (line.find_first_not_of(" \t\r") != std::string::npos &&
          !line.starts_with("Running main() from"))
        blank = false;
    }
    if (blank) throw CommandError(kTestExitNoTests, "no tests found in " + binary);
    throw CommandError(kTestExitSetup, binary + ": " + tests.error().message);
  }
  tests_ = std::move(tests).value();
}

Work GTestSuite::prepare(const Job& job) {
  const milliseconds limit = root_.per_test_timeout();
  const auto count = static_cast<std::int64_t>(job.tests.size());
  const milliseconds timeout =
      std::min(limit * count, limit + 2 * job.estimate + milliseconds(1000));
  std::vector<std::string> argv{root_.program()};
  argv.insert(argv.end(), root_.args().begin(), root_.args().end());
  argv.push_back("--gtest_filter=" + check(gtest_filter(job.tests)));
  argv.push_back(std::string("--gtest_output=xml:") + kReportPath);
  return root_.action(std::move(argv), root_.environment(), timeout, job);
}

Interpretation GTestSuite::interpret(const Job& job, const RunOutput& run) {
  ShardVerdicts v = interpret_gtest_shard(job.tests, run, root_.per_test_timeout());
  Interpretation in;
  in.verdicts = std::move(v.verdicts);
  in.rerun = std::move(v.rerun);
  in.rerun_alone = std::move(v.rerun_alone);
  if (!v.report_error.empty())
    in.setup_error = name() + " wrote an invalid XML report (" + v.report_error + ")";
  return in;
}

}  // namespace kiln::client::testing
