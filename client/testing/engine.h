// The engine of `kiln test`: one loop that decides what runs, when, and
// what each run means, apart from everything it drives. Like ninja's Plan
// it knows no thread, clock, disk or process: it talks to a Suite
// (suite.h), a JobRunner, a Clock, an InterruptSource and Records, and
// writes its lines to a std::ostream. thread_runner.h, interrupt.h and
// store_records.h are the real ones; engine_test.cpp drives it with fakes.
//
// A run, top to bottom:
//   1. Cache. Unless no_cache, each test with a results-cache record
//      (kResultRecord, keyed by the suite's cache_material; only passes and
//      skips are ever written) is decided "cached" without running.
//   2. Plan. The rest are planned from the duration book (kDurationsRecord,
//      keyed by the suite's durations_key): fixed shards balanced by
//      estimate (plan_shards; `--shards auto` picks the count), a BatchQueue
//      in queue mode, or one job per test for suites that do not batch.
//   3. Loop. Free slots take the next job: reruns first, then the planned
//      shards and the retries in turn (queue mode: the next batch once
//      nothing else waits). The suite interprets each finished job:
//      - a real failure is retried alone up to `retries` times; its last
//        attempt's verdict stands, with attempts = runs it took;
//      - a pass after a failure is flaky, keeping the first failure's
//        message and output;
//      - tests a crash or kill left unfinished run again: `rerun` together
//        in one job, `rerun_alone` each in its own, at the same attempt;
//      - passed and failed verdicts' times go into the duration book.
//      A job that cannot be prepared or run is a setup error: no new job
//      starts, the running ones finish. An interrupt stops new jobs, and
//      what the interrupted jobs report is ignored.
//   4. Record. The duration book and every pass or skip decided by running
//      are written back to the records.
//   5. Report. The results in the suite's order (undecided tests "not
//      run") and the run's shards come back as a RunReport; exit_code()
//      says what `kiln test` exits with. Writing files is the caller's.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "client/testing/plan.h"
#include "client/testing/result.h"
#include "client/testing/suite.h"

namespace kiln::client::testing {

// `kiln test`'s exit codes (docs/testing.md); an interrupt by signal N
// exits 128 + N.
enum TestExit : int {
  kTestExitPassed = 0,
  kTestExitFailed = 1,
  kTestExitSetup = 2,
  kTestExitNoTests = 4,
};

// What an unknown test is estimated at when the book knows no test at all.
inline constexpr Millis kDefaultEstimate{100};
// `--shards auto` aims at shards at least this long, so a shard's fixed
// cost (materializing inputs, starting the binary) stays small.
inline constexpr Millis kTargetShard{1000};
// Queue mode's largest batch.
inline constexpr Millis kTargetBatch{2000};
// How long the loop waits for a job before it looks at the interrupt and
// redraws the progress line.
inline constexpr Millis kPollInterval{200};

// A monotonic clock; only differences between readings mean anything.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now() const = 0;
};

// Whether the user asked the run to stop: the signal (SIGINT, SIGTERM, …),
// 0 while none came. Once non-zero it stays so.
class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  virtual int signal() const = 0;
};

// The two kinds of record `kiln test` keeps between runs: the kind goes
// into the key with the material, the name is the record's document name.
// Changing either makes every earlier record miss.
struct RecordKind {
  std::string_view kind;
  std::string_view name;
};
inline constexpr RecordKind kResultRecord{"kiln-test-result/1", "result.json"};
inline constexpr RecordKind kDurationsRecord{"kiln-test-durations/1", "durations.json"};
// A slice plan (plan.h), keyed by the slice count and every test's id and
// cache material: slices of one build agree, a rebuild plans afresh.
inline constexpr RecordKind kSliceRecord{"kiln-test-slices/1", "slices.json"};

// Where records live (the local store, for the real one).
class Records {
 public:
  virtual ~Records() = default;
  // The document stored for `kind` and `material`; nullopt when there is
  // none, or it cannot be read (a broken store is a cache miss).
  virtual std::optional<std::string> get(const RecordKind& kind, std::string_view material) = 0;
  // get() for each of `materials`, in order; records kept far away answer
  // in one round trip.
  virtual std::vector<std::optional<std::string>> get_many(
      const RecordKind& kind, const std::vector<std::string>& materials) {
    std::vector<std::optional<std::string>> found;
    found.reserve(materials.size());
    for (const std::string& m : materials) found.push_back(get(kind, m));
    return found;
  }
  // Stores `document` for `kind` and `material`, replacing what was there.
  virtual Status put(const RecordKind& kind, std::string_view material,
                     std::string_view document) = 0;
  // Stores `document` unless a record is there, and returns the record
  // there now (the first writer's); nullopt when it cannot be stored.
  virtual std::optional<std::string> put_if_absent(const RecordKind& kind,
                                                   std::string_view material,
                                                   std::string_view document) = 0;
  // Called once, after the run's last put.
  virtual void flush() = 0;
};

