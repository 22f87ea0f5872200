// `kiln test`: see test_command.h. Three layers, top to bottom:
//
//   Suite    what the tests are and how one unit of work runs: a GoogleTest
//            binary (shards as actions, through an exec::ActionExecutor), a CTest
//            build tree (each test in place, as ctest would run it), or a
//            binary that follows the sharding environment.
//   Engine   the main thread's loop: plans jobs from recorded durations
//            (client/test_plan.h), starts one thread per running job, turns
//            what each job reports into verdicts, re-runs the tests a crash
//            or a kill left unfinished, retries failures alone, and keeps the
//            live progress line.
//   Results  per-test results cache and duration book in the local store,
//            then the JUnit/JSON reports and the summary.
//
// Threads: the main thread owns all state. A job's thread only runs the
// job (an executor call, or a process) and hands a RunOutput back through
// a mutex-guarded queue. Every access to the store, from any thread, holds
// store_mutex (executors take it themselves; see GridOptions and
// exec::ExecutorOptions).
#include "client/testing/command.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "base/files.h"
#include "base/program_path.h"
#include "cas/digest.h"
#include "cas/file_digest.h"
#include "cas/input_root.h"
#include "cas/model.h"
#include "cas/record.h"
#include "client/grid/commands.h"
#include "client/grid/executor.h"
#include "client/input_files.h"
#include "client/local_store.h"
#include "client/testing/ctest.h"
#include "client/testing/gtest_shard.h"
#include "client/testing/json_report.h"
#include "client/testing/junit.h"
#include "client/testing/plan.h"
#include "client/testing/result_codec.h"
#include "client/testing/text.h"
#include "exec/local_executor.h"
#include "exec/runner.h"

namespace kiln::client::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What an unknown test is estimated at when the book knows no test at all.
constexpr milliseconds kDefaultEstimate{100};
// `--shards auto` aims at shards at least this long, so a shard's fixed
// cost (materializing inputs, starting the binary) stays small.
constexpr milliseconds kTargetShard{1000};
// Queue mode's largest batch.
constexpr milliseconds kTargetBatch{2000};
// A listing (--gtest_list_tests, ctest --show-only, ldd) that takes longer
// than this is a broken binary.
constexpr milliseconds kListTimeout{60000};
// Where a shard's files live inside its input root.
constexpr const char* kBinDir = ".kiln-test/bin";
constexpr const char* kLibDir = ".kiln-test/lib";
constexpr const char* kReportPath = ".kiln-test/report.xml";
// Each shard's private scratch directory, as TEST_TMPDIR (Bazel's name,
// which GoogleTest's TempDir() and leveldb read): shards of one binary
// running side by side would otherwise share /tmp paths.
constexpr const char* kTempDir = ".kiln-test/tmp";
constexpr const char* kShardStatusPath = ".kiln-test/shard-status";

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

std::string platform_name() {
  struct utsname name {};
  if (::uname(&name) != 0) return "unknown";
  return std::string(name.sysname) + "-" + name.machine;
}

// `name` as the shell would find it: a path if it has a '/', else on PATH.
std::optional<fs::path> find_program(const std::string& name, const Context& ctx) {
  auto path = ctx.environment.find("PATH");
  auto found = base::find_program(
      name,
      {.path = path == ctx.environment.end() ? "/usr/bin:/bin" : std::string_view(path->second)});
  if (!found) return std::nullopt;
  return fs::path(*found);
}

std::vector<std::string> environment_list(const std::vector<cas::Property>& env) {
  std::vector<std::string> out;
  for (const auto& p : env) out.push_back(p.name + "=" + p.value);
  return out;
}

// Runs a helper command (a listing) here and waits; CommandError (setup)
// when it cannot start.
exec::RunOutcome run_here(std::vector<std::string> argv, const fs::path& cwd,
                          std::vector<std::string> env, const std::string& what) {
  exec::RunSpec spec;
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  spec.cwd = cwd;
  spec.timeout = kListTimeout;
  auto outcome = exec::run_command(spec);
  if (!outcome.ok())
    throw CommandError(kTestExitSetup, "cannot run " + what + ": " + outcome.error().message);
  return std::move(outcome).value();
}

// ---- the store: results cache and duration book ----

// The local store, shared by the main thread and the job threads.
struct SharedStore {
  cas::Store& store;
  std::mutex mutex;
};

// Ctrl-C and SIGTERM. Tests run in their own process groups, which the
// terminal's SIGINT does not reach, so the signals are blocked in every
// thread and one thread waits for them with sigwait(); it makes `fd()`
// readable, which every running job polls (the runner's cancel_fd) and the
// engine checks between jobs. The children get a clean signal mask from
// the runner (posix_spawnattr_setsigmask).
class Interrupt {
 public:
  Interrupt() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw CommandError(kExitFailure, std::string("pipe: ") + std::strerror(errno));
    read_ = fds[0];
    write_ = fds[1];
    sigemptyset(&set_);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set_, sig);
    ::pthread_sigmask(SIG_BLOCK, &set_, &previous_);
    waiter_ = std::thread([this] {
      int sig = 0;
      while (::sigwait(&set_, &sig) == 0) {
        if (sig == SIGUSR1) return;  // the destructor: no signal came
        signal_.store(sig);
        const char byte = 1;
        (void)::write(write_, &byte, 1);
        return;
      }
    });
  }
  ~Interrupt() {
    if (signal_.load() == 0) ::pthread_kill(waiter_.native_handle(), SIGUSR1);
    waiter_.join();
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    ::close(read_);
    ::close(write_);
  }
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  int fd() const { return read_; }
  int signal() const { return signal_.load(); }

 private:
  int read_ = -1;
  int write_ = -1;
  sigset_t set_{};
  sigset_t previous_{};
  std::atomic<int> signal_{0};
  std::thread waiter_;
};

