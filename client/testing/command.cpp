// run_test: `kiln test` wired together (see command.h for the map). In
// order: open the local store; block the signals (Interrupt) before any
// thread starts; count the slots (-j, the cores, or the grid's workers);
// load the suite, which may throw a setup error before anything runs; run
// the engine with the real runner, clock and records; then write the
// JUnit and JSON files, print the summary and pick the exit code.
//
// Threads: the engine's thread owns all of its state; job threads run the
// suites' work, and every access to the store, from any thread, holds
// SharedStore::mutex (executors take it themselves; see GridOptions and
// exec::ExecutorOptions).
#include "client/testing/command.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "base/files.h"
#include "client/grid/commands.h"
#include "client/grid/executor.h"
#include "client/grid/records.h"
#include "client/local_sandbox.h"
#include "client/local_store.h"
#include "client/recorder.h"
#include "client/testing/ctest_suite.h"
#include "client/testing/engine.h"
#include "client/testing/gtest_suite.h"
#include "client/testing/interrupt.h"
#include "client/testing/json_report.h"
#include "client/testing/junit.h"
#include "client/testing/sharding_env_suite.h"
#include "client/testing/shared_records.h"
#include "client/testing/store_records.h"
#include "client/testing/summary.h"
#include "client/testing/thread_runner.h"
#include "exec/fallback_executor.h"
#include "exec/local_executor.h"

namespace kiln::client::testing {
namespace {

namespace fs = std::filesystem;

// Now, as JUnit's ISO 8601 timestamp (UTC); "" if the clock says nothing.
std::string utc_timestamp() {
  std::array<char, 32> stamp{};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (::gmtime_r(&now, &tm) != nullptr &&
      std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%S", &tm) > 0)
    return stamp.data();
  return {};
}

std::string host_name() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) == 0) return host.data();
  return {};
}

// --junit and --json; a file that cannot be written is a setup error.
void write_reports(Context& ctx, const TestOptions& opts, const Suite& suite, RunReport& report) {
  const auto write = [&](const std::string& path, const std::string& text, const char* what) {
    if (auto written = base::write_file_atomically(path, text); !written.ok()) {
      report.setup_errors.push_back(std::string("cannot write the ") + what +
                                    " report: " + written.error().message);
      ctx.err << "kiln: error: " << report.setup_errors.back() << '\n';
      ctx.err.flush();
    }
  };
  if (!opts.junit.empty()) {
    JUnitOptions options;
    options.name = "kiln test " + suite.name();
    options.timestamp = utc_timestamp();
    options.hostname = host_name();
    write(opts.junit, write_junit(report.results, options), "JUnit");
  }
  if (!opts.json.empty()) write(opts.json, write_json(report.results, report.info), "JSON");
}

// The journal's records of the run: one per shard, batch, retry or CTest
// test that ran or was answered by an action cache (RunInfo's shards),
// and one for the tests the results cache decided before any ran (their
// lookup: from the run's start to its first shard, or its end).
void record_shards(Recorder& recorder, const Suite& suite, const RunReport& report,
                   std::int64_t started_us, std::int64_t ended_us) {
  if (!recorder.enabled()) return;
  std::error_code ec;
  const std::string cwd = fs::current_path(ec).string();
  std::set<std::string> in_shards;
  std::int64_t first_shard = ended_us;
  for (const ShardRecord& shard : report.info.shards) {
    in_shards.insert(shard.ids.begin(), shard.ids.end());
    if (shard.trace.start_us != 0) first_shard = std::min(first_shard, shard.trace.start_us);
  }
  std::vector<std::string> looked_up;
  for (const TestResult& result : report.results) {
    if (result.cached && !in_shards.contains(result.id)) looked_up.push_back(result.id);
  }
  if (!looked_up.empty()) {
    ActionRecord r;
    r.kind = "test";
    r.subject = suite.name() + " cached (" + std::to_string(looked_up.size()) + " test" +
                (looked_up.size() == 1 ? "" : "s") + ")";
    r.outcome = "cached";
    r.cached = true;
    r.where = "local";
    r.command = std::move(looked_up);
    r.cwd = cwd;
    r.start_us = started_us;
    r.end_us = std::max(started_us, first_shard);
    r.phases.push_back({"lookup", r.start_us, r.end_us});
    recorder.record(std::move(r));
  }
  for (const ShardRecord& shard : report.info.shards) {
    ActionRecord r;
    r.kind = "test";
    // "BINARY shard 3/8"; a CTest test by its own name.
    r.subject =
        shard.label.rfind(suite.name(), 0) == 0 ? shard.label : suite.name() + " " + shard.label;
    r.cached = shard.cached;
    r.outcome = shard.cached ? "cached" : shard.exit_code == 0 ? "executed" : "failed";
    if (shard.label.rfind("retry", 0) == 0) r.outcome = "retry_" + r.outcome;
    r.where = shard.trace.made_by.empty() ? "local" : shard.trace.made_by;
    r.action_digest = shard.trace.action_digest;
    r.command = shard.ids;  // the tests it held
    r.cwd = cwd;
    r.exit_code = shard.exit_code;
    r.start_us = shard.trace.start_us;
    r.end_us = shard.trace.end_us;
    r.phases = shard.trace.phases;
    recorder.record(std::move(r));
  }
}

