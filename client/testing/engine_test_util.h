// The engine's surroundings for its unit tests (engine_test.cpp), as
// ninja's src/test.h holds FakeCommandRunner and a virtual file system:
//   FakeClock      time moves only when FakeRunner moves it
//   FakeInterrupt  a signal that arrives at a set time on that clock
//   MemoryRecords  the results cache and duration book in a map
//   FakeRunner     starts work at once and finishes it when the clock
//                  reaches start + wall: a discrete-event simulation, no
//                  threads and no sleeps
//   FakeSuite      a GoogleTest binary simulated in memory: each test
//                  follows a script (pass, fail, skip, crash, hang; a time
//                  each), a job's work writes the console GoogleTest would
//                  print, and the real interpret_gtest_shard reads it
//   Harness        one of each, and an Engine run over them
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <deque>
#include <exception>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "client/testing/engine.h"
#include "client/testing/gtest_shard.h"

namespace kiln::client::testing::engine_fakes {

class FakeClock final : public Clock {
 public:
  Millis now() const override { return now_; }
  void advance_to(Millis t) { now_ = std::max(now_, t); }

 private:
  Millis now_{0};
};

// A signal that arrives when the clock reaches `at`.
class FakeInterrupt final : public InterruptSource {
 public:
  explicit FakeInterrupt(const FakeClock& clock) : clock_(clock) {}
  void arrive_at(Millis at, int sig) {
    at_ = at;
    sig_ = sig;
  }
  int signal() const override { return sig_ != 0 && clock_.now() >= at_ ? sig_ : 0; }

 private:
  const FakeClock& clock_;
  Millis at_{0};
  int sig_ = 0;
};

class MemoryRecords final : public Records {
 public:
  std::optional<std::string> get(const RecordKind& kind, std::string_view material) override {
    auto it = docs.find(key(kind, material));
    if (it == docs.end()) return std::nullopt;
    return it->second;
  }
  Status put(const RecordKind& kind, std::string_view material,
             std::string_view document) override {
    if (fail_puts) return make_error(Errc::kIo, "disk full");
    docs[key(kind, material)] = std::string(document);
    return {};
  }
  std::optional<std::string> put_if_absent(const RecordKind& kind, std::string_view material,
                                           std::string_view document) override {
    if (fail_puts) return std::nullopt;
    return docs.try_emplace(key(kind, material), document).first->second;
  }
  void flush() override { ++flushes; }

  static std::string key(const RecordKind& kind, std::string_view material) {
    return std::string(kind.kind) + "|" + std::string(kind.name) + "|" + std::string(material);
  }

  std::map<std::string, std::string> docs;
  bool fail_puts = false;
  int flushes = 0;
};

// Starts work at once and holds its output until the clock reaches
// start + wall; wait() moves the clock to the next end, or by `timeout`.
class FakeRunner final : public JobRunner {
 public:
  explicit FakeRunner(FakeClock& clock) : clock_(clock) {}

  void start(std::size_t slot, Work work) override {
    for (const Running& r : running_) EXPECT_NE(r.slot, slot) << "slot " << slot << " is busy";
    RunOutput output;
    try {
      output = work();
    } catch (const std::exception& e) {
      output.error = e.what();
    }
    const Millis end = clock_.now() + output.wall;
    running_.push_back({slot, end, std::move(output)});
    max_parallel = std::max(max_parallel, running_.size());
  }

  std::vector<FinishedJob> wait(Millis timeout) override {
    ++waits;
    Millis first = clock_.now() + timeout;
    for (const Running& r : running_) first = std::min(first, r.end);
    clock_.advance_to(first);
    std::vector<FinishedJob> done;
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->end > clock_.now()) {
        ++it;
        continue;
      }
      done.push_back({it->slot, std::move(it->output)});
      it = running_.erase(it);
    }
    return done;
  }

  std::size_t max_parallel = 0;
  int waits = 0;

 private:
  struct Running {
    std::size_t slot;
    Millis end;
    RunOutput output;
  };
  FakeClock& clock_;
  std::vector<Running> running_;
};

