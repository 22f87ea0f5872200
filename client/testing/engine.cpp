// The engine's loop and decisions: see engine.h for the run, top to bottom.
//
// State: `final_` holds every decided test (preset, cached, or run to its
// last attempt); `first_failure_` the first failed verdict of a test being
// retried, which a later pass turns into a flaky result; `pending_` the
// jobs to start, reruns and retries included; `slots_` the job each busy
// slot runs. Everything is touched by the one thread that calls run(): a
// JobRunner hands finished work back through wait().
#include "client/testing/engine.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <sstream>
#include <utility>

#include "client/testing/result_codec.h"
#include "client/testing/text.h"

namespace kiln::client::testing {

int exit_code(const RunReport& report, bool flaky_fails) {
  if (report.signal != 0) return 128 + report.signal;
  if (!report.setup_errors.empty()) return kTestExitSetup;
  if (report.results.empty()) return kTestExitNoTests;
  const TestSummary s = summarize(report.results);
  if (!s.ok() || (flaky_fails && s.flaky > 0)) return kTestExitFailed;
  return kTestExitPassed;
}

Engine::Engine(Suite& suite, JobRunner& runner, const Clock& clock,
               const InterruptSource& interrupt, Records& records, std::ostream& err,
               EngineOptions options)
    : suite_(suite),
      runner_(runner),
      clock_(clock),
      interrupt_(interrupt),
      records_(records),
      err_(err),
      options_(std::move(options)),
      book_(suite.durations_key()),
      slots_(std::max<std::size_t>(1, options_.slots)) {}

RunReport Engine::run() {
  start_ = clock_.now();
  if (auto text = records_.get(kDurationsRecord, book_.key())) {
    if (auto book = DurationBook::from_json(*text); book && book->key() == book_.key())
      book_ = std::move(*book);
  }
  select_tests();
  std::size_t presets = 0;
  if (presets_) {
    for (TestResult r : suite_.preset()) {
      final_[r.id] = std::move(r);
      ++presets;
    }
  }
  const std::vector<TestCase> to_run = look_up_cache();
  total_ = final_.size() + to_run.size();
  cached_ = total_ - to_run.size() - presets;
  const std::size_t shards = plan(to_run);
  announce(to_run.size(), shards);
  loop();
  save();
  return finish();
}

// tests_: every test of the suite, or the slice the options name. The
// first slice to plan stores the split (put_if_absent) and every slice
// uses what is stored, so all agree even when the duration book changes
// between them; where nothing can be stored, the plan from this book.
void Engine::select_tests() {
  if (!options_.slice) {
    tests_ = suite_.tests();
    return;
  }
  const auto [index, total] = *options_.slice;
  presets_ = index == 0;
  std::string material = "slices " + std::to_string(total) + "\n";
  for (const TestCase& t : suite_.tests()) {
    material += t.id;
    material += '\0';
    material += suite_.cache_material(t.id);
    material += '\n';
  }
  std::optional<std::vector<std::vector<std::string>>> slices;
  if (auto stored = records_.get(kSliceRecord, material)) slices = decode_slices(*stored, total);
  if (!slices) {
    const auto planned = plan_slices(suite_.tests(), book_, total, kDefaultEstimate);
    slices = planned;
    if (auto stored = records_.put_if_absent(kSliceRecord, material, encode_slices(planned))) {
      if (auto agreed = decode_slices(*stored, total)) slices = std::move(agreed);
    }
  }
  if (index >= slices->size()) return;
  const std::set<std::string> mine((*slices)[index].begin(), (*slices)[index].end());
  for (const TestCase& t : suite_.tests())
    if (mine.contains(t.id)) tests_.push_back(t);
}

// The tests the results cache cannot answer; the others go into final_.
std::vector<TestCase> Engine::look_up_cache() {
  std::vector<TestCase> candidates;
  std::vector<std::string> materials;
  for (const TestCase& test : tests_) {
    if (final_.contains(test.id)) continue;
    candidates.push_back(test);
    if (!options_.no_cache) materials.push_back(suite_.cache_material(test.id));
  }
  if (options_.no_cache) return candidates;
  const std::vector<std::optional<std::string>> cached =
      records_.get_many(kResultRecord, materials);
  std::vector<TestCase> to_run;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const TestCase& test = candidates[i];
    if (i < cached.size() && cached[i]) {
      if (auto r = decode_test_result(*cached[i]); r && r->id == test.id) {
        r->cached = true;
        r->attempts = 1;
        final_[test.id] = std::move(*r);
        continue;
      }
    }
    to_run.push_back(test);
  }
  return to_run;
}