// This process's command line, for the invocation file.
std::vector<std::string> own_command() {
  // Read to the end: /proc files have no size to stat.
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t nul = std::min(rest.find('\0'), rest.size());
    out.emplace_back(rest.substr(0, nul));
    rest.remove_prefix(std::min(nul + 1, rest.size()));
  }
  return out;
}

// Slots: -j, else this machine's cores, else on a grid every worker's
// slots as the scheduler counts them now (8 if it has none yet).
std::size_t count_slots(const TestOptions& opts, bool grid, const grid::GridOptions& options) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (opts.jobs != 0) return opts.jobs;
  if (!grid) return cores;
  auto counted = grid::grid_slots(options);
  if (!counted.ok())
    throw CommandError(kTestExitSetup, "cannot reach the grid: " + counted.error().message);
  return *counted != 0 ? *counted : 8;
}

std::unique_ptr<Suite> load_suite(Context& ctx, const TestOptions& opts, SharedStore& shared,
                                  const Interrupt& interrupt, std::size_t slots,
                                  ExecutorFactory make_executor) {
  if (!opts.ctest_dir.empty()) {
    if (!ctx.config.scheduler().empty())
      ctx.err << "kiln: warning: CTest tests run on this machine (their commands name paths in the "
                 "build tree); the scheduler is not used\n";
    auto ctest = std::make_unique<CTestSuite>(ctx, shared, opts, interrupt.fd());
    ctest->load();
    return ctest;
  }
  const fs::path cwd = fs::current_path();
  if (opts.sharding_env) {
    const std::size_t shards = opts.shards == "auto" ? slots : std::stoul(opts.shards);
    auto env = std::make_unique<ShardingEnvSuite>(ctx, shared, opts, cwd, shards,
                                                  std::move(make_executor));
    env->load();
    return env;
  }
  auto gtest = std::make_unique<GTestSuite>(ctx, shared, opts, cwd, std::move(make_executor));
  gtest->load();
  return gtest;
}

}  // namespace