enum class Act { kPass, kFail, kSkip, kCrash, kHang };
struct Step {
  Act act = Act::kPass;
  Millis time{10};
};

// Each test's limit in FakeSuite (what interpret_gtest_shard is given).
inline constexpr Millis kLimit{1000};

class FakeSuite final : public Suite {
 public:
  explicit FakeSuite(const std::vector<std::string>& ids, bool batches = true) : batches_(batches) {
    for (const std::string& id : ids) tests_.push_back({id});
  }

  std::string name() const override { return "fake"; }
  std::string durations_key() const override { return "fake @test"; }
  std::string cache_material(const std::string& id) const override { return material + id; }
  const std::vector<TestCase>& tests() const override { return tests_; }
  std::vector<TestResult> preset() const override { return preset_list; }
  bool batches() const override { return batches_; }

  Work prepare(const Job& job) override {
    if (unpreparable.contains(job.tests.front())) throw std::runtime_error("no action for it");
    prepared.push_back(job);
    return [this, tests = job.tests] { return run(tests); };
  }

  Interpretation interpret(const Job& job, const RunOutput& run) override {
    ShardVerdicts v = interpret_gtest_shard(job.tests, run, kLimit);
    Interpretation in;
    in.verdicts = std::move(v.verdicts);
    in.rerun = std::move(v.rerun);
    in.rerun_alone = std::move(v.rerun_alone);
    return in;
  }

  // The steps of `id`'s next runs; once they are used up it passes in 10 ms.
  void script(const std::string& id, std::vector<Step> steps) {
    script_[id].assign(steps.begin(), steps.end());
  }

  // The labels of the jobs prepared so far, in order.
  std::vector<std::string> labels() const {
    std::vector<std::string> out;
    for (const Job& job : prepared) out.push_back(job.label);
    return out;
  }

  std::vector<Job> prepared;
  std::set<std::string> cannot_run;    // a job holding one of these cannot run
  std::set<std::string> unpreparable;  // prepare() throws for a job starting with one
  std::vector<TestResult> preset_list;
  std::string material = "v1 ";

 private:
  // One run of `tests` in order, as a GoogleTest binary without an XML
  // report would leave it: the console, the exit status and the wall time.
  RunOutput run(const std::vector<std::string>& tests) {
    RunOutput out;
    out.where = "fake";
    for (const std::string& id : tests)
      if (cannot_run.contains(id)) out.error = "no such binary";
    if (out.error) return out;
    for (const std::string& id : tests) {
      Step step;
      if (auto& steps = script_[id]; !steps.empty()) {
        step = steps.front();
        steps.pop_front();
      }
      const std::string ms = " (" + std::to_string(step.time.count()) + " ms)\n";
      out.out += "[ RUN      ] " + id + "\n";
      out.wall += step.time;
      switch (step.act) {
        case Act::kPass:
          out.out.append("[       OK ] ").append(id).append(ms);
          break;
        case Act::kFail:
          out.out += "failure " + std::to_string(++failures_[id]) + " of " + id + "\n";
          out.out.append("[  FAILED  ] ").append(id).append(ms);
          out.exit_code = 1;
          break;
        case Act::kSkip:
          out.out.append("[  SKIPPED ] ").append(id).append(ms);
          break;
        case Act::kCrash:
          out.out += "about to crash\n";
          out.signal = SIGSEGV;
          return out;
        case Act::kHang:
          out.timed_out = true;
          return out;
      }
    }
    return out;
  }

  bool batches_;
  std::vector<TestCase> tests_;
  std::map<std::string, std::deque<Step>> script_;
  std::map<std::string, int> failures_;
};

struct Harness {
  FakeClock clock;
  FakeRunner runner{clock};
  FakeInterrupt interrupt{clock};
  MemoryRecords records;
  std::ostringstream err;

  RunReport run(FakeSuite& suite, EngineOptions options) {
    Engine engine(suite, runner, clock, interrupt, records, err, std::move(options));
    return engine.run();
  }
};

}  // namespace kiln::client::testing::engine_fakes