// Fills pending_ (or queue_) with the first jobs; returns the shard count.
std::size_t Engine::plan(const std::vector<TestCase>& to_run) {
  const PlanEstimate estimate = estimate_tests(to_run, book_, kDefaultEstimate);
  remaining_estimate_ = estimate.total;
  std::size_t shards = 0;
  if (!to_run.empty()) {
    if (!suite_.batches()) {
      shards = to_run.size();
    } else if (!options_.shards) {
      shards =
          auto_shards(estimate.total, estimate.longest, to_run.size(), slots_.size(), kTargetShard);
    } else {
      shards = std::min<std::size_t>(*options_.shards, to_run.size());
    }
    lower_bound_ =
        makespan_lower_bound(estimate.total, estimate.longest, std::min(shards, slots_.size()));
  }
  if (options_.queue && suite_.batches()) {
    queue_.emplace(to_run, book_, kDefaultEstimate, slots_.size());
    return shards;
  }
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
  return shards;
}

void Engine::announce(std::size_t to_run, std::size_t shards) {
  std::ostringstream line;
  line << "kiln test: " << suite_.name() << ": ";
  if (options_.slice) {
    line << "slice " << options_.slice->index + 1 << " of " << options_.slice->total << " ("
         << suite_.tests().size() << " test" << (suite_.tests().size() == 1 ? "" : "s")
         << " in all): ";
  }
  line << total_ << " test" << (total_ == 1 ? "" : "s");
  if (cached_ != 0) line << " (" << cached_ << " cached)";
  if (to_run != 0) {
    line << "; running " << to_run << " in ";
    if (options_.queue && suite_.batches())
      line << "batches (queue mode)";
    else
      line << shards << (suite_.batches() ? " shard" : " job") << (shards == 1 ? "" : "s");
    line << " on " << options_.where << ", " << slots_.size() << " at a time, estimated "
         << seconds_text(std::max(lower_bound_, Millis(0)));
  }
  err_ << line.str() << '\n';
}

// A job of `tests`, estimated from the book as it is now.
Job Engine::job_for(std::vector<std::string> tests, int attempt, std::string label) const {
  Job job;
  job.tests = std::move(tests);
  job.attempt = attempt;
  for (const std::string& id : job.tests) job.estimate += book_.estimate_or(id, kDefaultEstimate);
  job.label = std::move(label);
  return job;
}

std::optional<Job> Engine::next_job() {
  if (!pending_.empty()) {
    Job job = std::move(pending_.front());
    pending_.pop_front();
    return job;
  }
  if (queue_ && !queue_->empty()) {
    auto batch = queue_->next(kTargetBatch);
    if (!batch) return std::nullopt;
    return job_for(std::move(*batch), 1, "batch " + std::to_string(++batches_));
  }
  return std::nullopt;
}

// Starts `job` in `slot`; false (with a setup error said) when it could
// not even be prepared.
bool Engine::start(std::size_t slot, Job job) {
  Work work;
  try {
    work = suite_.prepare(job);
  } catch (const std::exception& e) {
    setup_error(suite_.name() + ": " + job.label + " could not be prepared: " + e.what());
    stop_ = true;
    return false;
  }
  slots_[slot].busy = true;
  slots_[slot].job = std::move(job);
  runner_.start(slot, std::move(work));
  return true;
}

void Engine::loop() {
  std::size_t active = 0;
  for (;;) {
    if (interrupt_.signal() != 0 && !stop_) {
      stop_ = true;
      say("kiln test: interrupted (signal " + std::to_string(interrupt_.signal()) +
          "); stopping the running tests");
    }
    for (std::size_t slot = 0; slot < slots_.size() && !stop_; ++slot) {
      if (slots_[slot].busy) continue;
      auto job = next_job();
      if (!job) break;
      if (!start(slot, std::move(*job))) break;
      ++active;
    }
    if (active == 0) break;
    for (FinishedJob& done : runner_.wait(kPollInterval)) {
      Slot& slot = slots_[done.slot];
      slot.busy = false;
      --active;
      // After an interrupt, killed jobs say nothing about their tests.
      if (interrupt_.signal() != 0) continue;
      try {
        handle(slot.job, done.output);
      } catch (const std::exception& e) {
        setup_error(suite_.name() + ": " + e.what());
        stop_ = true;
      }
    }
    draw_progress();
  }
  clear_progress();
}