// cas/record.h's records, under the shared store's lock.
std::optional<std::string> get_record(SharedStore& shared, const cas::Digest& key,
                                      const std::string& name) {
  std::lock_guard lock(shared.mutex);
  auto record = cas::get_record(shared.store, key, name);
  return record.ok() ? std::move(record).value() : std::nullopt;
}

Status put_record(SharedStore& shared, const cas::Digest& key, const std::string& name,
                  std::string_view bytes) {
  std::lock_guard lock(shared.mutex);
  return cas::put_record(shared.store, key, name, bytes);
}

cas::Digest record_key(cas::DigestFunction fn, std::string_view kind, std::string_view material) {
  std::string text(kind);
  text += '\0';
  text += material;
  return cas::digest_of(fn, text);
}

// ---- one unit of work ----

struct Job {
  std::vector<std::string> tests;  // sorted ids
  int attempt = 1;                 // 1: the first run; more: a retry
  std::string label;
  milliseconds estimate{0};
};

// What a job's thread hands back.
// What a job's thread hands back: the run as test_report.h reads it
// (exit code, signal, timeout, console, report, wall time), and more.
struct RunOutput : ShardRun {
  std::optional<std::string> error;  // it could not run at all (setup)
  bool status_file = false;          // it touched TEST_SHARD_STATUS_FILE
  bool cached = false;               // answered by an action cache
  std::string where;
};

// What the engine makes of a RunOutput.
struct Interpretation {
  std::vector<TestResult> verdicts;
  std::vector<std::string> rerun;        // not finished: run again together
  std::vector<std::string> rerun_alone;  // not finished, each alone
  std::string setup_error;               // the binary misbehaved as a test tool
  std::string warning;
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
  virtual const std::vector<TestCase>& tests() const = 0;
  // Tests decided without running (CTest's disabled ones).
  virtual std::vector<TestResult> preset() const { return {}; }
  // Whether one job may hold several tests.
  virtual bool batches() const = 0;
  // Called on the main thread (store unlocked): the function a job's thread
  // runs.
  virtual std::function<RunOutput()> prepare(const Job& job, milliseconds estimate) = 0;
  virtual Interpretation interpret(const Job& job, const RunOutput& run) = 0;
};

// ---- GoogleTest binaries (and the sharding environment) ----

// The test binary, its libraries and declared data, stored as one input
// root; how shard actions are made and run.
class BinarySuite : public Suite {
 public:
  BinarySuite(Context& ctx, SharedStore& shared, const TestOptions& opts, fs::path cwd)
      : ctx_(ctx), shared_(shared), opts_(opts), cwd_(std::move(cwd)) {}

  void load() {
    const std::string& given = opts_.command.front();
    auto found = find_program(given, ctx_);
    if (!found)
      throw CommandError(kTestExitSetup, "test binary '" + given + "' not found or not executable");
    binary_ = *found;
    base_env_ = command_environment(ctx_, opts_.env);
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
      check(
          root.add_file(std::string(kLibDir) + "/" + name, check(store.put_file(lib), lib), true));
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

  std::string name() const override { return binary_.filename().string(); }

  std::string durations_key() const override {
    std::string key = (opts_.sharding_env ? "env:" : "gtest:") + name();
    for (const std::string& a : args_) key += " " + a;
    return key + " @" + platform_name();
  }

  std::string cache_material(const std::string& id) const override {
    std::string m = input_root_.to_string() + "\n" + program_;
    for (const std::string& a : args_) m += "\n" + a;
    for (const auto& p : base_env_) m += "\nenv " + p.name + "=" + p.value;
    m += "\ntimeout " + std::to_string(per_test_timeout().count());
    return m + "\ntest " + id;
  }

  milliseconds per_test_timeout() const {
    return milliseconds(static_cast<std::int64_t>(std::llround(opts_.timeout_s * 1000)));
  }

  // Runs one action for `argv`/`env`, with the report and status files as
  // declared outputs.
  std::function<RunOutput()> action_job(std::vector<std::string> argv,
                                        std::vector<cas::Property> env, milliseconds timeout) {
    cas::Command command;
    command.arguments = std::move(argv);
    std::sort(env.begin(), env.end());
    command.environment = std::move(env);
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
    return [this, action, action_digest, timeout]() {
      RunOutput out;
      out.timeout = timeout;
      const auto start = Clock::now();
      std::unique_ptr<exec::ActionExecutor> executor = make_executor_();
      out.where = executor->where();
      auto executed = executor->execute(action_digest, action);
      out.wall = since(start);
      if (!executed.ok()) {
        out.error = executed.error().message;
        return out;
      }
      const cas::ActionResult& result = executed->result;
      out.timed_out = executed->timed_out;
      out.cached = executed->cached;
      out.exit_code = result.exit_code;
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
    };
  }

  void set_executor_factory(std::function<std::unique_ptr<exec::ActionExecutor>()> make) {
    make_executor_ = std::move(make);
  }

 protected:
  Context& ctx_;
  SharedStore& shared_;
  const TestOptions& opts_;
  fs::path cwd_;
  fs::path binary_;
  std::string program_;  // the binary inside the input root
  std::vector<std::string> args_;
  std::vector<cas::Property> base_env_;
  cas::Digest input_root_;
  std::function<std::unique_ptr<exec::ActionExecutor>()> make_executor_;
};

class GTestSuite final : public BinarySuite {
 public:
  using BinarySuite::BinarySuite;

