// A test binary as an input root, and its shards as actions: see
// binary_root.h.
#include "client/testing/binary_root.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <set>
#include <utility>

#include "cas/input_root.h"
#include "client/input_files.h"
#include "client/recorder.h"
#include "client/testing/engine.h"
#include "client/testing/host.h"
#include "client/testing/plan.h"

namespace kiln::client::testing {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

BinaryRoot::BinaryRoot(Context& ctx, SharedStore& shared, const TestOptions& opts, fs::path cwd,
                       ExecutorFactory make_executor)
    : ctx_(ctx),
      shared_(shared),
      opts_(opts),
      cwd_(std::move(cwd)),
      make_executor_(std::move(make_executor)) {}

void BinaryRoot::load() {
  const std::string& given = opts_.command.front();
  auto found = find_program(given, ctx_);
  if (!found)
    throw CommandError(kTestExitSetup, "test binary '" + given + "' not found or not executable");
  binary_ = *found;
  base_env_ = command_environment(ctx_, opts_.env);
  platform_ = command_platform(opts_.platform);
  args_.assign(opts_.command.begin() + 1, opts_.command.end());

  // Its non-system shared libraries, from ldd.
  const exec::RunOutcome ldd =
      run_here({"ldd", binary_.string()}, cwd_, environment_list(base_env_), "ldd");
  const LddLibraries libs = parse_ldd(ldd.stdout_data);
  if (!libs.missing.empty())
    throw CommandError(kTestExitSetup, binary_.string() + " needs " + libs.missing.front() +
                                           ", which the loader cannot find");

  cas::Store& store = shared_.store;
  cas::InputRootBuilder root(store.digest_function());
  program_ = std::string(kBinDir) + "/" + binary_.filename().string();
  const cas::Digest binary_digest = check(store.put_file(binary_), binary_.string());
  check(root.add_file(program_, binary_digest, true));
  std::set<std::string> lib_names;
  for (const std::string& lib : libs.paths) {
    const std::string name = fs::path(lib).filename().string();
    if (!lib_names.insert(name).second) continue;
    check(root.add_file(std::string(kLibDir) + "/" + name, check(store.put_file(lib), lib), true));
  }
  for (const std::string& data : opts_.data) add_input(root, store, cwd_, data, "--data");
  check(root.add_directory(kTempDir));
  const cas::BuiltTree tree = check(root.finish());
  store_tree(store, tree);
  input_root_ = tree.root;
  if (!lib_names.empty()) base_env_.push_back({"LD_LIBRARY_PATH", kLibDir});
  const bool own_tmpdir =
      std::any_of(base_env_.begin(), base_env_.end(),
                  [](const cas::Property& p) { return p.name == "TEST_TMPDIR"; });
  if (!own_tmpdir) base_env_.push_back({"TEST_TMPDIR", kTempDir});
  std::sort(base_env_.begin(), base_env_.end());
}

milliseconds BinaryRoot::per_test_timeout() const { return testing::per_test_timeout(opts_); }

std::string BinaryRoot::durations_key() const {
  std::string key = (opts_.sharding_env ? "env:" : "gtest:") + name();
  for (const std::string& a : args_) key += " " + a;
  return key + " @" + platform_name();
}

std::string BinaryRoot::cache_material(const std::string& id) const {
  std::string m = input_root_.to_string() + "\n" + program_;
  for (const std::string& a : args_) m += "\n" + a;
  for (const auto& p : base_env_) m += "\nenv " + p.name + "=" + p.value;
  for (const auto& p : platform_) m += "\nplatform " + p.name + "=" + p.value;
  m += "\ntimeout " + std::to_string(per_test_timeout().count());
  return m + "\ntest " + id;
}

Work BinaryRoot::action(std::vector<std::string> argv, std::vector<cas::Property> env,
                        milliseconds timeout, const Job& job) {
  cas::Command command;
  command.arguments = std::move(argv);
  std::sort(env.begin(), env.end());
  command.environment = std::move(env);
  command.platform = platform_;
  command.output_files = {kReportPath};
  if (opts_.sharding_env) command.output_files.push_back(kShardStatusPath);
  std::sort(command.output_files.begin(), command.output_files.end());
  cas::Action action;
  action.input_root_digest = input_root_;
  action.timeout_ms = static_cast<std::uint64_t>(timeout.count());
  action.do_not_cache = opts_.no_cache;
  cas::Digest action_digest;
  {
    std::lock_guard lock(shared_.mutex);
    const cas::DigestFunction fn = shared_.store.digest_function();
    action.command_digest = check(shared_.store.put(check(cas::encode_command(command))));
    action_digest = check(shared_.store.put(check(cas::encode_action(action, fn))));
  }
  WorkTag tag{job.attempt > 1 ? "test-retry" : "test", name() + " " + job.label};
  return [this, action, action_digest, timeout, tag = std::move(tag)]() {
    return execute(action_digest, action, timeout, tag);
  };
}

// On the job's thread.
RunOutput BinaryRoot::execute(const cas::Digest& action_digest, const cas::Action& action,
                              milliseconds timeout, const WorkTag& tag) {
  RunOutput out;
  out.timeout = timeout;
  const auto start = std::chrono::steady_clock::now();
  out.trace.start_us = wall_clock_us();
  out.trace.action_digest = action_digest.to_string();
  std::unique_ptr<exec::ActionExecutor> executor = make_executor_(tag);
  out.where = executor->where();
  auto executed = executor->execute(action_digest, action);
  out.wall = since(start);
  out.trace.end_us = wall_clock_us();
  if (!executed.ok()) {
    out.error = executed.error().message;
    return out;
  }
  const cas::ActionResult& result = executed->result;
  out.timed_out = executed->timed_out;
  out.cached = executed->cached;
  out.exit_code = result.exit_code;
  out.trace.made_by = result.metadata.worker_id.empty() ? "local" : result.metadata.worker_id;
  // A cached result's times are of the run that made it, not this one.
  if (!out.cached) out.trace.phases = executed_phases(result.metadata);
  if (!out.timed_out && result.exit_code > 128 && result.exit_code < 160)
    out.signal = result.exit_code - 128;
  std::lock_guard lock(shared_.mutex);
  const auto text = [&](const cas::Digest& d) -> std::string {
    if (d.size == 0) return {};
    auto blob = shared_.store.get(d);
    return blob.ok() && *blob ? std::move(**blob) : std::string();
  };
  out.out = text(result.stdout_digest);
  out.err = text(result.stderr_digest);
  for (const cas::OutputFile& file : result.output_files) {
    if (file.path == kReportPath) out.report = text(file.digest);
    if (file.path == kShardStatusPath) out.status_file = true;
  }
  return out;
}

}  // namespace kiln::client::testing
