// A CTest build tree's tests, run in place: see ctest_suite.h.
#include "client/testing/ctest_suite.h"

#include <cmath>
#include <cstdint>
#include <system_error>
#include <utility>

#include "cas/file_digest.h"
#include "cas/tree.h"
#include "client/input_files.h"
#include "client/journal.h"
#include "client/testing/engine.h"
#include "client/testing/host.h"
#include "client/testing/plan.h"
#include "client/testing/text.h"
#include "exec/runner.h"

namespace kiln::client::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string digest_path(cas::DigestFunction fn, const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto tree = cas::build_tree(path, fn);
    return tree.ok() ? tree->root.to_string() : "unreadable";
  }
  auto digest = cas::digest_file(fn, path);
  return digest.ok() ? digest->to_string() : "unreadable";
}

}  // namespace

CTestSuite::CTestSuite(Context& ctx, SharedStore& shared, const TestOptions& opts, int cancel_fd)
    : ctx_(ctx), shared_(shared), opts_(opts), cancel_fd_(cancel_fd) {}

void CTestSuite::load() {
  std::error_code ec;
  const fs::path given = opts_.ctest_dir;
  if (!fs::is_directory(given, ec))
    throw CommandError(kTestExitSetup, "--ctest " + opts_.ctest_dir + ": no such directory");
  dir_ = fs::canonical(given, ec);
  if (!fs::exists(dir_ / "CTestTestfile.cmake"))
    throw CommandError(
        kTestExitSetup,
        "--ctest " + opts_.ctest_dir + " is not a CTest build directory (no CTestTestfile.cmake)");
  std::vector<std::string> env;
  for (const auto& [k, v] : ctx_.environment) env.push_back(std::string(k).append("=").append(v));
  const exec::RunOutcome listed =
      run_here({"ctest", "--show-only=json-v1"}, dir_, env, "ctest --show-only=json-v1");
  if (listed.exit_code != 0 || listed.timed_out)
    throw CommandError(kTestExitSetup, "ctest --show-only=json-v1 in " + dir_.string() +
                                           " failed: " + first_line(listed.stderr_data));
  auto all = parse_ctest_json(listed.stdout_data);
  if (!all.ok())
    throw CommandError(kTestExitSetup, "cannot read ctest's test list: " + all.error().message);
  auto kept = filter_ctest(*all, opts_.filter);
  if (!kept.ok()) throw CommandError(kExitUsage, kept.error().message);
  const cas::DigestFunction fn = shared_.store.digest_function();
  std::vector<std::string> data_digests;
  for (const std::string& d : opts_.data) {
    std::error_code dec;
    if (!fs::exists(d, dec)) throw CommandError(kExitUsage, "--data '" + d + "': no such file");
    data_digests.push_back(d + "=" + digest_path(fn, d));
  }
  for (CTestCase& test : *kept) {
    if (!test.skip_reason.empty()) {
      TestResult r = test_result(test.name, Outcome::kSkipped);
      r.suite = dir_.filename().string();
      r.name = test.name;
      r.message = test.skip_reason;
      preset_.push_back(std::move(r));
      continue;
    }
    if (by_name_.contains(test.name)) continue;
    std::string m = material(test, data_digests, env);
    const std::string name = test.name;
    tests_.push_back({name});
    by_name_.emplace(name, Entry{std::move(test), std::move(m)});
  }
}

// The executable's content and that of its libraries are the inputs.
std::string CTestSuite::material(const CTestCase& test,
                                 const std::vector<std::string>& data_digests,
                                 const std::vector<std::string>& env) const {
  const cas::DigestFunction fn = shared_.store.digest_function();
  std::string material;
  for (const std::string& arg : test.command) material += "\narg " + arg;
  material += "\ncwd " + working_dir(test).string();
  for (const std::string& e : test.environment) material += "\nenv " + e;
  for (const std::string& e : opts_.env) material += "\n--env " + e;
  for (const std::string& d : data_digests) material += "\ndata " + d;
  if (auto exe = find_program(test.command.front(), ctx_)) {
    material += "\nexe " + digest_path(fn, exe->string());
    const exec::RunOutcome ldd = run_here({"ldd", exe->string()}, dir_, env, "ldd");
    for (const std::string& lib : parse_ldd(ldd.stdout_data).paths)
      material += "\nlib " + lib + "=" + digest_path(fn, lib);
  }
  material += "\ntimeout " + std::to_string(timeout_of(test).count());
  return material;
}

std::string CTestSuite::durations_key() const {
  return "ctest:" + dir_.string() + " @" + platform_name();
}

std::string CTestSuite::cache_material(const std::string& id) const {
  return by_name_.at(id).material + "\ntest " + id;
}

Work CTestSuite::prepare(const Job& job) {
  const CTestCase& test = by_name_.at(job.tests.front()).test;
  exec::RunSpec spec;
  spec.argv = test.command;
  std::map<std::string, std::string> env = ctx_.environment;
  for (const std::string& e : test.environment) {
    const auto eq = e.find('=');
    if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  for (const auto& p : command_environment(ctx_, opts_.env)) env[p.name] = p.value;
  for (const auto& [k, v] : env) spec.env.push_back(std::string(k).append("=").append(v));
  spec.cwd = working_dir(test);
  spec.timeout = timeout_of(test);
  spec.cancel_fd = cancel_fd_;
  return [spec]() {
    RunOutput out;
    out.where = "local";
    out.timeout = spec.timeout;
    const auto start = std::chrono::steady_clock::now();
    out.trace.start_us = wall_clock_us();
    out.trace.made_by = "local";
    auto ran = exec::run_command(spec);
    out.wall = since(start);
    out.trace.end_us = wall_clock_us();
    out.trace.phases.push_back({"execute", out.trace.start_us, out.trace.end_us});
    if (!ran.ok()) {
      // Could not start: a failed test, as ctest reports it.
      out.exit_code = 127;
      out.err = "cannot run " + spec.argv.front() + ": " + ran.error().message + "\n";
      return out;
    }
    out.exit_code = ran->exit_code;
    out.signal = ran->timed_out ? 0 : ran->signal;
    out.timed_out = ran->timed_out;
    out.out = std::move(ran->stdout_data);
    out.err = std::move(ran->stderr_data);
    return out;
  };
}

Interpretation CTestSuite::interpret(const Job& job, const RunOutput& run) {
  const CTestCase& test = by_name_.at(job.tests.front()).test;
  Interpretation in;
  std::string message;
  const std::string output = run.out + run.err;
  const Outcome outcome =
      ctest_outcome(test, {run.exit_code, run.signal, run.timed_out}, output, message);
  TestResult r = test_result(test.name, outcome);
  r.suite = dir_.filename().string();
  r.name = test.name;
  r.time = run.wall;
  r.message =
      outcome == Outcome::kTimedOut ? "timed out after " + seconds_text(run.timeout) : message;
  r.signal = run.signal;
  r.exit_code = run.signal != 0 ? 0 : run.exit_code;
  r.timeout = outcome == Outcome::kTimedOut ? run.timeout : milliseconds(0);
  if (is_real_failure(outcome)) r.output = tail_text(output, 65536);
  in.verdicts.push_back(std::move(r));
  return in;
}

std::filesystem::path CTestSuite::working_dir(const CTestCase& test) const {
  return test.working_directory.empty() ? dir_ : fs::path(test.working_directory);
}

milliseconds CTestSuite::timeout_of(const CTestCase& test) const {
  return test.timeout.value_or(per_test_timeout(opts_));
}

}  // namespace kiln::client::testing