struct FinishedJob {
  std::size_t slot = 0;
  RunOutput output{};
};

// Runs work in numbered slots, in parallel.
class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Starts `work` in `slot`, which holds no unfinished job. If `work`
  // throws, its job finishes with RunOutput::error set to what() says.
  virtual void start(std::size_t slot, Work work) = 0;
  // The jobs that have finished since the last call, waiting up to
  // `timeout` for one when none has; empty when none finished in time.
  virtual std::vector<FinishedJob> wait(Millis timeout) = 0;
};

struct EngineOptions {
  std::optional<std::size_t> shards{};  // --shards N; nullopt: auto
  std::size_t slots = 1;                // jobs at once (0 counts as 1)
  bool queue = false;                   // batches from a BatchQueue instead of fixed shards
  int retries = 0;                      // extra runs of a failed test, alone
  bool no_cache = false;                // run every test; passes are still recorded
  bool progress = false;                // keep a live progress line on `err`
  std::string where = "this machine";   // for the announcement
  // --shard-index I --total-shards N: decide only slice `index` of `total`
  // (plan.h's plan_slices, agreed through kSliceRecord). Reports then hold
  // that slice's tests, and CTest's preset results only in slice 0.
  struct Slice {
    std::size_t index = 0;
    std::size_t total = 1;
  };
  std::optional<Slice> slice{};
};

struct RunReport {
  // Preset results first, then every test of the suite in its order; a
  // test never decided is kFailed "not run: interrupted" (or "… stopped by
  // an earlier error").
  std::vector<TestResult> results{};
  RunInfo info{};
  std::vector<std::string> setup_errors{};  // each already said on `err`
  int signal = 0;                           // the interrupt, 0 if none
};

// What `kiln test` exits with after `report`: 128 + signal when
// interrupted; else kTestExitSetup after a setup error; else
// kTestExitNoTests for no results; else kTestExitFailed for a real failure
// (or a flaky test, with `flaky_fails`); else kTestExitPassed.
int exit_code(const RunReport& report, bool flaky_fails);

class Engine {
 public:
  // Everything passed must outlive run().
  Engine(Suite& suite, JobRunner& runner, const Clock& clock, const InterruptSource& interrupt,
         Records& records, std::ostream& err, EngineOptions options);

  // Runs the suite once, as the file comment says. Lines for the user (the
  // announcement, failures as they become final, flaky tests, warnings,
  // setup errors as "kiln: error: …", the progress line) go to `err`.
  // Call once.
  RunReport run();

 private:
  struct Slot {
    bool busy = false;
    Job job{};
  };

  void select_tests();
  std::vector<TestCase> look_up_cache();
  std::size_t plan(const std::vector<TestCase>& to_run);
  void announce(std::size_t to_run, std::size_t shards);
  std::optional<Job> next_job();
  bool start(std::size_t slot, Job job);
  void loop();
  void handle(const Job& job, const RunOutput& run);
  void requeue(const Job& job, const Interpretation& in);
  void verdict(TestResult r, int attempt);
  void report_failure(const TestResult& r);
  void setup_error(const std::string& message);
  void say(const std::string& text, bool newline = true);
  std::size_t failures() const;
  void draw_progress();
  void clear_progress();
  void save();
  RunReport finish();
  Job job_for(std::vector<std::string> tests, int attempt, std::string label) const;

  Suite& suite_;
  JobRunner& runner_;
  const Clock& clock_;
  const InterruptSource& interrupt_;
  Records& records_;
  std::ostream& err_;
  EngineOptions options_;
  DurationBook book_;
  std::vector<TestCase> tests_;  // what this run decides: the suite's, or a slice of them
  bool presets_ = true;          // whether it reports the suite's preset results
  Millis start_{0};
  std::deque<Job> pending_;
  std::optional<BatchQueue> queue_;
  std::size_t batches_ = 0;
  std::vector<Slot> slots_;
  std::map<std::string, TestResult> final_;
  std::map<std::string, TestResult> first_failure_;
  std::vector<ShardRecord> shards_;
  std::vector<std::string> setup_errors_;
  std::set<std::string> warned_;
  std::set<std::string> ran_;  // decided by running in this invocation
  std::size_t total_ = 0;
  std::size_t cached_ = 0;
  Millis lower_bound_{0};
  Millis remaining_estimate_{0};
  bool stop_ = false;
  bool drawn_ = false;
};

}  // namespace kiln::client::testing