  void list() {
    std::vector<std::string> argv{binary_.string()};
    argv.insert(argv.end(), args_.begin(), args_.end());
    argv.push_back("--gtest_list_tests");
    std::vector<cas::Property> env = command_environment(ctx_, opts_.env);
    const exec::RunOutcome listed =
        run_here(argv, cwd_, environment_list(env), binary_.string() + " --gtest_list_tests");
    const std::string what = binary_.string() + " is not a GoogleTest binary";
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
          ctx_.err << "kiln: warning: " << binary_.filename().string()
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
      if (blank) throw CommandError(kTestExitNoTests, "no tests found in " + binary_.string());
      throw CommandError(kTestExitSetup, binary_.string() + ": " + tests.error().message);
    }
    tests_ = std::move(tests).value();
  }

  const std::vector<TestCase>& tests() const override { return tests_; }
  bool batches() const override { return true; }

  // A shard may run longer than any one test may: its estimate twice over
  // plus one test's limit, but never more than every test at its limit.
  // The engine still tells a hang from a slow shard (interpret).
  std::function<RunOutput()> prepare(const Job& job, milliseconds estimate) override {
    const milliseconds limit = per_test_timeout();
    const auto count = static_cast<std::int64_t>(job.tests.size());
    const milliseconds timeout = std::min(limit * count, limit + 2 * estimate + milliseconds(1000));
    std::vector<std::string> argv{program_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    argv.push_back("--gtest_filter=" + check(gtest_filter(job.tests)));
    argv.push_back(std::string("--gtest_output=xml:") + kReportPath);
    return action_job(std::move(argv), base_env_, timeout);
  }

  Interpretation interpret(const Job& job, const RunOutput& run) override {
    ShardVerdicts v = interpret_gtest_shard(job.tests, run, per_test_timeout());
    Interpretation in;
    in.verdicts = std::move(v.verdicts);
    in.rerun = std::move(v.rerun);
    in.rerun_alone = std::move(v.rerun_alone);
    if (!v.report_error.empty())
      in.setup_error = name() + " wrote an invalid XML report (" + v.report_error + ")";
    return in;
  }

 private:
  std::vector<TestCase> tests_;
};

// A binary that follows the GTest/Bazel sharding environment: each shard
// is one test ("shard 2/4"), passed by its exit code.
class EnvShardSuite final : public BinarySuite {
 public:
  EnvShardSuite(Context& ctx, SharedStore& shared, const TestOptions& opts, fs::path cwd,
                std::size_t shards)
      : BinarySuite(ctx, shared, opts, std::move(cwd)), shards_(shards) {
    for (std::size_t i = 0; i < shards_; ++i) tests_.push_back({shard_id(i)});
  }

  std::string shard_id(std::size_t i) const {
    return "shard " + std::to_string(i + 1) + "/" + std::to_string(shards_);
  }
  const std::vector<TestCase>& tests() const override { return tests_; }
  bool batches() const override { return false; }