int run_test(Context& ctx, const TestOptions& opts) {
  // Not durable (as for the launcher): the store is a cache whose reads
  // are verified; a crash costs entries, never a wrong verdict, and a run
  // writes one record per passing test.
  LocalStoreOptions store_options;
  store_options.durable = false;
  std::unique_ptr<cas::Store> store = check(try_open_local_store(ctx, store_options));
  SharedStore shared{*store, {}};
  const Interrupt interrupt;
  const std::string& endpoint = ctx.config.scheduler();
  const bool grid = !endpoint.empty() && opts.ctest_dir.empty();
  grid::GridOptions grid_options;
  if (grid) grid_options = check(grid::grid_options(ctx.config, grid::GridUse::kAction));
  Recorder recorder(ctx.config, own_command(), [&ctx](const std::string& line) {
    ctx.err << "kiln: warning: " << line << '\n';
  });
  if (grid) {
    // The scheduler groups the run's shards under its invocation; each
    // shard names itself (make_executor below).
    const Invocation& invocation = recorder.invocation();
    grid_options.tag = grid::ActionTag{invocation.id, invocation.labels, "test", ""};
  }
  grid_options.store_mutex = &shared.mutex;
  const std::size_t slots = count_slots(opts, grid, grid_options);
  const bool progress =
      opts.progress == "always" || (opts.progress == "auto" && ::isatty(STDERR_FILENO) == 1);

  const fs::path work_root = ctx.config.dir() / "sandbox";
  // CTest's tests run in place (ctest_suite.h); the others as actions, on
  // the grid or here, and here when the grid is unavailable (once said).
  std::shared_ptr<const exec::Sandbox> sandbox;
  std::once_flag sandbox_made;
  std::once_flag fell_back;
  const auto local = [&, cancel = interrupt.fd()]() -> std::unique_ptr<exec::ActionExecutor> {
    std::call_once(sandbox_made, [&] { sandbox = make_local_sandbox(ctx); });
    return std::make_unique<exec::LocalExecutor>(
        shared.store, exec::LocalExecutorOptions{.work_root = work_root,
                                                 .cancel_fd = cancel,
                                                 .store_mutex = &shared.mutex,
                                                 .sandbox = sandbox});
  };
  if (!grid && opts.ctest_dir.empty())
    std::call_once(sandbox_made, [&] { sandbox = make_local_sandbox(ctx); });
  ExecutorFactory make_executor =
      [&, grid_options, grid](const WorkTag& work) -> std::unique_ptr<exec::ActionExecutor> {
    if (!grid) return local();
    grid::GridOptions options = grid_options;
    options.tag.kind = work.kind;
    options.tag.subject = work.subject;
    return std::make_unique<exec::FallbackExecutor>(
        std::make_unique<grid::GridExecutor>(shared.store, std::move(options)), local,
        [&](const std::string& why) {
          std::call_once(fell_back, [&] {
            ctx.err << "kiln: warning: the grid is unavailable (" << why << "); shards run here\n";
          });
        });
  };
  const std::unique_ptr<Suite> suite =
      load_suite(ctx, opts, shared, interrupt, slots, std::move(make_executor));
  if (suite->tests().empty() && suite->preset().empty()) {
    throw CommandError(kTestExitNoTests,
                       "no tests found in " + suite->name() +
                           (opts.ctest_dir.empty() ? "" : " (after -R/-E/-L filters)"));
  }

  EngineOptions options;
  if (opts.shards != "auto") options.shards = std::stoul(opts.shards);
  options.slots = slots;
  options.queue = opts.queue;
  options.retries = opts.retries;
  options.no_cache = opts.no_cache;
  options.progress = progress;
  options.where = grid ? endpoint : "this machine";
  if (opts.total_shards) {
    options.slice = EngineOptions::Slice{static_cast<std::size_t>(*opts.shard_index),
                                         static_cast<std::size_t>(*opts.total_shards)};
  }
  const SteadyClock clock;
  StoreRecords local_records(shared);
  // On a grid, what runs learn is shared through the scheduler
  // (shared_records.h); CTest suites, which run here, share too.
  std::unique_ptr<SharedRecords> shared_records;
  Result<grid::GridOptions> record_options =
      grid || endpoint.empty() ? Result<grid::GridOptions>(grid_options)
                               : grid::grid_options(ctx.config, grid::GridUse::kAction);
  if (!endpoint.empty() && record_options.ok()) {
    shared_records = std::make_unique<SharedRecords>(
        local_records,
        std::make_unique<grid::GridRecords>(*record_options, shared.store.digest_function()),
        shared.store.digest_function(),
        [&](const std::string& why) { ctx.err << "kiln: warning: " << why << '\n'; });
  }
  Records& records = shared_records ? static_cast<Records&>(*shared_records)
                                    : static_cast<Records&>(local_records);
  RunReport report;
  const std::int64_t run_started = wall_clock_us();
  {
    ThreadRunner runner;  // joined before the suite, the store or the interrupt go
    report = Engine(*suite, runner, clock, interrupt, records, ctx.err, options).run();
  }

  record_shards(recorder, *suite, report, run_started, wall_clock_us());
  write_reports(ctx, opts, *suite, report);
  print_summary(ctx.out, report.results, report.info, suite->batches());
  int code = exit_code(report, opts.flaky_fails);
  // A slice may hold no tests (more slices than tests): nothing to do.
  if (code == kTestExitNoTests && options.slice) {
    ctx.err << "kiln test: slice " << options.slice->index + 1 << " of " << options.slice->total
            << " holds no tests\n";
    return kTestExitPassed;
  }
  if (code == kTestExitNoTests)
    ctx.err << "kiln: error: no tests found in " << suite->name() << '\n';
  return code;
}

}  // namespace kiln::client::testing