void Engine::handle(const Job& job, const RunOutput& run) {
  if (queue_) queue_->complete(job.tests);
  ShardRecord record;
  record.label = job.label;
  record.tests = job.tests.size();
  record.ids = job.tests;
  record.estimate = job.estimate;
  record.wall = run.wall;
  record.cached = run.cached;
  record.where = run.cached ? "cache" : run.where;
  record.exit_code = run.exit_code;
  record.trace = run.trace;
  shards_.push_back(record);
  if (run.error) {
    setup_error(suite_.name() + ": " + job.label + " could not run: " + *run.error);
    stop_ = true;
    return;
  }
  Interpretation in = suite_.interpret(job, run);
  if (!in.warning.empty() && warned_.insert(in.warning).second) say("kiln: warning: " + in.warning);
  if (!in.setup_error.empty()) setup_error(in.setup_error);
  for (TestResult& v : in.verdicts) {
    // A shard the grid's action cache answered: it passed before, on
    // this machine or another (a fresh CI runner gets these).
    v.cached = run.cached;
    verdict(std::move(v), job.attempt);
  }
  requeue(job, in);
}

// What `job`'s run left unfinished goes first among the pending jobs.
void Engine::requeue(const Job& job, const Interpretation& in) {
  if (!in.rerun.empty()) pending_.push_front(job_for(in.rerun, job.attempt, job.label + " (rest)"));
  for (const std::string& id : in.rerun_alone)
    pending_.push_front(job_for({id}, job.attempt, id + " (alone)"));
}

void Engine::verdict(TestResult r, int attempt) {
  if (final_.contains(r.id)) return;  // reported twice by a confused binary
  if (r.outcome == Outcome::kPassed || r.outcome == Outcome::kFailed) book_.record(r.id, r.time);
  remaining_estimate_ -= std::min(remaining_estimate_, book_.estimate_or(r.id, kDefaultEstimate));
  if (is_real_failure(r.outcome)) {
    if (attempt <= options_.retries) {
      first_failure_.try_emplace(r.id, r);
      pending_.push_back(
          job_for({r.id}, attempt + 1, "retry " + std::to_string(attempt) + " of " + r.id));
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

void Engine::report_failure(const TestResult& r) {
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

void Engine::setup_error(const std::string& message) {
  setup_errors_.push_back(message);
  say("kiln: error: " + message);
}

// A line for the user, above the progress line.
void Engine::say(const std::string& text, bool newline) {
  clear_progress();
  err_ << text;
  if (newline) err_ << '\n';
  err_.flush();
}

std::size_t Engine::failures() const {
  std::size_t n = 0;
  for (const auto& [id, r] : final_) n += is_real_failure(r.outcome) ? 1 : 0;
  return n;
}

void Engine::draw_progress() {
  if (!options_.progress) return;
  std::ostringstream line;
  const Millis eta(static_cast<std::int64_t>(remaining_estimate_.count() /
                                             static_cast<std::int64_t>(slots_.size())));
  line << "\r[" << final_.size() << "/" << total_ << "] " << failures() << " failed, "
       << seconds_text(clock_.now() - start_) << " elapsed, ETA " << seconds_text(eta) << "  ";
  err_ << line.str();
  err_.flush();
  drawn_ = true;
}

void Engine::clear_progress() {
  if (!drawn_) return;
  err_ << "\r\033[K";
  drawn_ = false;
}

void Engine::save() {
  if (auto s = records_.put(kDurationsRecord, book_.key(), book_.to_json()); !s.ok())
    say("kiln: warning: cannot record test durations: " + s.error().message);
  for (const std::string& id : ran_) {
    const TestResult& r = final_.at(id);
    if (r.outcome != Outcome::kPassed && r.outcome != Outcome::kSkipped) continue;
    if (auto s = records_.put(kResultRecord, suite_.cache_material(id), encode_test_result(r));
        !s.ok()) {
      say("kiln: warning: cannot cache a result: " + s.error().message);
      break;
    }
  }
  records_.flush();
}

RunReport Engine::finish() {
  RunReport report;
  report.signal = interrupt_.signal();
  if (presets_)
    for (const TestResult& r : suite_.preset()) report.results.push_back(final_.at(r.id));
  for (const TestCase& t : tests_) {
    auto it = final_.find(t.id);
    if (it != final_.end()) {
      report.results.push_back(it->second);
      continue;
    }
    // Never decided (the run was stopped): failed, so nothing goes missing.
    TestResult r = test_result(t.id, Outcome::kFailed);
    r.message = report.signal != 0 ? "not run: interrupted"
                                   : "not run: the run was stopped by an earlier error";
    report.results.push_back(std::move(r));
  }
  report.info.shards = shards_;
  report.info.wall = clock_.now() - start_;
  report.info.lower_bound = lower_bound_;
  report.info.slots = slots_.size();
  report.setup_errors = setup_errors_;
  return report;
}

}  // namespace kiln::client::testing