  std::function<RunOutput()> prepare(const Job& job, milliseconds /*estimate*/) override {
    std::size_t index = 0;
    while (index < shards_ && shard_id(index) != job.tests.front()) ++index;
    std::vector<std::string> argv{program_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::vector<cas::Property> env = base_env_;
    env.push_back({"GTEST_TOTAL_SHARDS", std::to_string(shards_)});
    env.push_back({"GTEST_SHARD_INDEX", std::to_string(index)});
    env.push_back({"TEST_TOTAL_SHARDS", std::to_string(shards_)});
    env.push_back({"TEST_SHARD_INDEX", std::to_string(index)});
    // Bazel's name, and GoogleTest's own (it reads only GTEST_SHARD_STATUS_FILE).
    env.push_back({"TEST_SHARD_STATUS_FILE", kShardStatusPath});
    env.push_back({"GTEST_SHARD_STATUS_FILE", kShardStatusPath});
    env.push_back({"XML_OUTPUT_FILE", kReportPath});
    return action_job(std::move(argv), std::move(env), per_test_timeout());
  }

  Interpretation interpret(const Job& job, const RunOutput& run) override {
    Interpretation in;
    TestResult r = test_result(job.tests.front(), Outcome::kPassed);
    r.suite = name();
    r.name = job.tests.front();
    r.time = run.wall;
    if (run.timed_out) {
      r.outcome = Outcome::kTimedOut;
      r.timeout = per_test_timeout();
      r.message = "timed out after " + seconds_text(per_test_timeout());
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

 private:
  std::size_t shards_;
  std::vector<TestCase> tests_;
};

// ---- CTest ----

class CTestSuite final : public Suite {
 public:
  CTestSuite(Context& ctx, SharedStore& shared, const TestOptions& opts, int cancel_fd)
      : ctx_(ctx), shared_(shared), opts_(opts), cancel_fd_(cancel_fd) {}

  void load() {
    std::error_code ec;
    const fs::path given = opts_.ctest_dir;
    if (!fs::is_directory(given, ec))
      throw CommandError(kTestExitSetup, "--ctest " + opts_.ctest_dir + ": no such directory");
    dir_ = fs::canonical(given, ec);
    if (!fs::exists(dir_ / "CTestTestfile.cmake"))
      throw CommandError(kTestExitSetup,
                         "--ctest " + opts_.ctest_dir +
                             " is not a CTest build directory (no CTestTestfile.cmake)");
    std::vector<std::string> env;
    for (const auto& [k, v] : ctx_.environment) env.push_back(k + "=" + v);
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
      // The executable's content and that of its libraries are the inputs.
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
      const std::string name = test.name;
      tests_.push_back({name});
      by_name_.emplace(name, Entry{std::move(test), std::move(material)});
    }
  }

  std::string name() const override { return dir_.string(); }
  std::string durations_key() const override {
    return "ctest:" + dir_.string() + " @" + platform_name();
  }
  std::string cache_material(const std::string& id) const override {
    return by_name_.at(id).material + "\ntest " + id;
  }
  const std::vector<TestCase>& tests() const override { return tests_; }
  std::vector<TestResult> preset() const override { return preset_; }
  bool batches() const override { return false; }

  std::function<RunOutput()> prepare(const Job& job, milliseconds /*estimate*/) override {
    const CTestCase& test = by_name_.at(job.tests.front()).test;
    exec::RunSpec spec;
    spec.argv = test.command;
    std::map<std::string, std::string> env = ctx_.environment;
    for (const std::string& e : test.environment) {
      const auto eq = e.find('=');
      if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
    }
    for (const auto& p : command_environment(ctx_, opts_.env)) env[p.name] = p.value;
    for (const auto& [k, v] : env) spec.env.push_back(k + "=" + v);
    spec.cwd = working_dir(test);
    spec.timeout = timeout_of(test);
    spec.cancel_fd = cancel_fd_;
    return [spec]() {
      RunOutput out;
      out.where = "local";
      out.timeout = spec.timeout;
      const auto start = Clock::now();
      auto ran = exec::run_command(spec);
      out.wall = since(start);
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

  Interpretation interpret(const Job& job, const RunOutput& run) override {
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

 private:
  struct Entry {
    CTestCase test;
    std::string material;
  };

  static std::string digest_path(cas::DigestFunction fn, const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      auto tree = cas::build_tree(path, fn);
      return tree.ok() ? tree->root.to_string() : "unreadable";
    }
    auto digest = cas::digest_file(fn, path);
    return digest.ok() ? digest->to_string() : "unreadable";
  }
  fs::path working_dir(const CTestCase& test) const {
    return test.working_directory.empty() ? dir_ : fs::path(test.working_directory);
  }
  milliseconds timeout_of(const CTestCase& test) const {
    return test.timeout.value_or(
        milliseconds(static_cast<std::int64_t>(std::llround(opts_.timeout_s * 1000))));
  }

  Context& ctx_;
  SharedStore& shared_;
  const TestOptions& opts_;
  int cancel_fd_;
  fs::path dir_;
  std::vector<TestCase> tests_;
  std::vector<TestResult> preset_;
  std::map<std::string, Entry> by_name_;
};

// ---- the engine ----

class Engine {
 public:
  Engine(Context& ctx, const TestOptions& opts, SharedStore& shared, Suite& suite,
         std::size_t slots, bool progress, const Interrupt& interrupt)
      : interrupt_(interrupt),
        ctx_(ctx),
        opts_(opts),
        shared_(shared),
        suite_(suite),
        slots_(std::max<std::size_t>(1, slots)),
        progress_(progress),
        fn_(shared.store.digest_function()),
        book_(suite.durations_key()) {}

  void set_where(std::string where) { where_ = std::move(where); }

  int run() {
    start_ = Clock::now();
    load_book();
    for (TestResult r : suite_.preset()) final_[r.id] = std::move(r);
    // 1. What the results cache already knows.
    std::vector<TestCase> to_run;
    for (const TestCase& test : suite_.tests()) {
      if (final_.contains(test.id)) continue;
      if (!opts_.no_cache) {
        auto cached = get_record(shared_, result_key(test.id), "result.json");
        if (cached) {
          if (auto r = decode_test_result(*cached); r && r->id == test.id) {
            r->cached = true;
            r->attempts = 1;
            final_[test.id] = std::move(*r);
            continue;
          }
        }
      }
      to_run.push_back(test);
    }
    total_ = final_.size() + to_run.size();
    cached_ = total_ - to_run.size() - suite_.preset().size();
    // 2. The plan.
    const PlanEstimate estimate = estimate_tests(to_run, book_, kDefaultEstimate);
    remaining_estimate_ = estimate.total;
    std::size_t shards = 0;
    if (!to_run.empty()) {
      if (!suite_.batches()) {
        shards = to_run.size();
      } else if (opts_.shards == "auto") {
        shards = auto_shards(estimate.total, estimate.longest, to_run.size(), slots_, kTargetShard);
      } else {
        shards = std::min<std::size_t>(std::stoul(opts_.shards), to_run.size());
      }
      lower_bound_ =
          makespan_lower_bound(estimate.total, estimate.longest, std::min(shards, slots_));
    }
    if (opts_.queue && suite_.batches()) {
      queue_.emplace(to_run, book_, kDefaultEstimate, slots_);
    } else {
      const std::vector<Shard> plan =
          plan_shards(to_run, book_, std::max<std::size_t>(shards, 1), kDefaultEstimate);
      for (std::size_t i = 0; i < plan.size(); ++i) {
        Job job;
        job.tests = plan[i].tests;
        job.estimate = plan[i].estimate;
        job.label = suite_.batches()
                        ? "shard " + std::to_string(i + 1) + "/" + std::to_string(plan.size())
                        : plan[i].tests.front();
        pending_.push_back(std::move(job));
      }
    }
    announce(to_run.size(), shards);
    // 3. Run.
    loop();
    // 4. Record.
    save();
    return finish();
  }

 private:
  struct Running {
    Job job;
    std::thread thread;
    Clock::time_point started;
  };
  struct Done {
    std::size_t slot;
    RunOutput output;
  };

  cas::Digest result_key(const std::string& id) const {
    return record_key(fn_, "kiln-test-result/1", suite_.cache_material(id));
  }
  cas::Digest book_key() const { return record_key(fn_, "kiln-test-durations/1", book_.key()); }

  void load_book() {
    if (auto text = get_record(shared_, book_key(), "durations.json")) {
      if (auto book = DurationBook::from_json(*text); book && book->key() == book_.key()) {
        book_ = std::move(*book);
      }
    }
  }

  void announce(std::size_t to_run, std::size_t shards) {
    std::ostringstream line;
    line << "kiln test: " << suite_.name() << ": " << total_ << " test" << (total_ == 1 ? "" : "s");
    if (cached_ != 0) line << " (" << cached_ << " cached)";
    if (to_run != 0) {
      line << "; running " << to_run << " in ";
      if (opts_.queue && suite_.batches())
        line << "batches (queue mode)";
      else
        line << shards << (suite_.batches() ? " shard" : " job") << (shards == 1 ? "" : "s");
      line << " on " << where_ << ", " << slots_ << " at a time, estimated "
           << seconds_text(std::max(lower_bound_, milliseconds(0)));
    }
    ctx_.err << line.str() << '\n';
  }

  std::optional<Job> next_job() {
    if (!pending_.empty()) {
      Job job = std::move(pending_.front());
      pending_.pop_front();
      return job;
    }
    if (queue_ && !queue_->empty()) {
      auto batch = queue_->next(kTargetBatch);
      if (!batch) return std::nullopt;
      Job job;
      job.tests = std::move(*batch);
      for (const std::string& id : job.tests)
        job.estimate += book_.estimate_or(id, kDefaultEstimate);
      job.label = "batch " + std::to_string(++batches_);
      return job;
    }
    return std::nullopt;
  }

  // Starts `job` in `slot`; false (with a setup error said) when it could
  // not even be prepared. Nothing may throw out of the loop while job
  // threads run.
  bool start(std::size_t slot, Job job) {
    std::function<RunOutput()> work;
    try {
      work = suite_.prepare(job, job.estimate);
    } catch (const std::exception& e) {
      setup_error(suite_.name() + ": " + job.label + " could not be prepared: " + e.what());
      stop_ = true;
      return false;
    }
    Running& r = running_[slot];
    r.job = std::move(job);
    r.started = Clock::now();
    r.thread = std::thread([this, slot, work = std::move(work)]() {
      RunOutput output;
      try {
        output = work();
      } catch (const std::exception& e) {
        output.error = e.what();
      }
      std::lock_guard lock(done_mutex_);
      done_.push_back({slot, std::move(output)});
      done_cv_.notify_one();
    });
    return true;
  }

  void loop() {
    std::vector<bool> busy(slots_, false);
    running_.resize(slots_);
    std::size_t active = 0;
    for (;;) {
      if (interrupt_.signal() != 0 && !stop_) {
        stop_ = true;
        say("kiln test: interrupted (signal " + std::to_string(interrupt_.signal()) +
            "); stopping the running tests");
      }
      for (std::size_t slot = 0; slot < slots_ && !stop_; ++slot) {
        if (busy[slot]) continue;
        auto job = next_job();
        if (!job) break;
        if (!start(slot, std::move(*job))) break;
        busy[slot] = true;
        ++active;
      }
      if (active == 0) break;
      std::deque<Done> finished;
      {
        std::unique_lock lock(done_mutex_);
        done_cv_.wait_for(lock, milliseconds(200), [&] { return !done_.empty(); });
        finished.swap(done_);
      }
      for (Done& d : finished) {
        Running& r = running_[d.slot];
        r.thread.join();
        busy[d.slot] = false;
        --active;
        // After an interrupt, killed jobs say nothing about their tests.
        if (interrupt_.signal() != 0) continue;
        try {
          handle(std::move(r.job), d.output);
        } catch (const std::exception& e) {
          setup_error(suite_.name() + ": " + e.what());
          stop_ = true;
        }
      }
      draw_progress();
    }
    clear_progress();
  }

  void handle(Job job, const RunOutput& run) {
    if (queue_) queue_->complete(job.tests);
    ShardRecord record;
    record.label = job.label;
    record.tests = job.tests.size();
    record.ids = job.tests;
    record.estimate = job.estimate;
    record.wall = run.wall;
    record.cached = run.cached;
    record.where = run.cached ? "cache" : run.where;
    records_.push_back(record);
    if (run.error) {
      setup_error(suite_.name() + ": " + job.label + " could not run: " + *run.error);
      stop_ = true;
      return;
    }
    Interpretation in = suite_.interpret(job, run);
    if (!in.warning.empty() && warned_.insert(in.warning).second)
      say("kiln: warning: " + in.warning);
    if (!in.setup_error.empty()) setup_error(in.setup_error);
    for (TestResult& v : in.verdicts) {
      // A shard the grid's action cache answered: it passed before, on
      // this machine or another (a fresh CI runner gets these).
      v.cached = run.cached;
      verdict(std::move(v), job.attempt);
    }
    if (!in.rerun.empty()) {
      Job again;
      again.tests = in.rerun;
      again.attempt = job.attempt;
      for (const std::string& id : again.tests)
        again.estimate += book_.estimate_or(id, kDefaultEstimate);
      again.label = job.label + " (rest)";
      pending_.push_front(std::move(again));
    }
    for (const std::string& id : in.rerun_alone) {
      Job alone;
      alone.tests = {id};
      alone.attempt = job.attempt;
      alone.estimate = book_.estimate_or(id, kDefaultEstimate);
      alone.label = id + " (alone)";
      pending_.push_front(std::move(alone));
    }
  }

  void verdict(TestResult r, int attempt) {
    if (final_.contains(r.id)) return;  // reported twice by a confused binary
    if (r.outcome == Outcome::kPassed || r.outcome == Outcome::kFailed) book_.record(r.id, r.time);
    remaining_estimate_ -= std::min(remaining_estimate_, book_.estimate_or(r.id, kDefaultEstimate));
    if (is_real_failure(r.outcome)) {
      if (attempt <= opts_.retries) {
        first_failure_.try_emplace(r.id, r);
        Job retry;
        retry.tests = {r.id};
        retry.attempt = attempt + 1;
        retry.estimate = book_.estimate_or(r.id, kDefaultEstimate);
        retry.label = "retry " + std::to_string(attempt) + " of " + r.id;
        pending_.push_back(std::move(retry));
        return;
      }
      r.attempts = attempt;
      report_failure(r);
    } else {
      r.attempts = attempt;
      if (auto first = first_failure_.find(r.id);
          first != first_failure_.end() && r.outcome == Outcome::kPassed) {
        r.outcome = Outcome::kFlaky;
        r.message = first->second.message;
        r.output = first->second.output;
        say("kiln test: FLAKY " + r.id + " failed, then passed on attempt " +
            std::to_string(attempt));
      }
    }
    ran_.insert(r.id);
    final_[r.id] = std::move(r);
  }

  void report_failure(const TestResult& r) {
    std::ostringstream out;
    out << "---- "
        << (r.outcome == Outcome::kFailed    ? "FAILED"
            : r.outcome == Outcome::kCrashed ? "CRASHED"
                                             : "TIMED OUT")
        << ' ' << r.id;
    if (r.attempts > 1) out << " (" << r.attempts << " attempts)";
    out << ": " << one_line(r.message) << '\n';
    if (!r.output.empty()) {
      out << tail_text(r.output, 16384);
      if (r.output.back() != '\n') out << '\n';
    }
    say(out.str(), false);
  }

  void setup_error(const std::string& message) {
    setup_errors_.push_back(message);
    say("kiln: error: " + message);
  }

  // A line for the user, above the progress line.
  void say(const std::string& text, bool newline = true) {
    clear_progress();
    ctx_.err << text;
    if (newline) ctx_.err << '\n';
    ctx_.err.flush();
  }

  std::size_t failures() const {
    std::size_t n = 0;
    for (const auto& [id, r] : final_) n += is_real_failure(r.outcome) ? 1 : 0;
    return n;
  }

  void draw_progress() {
    if (!progress_) return;
    std::ostringstream line;
    const milliseconds eta(
        static_cast<std::int64_t>(remaining_estimate_.count() / static_cast<std::int64_t>(slots_)));
    line << "\r[" << final_.size() << "/" << total_ << "] " << failures() << " failed, "
         << seconds_text(since(start_)) << " elapsed, ETA " << seconds_text(eta) << "  ";
    ctx_.err << line.str();
    ctx_.err.flush();
    drawn_ = true;
  }

  void clear_progress() {
    if (!drawn_) return;
    ctx_.err << "\r\033[K";
    drawn_ = false;
  }

  void save() {
    if (auto s = put_record(shared_, book_key(), "durations.json", book_.to_json()); !s.ok())
      say("kiln: warning: cannot record test durations: " + s.error().message);
    for (const std::string& id : ran_) {
      const TestResult& r = final_.at(id);
      if (r.outcome != Outcome::kPassed && r.outcome != Outcome::kSkipped) continue;
      if (auto s = put_record(shared_, result_key(id), "result.json", encode_test_result(r));
          !s.ok()) {
        say("kiln: warning: cannot cache a result: " + s.error().message);
        break;
      }
    }
    std::lock_guard lock(shared_.mutex);
    (void)shared_.store.flush_access();
  }

  int finish() {
    // Results in the suite's own order; tests never decided (the run was
    // stopped) are reported as failed so that nothing goes missing.
    std::vector<TestResult> results;
    for (const TestResult& r : suite_.preset()) results.push_back(final_.at(r.id));
    for (const TestCase& t : suite_.tests()) {
      auto it = final_.find(t.id);
      if (it != final_.end()) {
        results.push_back(it->second);
      } else {
        TestResult r = test_result(t.id, Outcome::kFailed);
        r.message = interrupt_.signal() != 0 ? "not run: interrupted"
                                             : "not run: the run was stopped by an earlier error";
        results.push_back(std::move(r));
      }
    }
    const milliseconds wall = since(start_);
    RunInfo info;
    info.shards = records_;
    info.wall = wall;
    info.lower_bound = lower_bound_;
    info.slots = slots_;
    write_reports(results, info);
    print_summary(results, info);
    if (interrupt_.signal() != 0) return 128 + interrupt_.signal();
    if (!setup_errors_.empty()) return kTestExitSetup;
    if (results.empty()) {
      ctx_.err << "kiln: error: no tests found in " << suite_.name() << '\n';
      return kTestExitNoTests;
    }
    const TestSummary s = summarize(results);
    if (!s.ok() || (opts_.flaky_fails && s.flaky > 0)) return kTestExitFailed;
    return kTestExitPassed;
  }

  void write_reports(const std::vector<TestResult>& results, const RunInfo& info) {
    const auto write = [&](const std::string& path, const std::string& text, const char* what) {
      if (auto written = base::write_file_atomically(path, text); !written.ok())
        setup_error(std::string("cannot write the ") + what +
                    " report: " + written.error().message);
    };
    if (!opts_.junit.empty()) {
      JUnitOptions options;
      options.name = "kiln test " + suite_.name();
      std::array<char, 32> stamp{};
      const std::time_t now = std::time(nullptr);
      std::tm tm{};
      if (::gmtime_r(&now, &tm) != nullptr &&
          std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%S", &tm) > 0)
        options.timestamp = stamp.data();
      std::array<char, 256> host{};
      if (::gethostname(host.data(), host.size() - 1) == 0) options.hostname = host.data();
      write(opts_.junit, write_junit(results, options), "JUnit");
    }
    if (!opts_.json.empty()) write(opts_.json, write_json(results, info), "JSON");
  }

  void print_summary(const std::vector<TestResult>& results, const RunInfo& info) {
    std::ostream& out = ctx_.out;
    // Slowest tests that ran this time.
    std::vector<const TestResult*> ran;
    for (const TestResult& r : results)
      if (!r.cached && r.time.count() > 0) ran.push_back(&r);
    std::sort(ran.begin(), ran.end(), [](const TestResult* a, const TestResult* b) {
      return a->time != b->time ? a->time > b->time : a->id < b->id;
    });
    if (!ran.empty()) {
      out << "slowest tests:\n";
      for (std::size_t i = 0; i < std::min<std::size_t>(5, ran.size()); ++i)
        out << "  " << std::setw(9) << seconds_text(ran[i]->time) << "  " << ran[i]->id << '\n';
    }
    // Shards, longest first, when there were several.
    std::vector<ShardRecord> shards;
    for (const ShardRecord& s : info.shards)
      if (!s.cached) shards.push_back(s);
    if (suite_.batches() && !shards.empty()) {
      milliseconds makespan{0};
      for (const ShardRecord& s : shards) makespan = std::max(makespan, s.wall);
      out << "shards: longest " << seconds_text(makespan) << " (lower bound "
          << seconds_text(lower_bound_) << "), wall " << seconds_text(info.wall) << '\n';
      std::sort(shards.begin(), shards.end(),
                [](const ShardRecord& a, const ShardRecord& b) { return a.wall > b.wall; });
      for (std::size_t i = 0; i < std::min<std::size_t>(8, shards.size()); ++i) {
        const ShardRecord& s = shards[i];
        out << "  " << std::left << std::setw(28) << s.label << std::right << std::setw(5)
            << s.tests << " tests  ran " << std::setw(8) << seconds_text(s.wall) << "  estimated "
            << std::setw(8) << seconds_text(s.estimate) << "  " << s.where << '\n';
      }
      if (shards.size() > 8) out << "  … " << shards.size() - 8 << " more\n";
    }
    // Tests that did not pass.
    for (const TestResult& r : results) {
      if (r.outcome == Outcome::kPassed || r.outcome == Outcome::kSkipped) continue;
      out << "  " << std::left << std::setw(10) << to_string(r.outcome) << std::right << r.id;
      if (!r.message.empty()) out << "  " << one_line(r.message, 100);
      out << '\n';
    }
    const TestSummary s = summarize(results);
    out << "kiln test: " << s.total << " tests: " << s.passed << " passed, " << s.failed
        << " failed, " << s.flaky << " flaky, " << s.crashed << " crashed, " << s.timed_out
        << " timed out, " << s.skipped << " skipped (" << s.cached << " cached) in "
        << seconds_text(info.wall) << '\n';
    out.flush();
  }

  const Interrupt& interrupt_;
  Context& ctx_;
  const TestOptions& opts_;
  SharedStore& shared_;
  Suite& suite_;
  std::size_t slots_;
  bool progress_;
  cas::DigestFunction fn_;
  DurationBook book_;
  std::string where_ = "this machine";
  Clock::time_point start_;
  std::deque<Job> pending_;
  std::optional<BatchQueue> queue_;
  std::size_t batches_ = 0;
  std::vector<Running> running_;
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  std::deque<Done> done_;
  std::map<std::string, TestResult> final_;
  std::map<std::string, TestResult> first_failure_;
  std::vector<ShardRecord> records_;
  std::vector<std::string> setup_errors_;
  std::set<std::string> warned_;
  std::set<std::string> ran_;  // decided by running in this invocation
  std::size_t total_ = 0;
  std::size_t cached_ = 0;
  milliseconds lower_bound_{0};
  milliseconds remaining_estimate_{0};
  bool stop_ = false;
  bool drawn_ = false;
};

}  // namespace

int run_test(Context& ctx, const TestOptions& opts) {
  const fs::path cwd = fs::current_path();
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
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  // Slots: -j, else this machine's cores, else on a grid every worker's
  // slots as the scheduler counts them now (8 if it has none yet).
  std::size_t slots = opts.jobs != 0 ? opts.jobs : cores;
  if (grid && opts.jobs == 0) {
    auto counted = grid::grid_slots(endpoint);
    if (!counted.ok())
      throw CommandError(kTestExitSetup, "cannot reach the grid: " + counted.error().message);
    slots = *counted != 0 ? *counted : 8;
  }
  const bool progress =
      opts.progress == "always" || (opts.progress == "auto" && ::isatty(STDERR_FILENO) == 1);

  const fs::path sandbox = ctx.config.dir() / "sandbox";
  grid::GridOptions grid_options = grid::grid_options(ctx.config, grid::GridUse::kAction);
  grid_options.store_mutex = &shared.mutex;
  auto make_executor = [&shared, grid_options, grid, sandbox,
                        cancel = interrupt.fd()]() -> std::unique_ptr<exec::ActionExecutor> {
    if (grid) return std::make_unique<grid::GridExecutor>(shared.store, grid_options);
    return std::make_unique<exec::LocalExecutor>(
        shared.store, exec::LocalExecutorOptions{
                          .work_root = sandbox, .cancel_fd = cancel, .store_mutex = &shared.mutex});
  };

  std::unique_ptr<Suite> suite;
  if (!opts.ctest_dir.empty()) {
    if (!endpoint.empty())
      ctx.err << "kiln: warning: CTest tests run on this machine (their commands name paths in the "
                 "build tree); the scheduler is not used\n";
    auto ctest = std::make_unique<CTestSuite>(ctx, shared, opts, interrupt.fd());
    ctest->load();
    suite = std::move(ctest);
  } else if (opts.sharding_env) {
    const std::size_t shards = opts.shards == "auto" ? slots : std::stoul(opts.shards);
    auto env = std::make_unique<EnvShardSuite>(ctx, shared, opts, cwd, shards);
    env->load();
    env->set_executor_factory(make_executor);
    suite = std::move(env);
  } else {
    auto gtest = std::make_unique<GTestSuite>(ctx, shared, opts, cwd);
    gtest->load();
    gtest->list();
    gtest->set_executor_factory(make_executor);
    suite = std::move(gtest);
  }
  if (suite->tests().empty() && suite->preset().empty()) {
    throw CommandError(kTestExitNoTests,
                       "no tests found in " + suite->name() +
                           (opts.ctest_dir.empty() ? "" : " (after -R/-E/-L filters)"));
  }
  Engine engine(ctx, opts, shared, *suite, slots, progress, interrupt);
  engine.set_where(grid ? endpoint : "this machine");
  return engine.run();
}

}  // namespace kiln::client::testing
