// Unit tests for engine: the loop and its decisions, driven the way ninja's
// Plan is tested with FakeCommandRunner: by the fakes of engine_test_util.h
// (a suite simulated in memory, a runner on a fake clock, records in a
// map). No threads, no sleeps, no files.
#include "client/testing/engine.h"

#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/testing/engine_test_util.h"
#include "client/testing/result_codec.h"

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;
using namespace engine_fakes;

EngineOptions shards(std::size_t n, std::size_t slots = 1) {
  EngineOptions o;
  o.shards = n;
  o.slots = slots;
  return o;
}

const TestResult& result(const RunReport& report, const std::string& id) {
  for (const TestResult& r : report.results)
    if (r.id == id) return r;
  throw std::logic_error("no result for " + id);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using Ids = std::vector<std::string>;

TEST(Engine, EveryTestPassesOnceInItsShard) {
  FakeSuite suite({"A.a", "A.b", "B.a", "B.b"});
  Harness h;
  const RunReport report = h.run(suite, shards(2, 2));
  EXPECT_EQ(exit_code(report, false), kTestExitPassed);
  ASSERT_EQ(report.results.size(), 4u);
  for (const TestResult& r : report.results) {
    EXPECT_EQ(r.outcome, Outcome::kPassed) << r.id;
    EXPECT_EQ(r.attempts, 1) << r.id;
    EXPECT_FALSE(r.cached) << r.id;
  }
  EXPECT_EQ(report.results[2].id, "B.a") << "the suite's order";
  EXPECT_EQ(suite.labels(), (Ids{"shard 1/2", "shard 2/2"}));
  EXPECT_EQ(h.runner.max_parallel, 2u);
  EXPECT_EQ(report.info.slots, 2u);
  EXPECT_EQ(report.info.shards.size(), 2u);
  EXPECT_EQ(report.info.wall, 20ms) << "two tests of 10 ms in each of two parallel shards";
  EXPECT_EQ(report.info.lower_bound, 200ms) << "four unknown tests at 100 ms on two slots";
  EXPECT_TRUE(report.setup_errors.empty());
  EXPECT_EQ(h.err.str(),
            "kiln test: fake: 4 tests; running 4 in 2 shards on this machine, 2 at a time, "
            "estimated 0.20 s\n");
}

TEST(Engine, AutoShardsKeepShortWorkInOneShard) {
  FakeSuite suite({"A.a", "A.b", "A.c"});
  Harness h;
  EngineOptions options;
  options.slots = 8;
  const RunReport report = h.run(suite, options);
  EXPECT_EQ(exit_code(report, false), kTestExitPassed);
  ASSERT_EQ(suite.prepared.size(), 1u) << "0.3 s of work is under one kTargetShard";
  EXPECT_EQ(suite.prepared[0].tests, (Ids{"A.a", "A.b", "A.c"}));
}

TEST(Engine, ABrokenTestIsRetriedAloneThenFailsWithItsAttempts) {
  FakeSuite suite({"A.ok", "A.broken"});
  suite.script("A.broken", {{Act::kFail}, {Act::kFail}, {Act::kFail}});
  Harness h;
  EngineOptions options = shards(1);
  options.retries = 2;
  const RunReport report = h.run(suite, options);
  EXPECT_EQ(exit_code(report, false), kTestExitFailed);
  const TestResult& broken = result(report, "A.broken");
  EXPECT_EQ(broken.outcome, Outcome::kFailed);
  EXPECT_EQ(broken.attempts, 3);
  EXPECT_EQ(broken.message, "failure 3 of A.broken") << "the last attempt's verdict stands";
  EXPECT_EQ(result(report, "A.ok").attempts, 1);
  EXPECT_EQ(suite.labels(), (Ids{"shard 1/1", "retry 1 of A.broken", "retry 2 of A.broken"}));
  EXPECT_EQ(suite.prepared[1].tests, Ids{"A.broken"});
  EXPECT_EQ(suite.prepared[2].attempt, 3);
  EXPECT_TRUE(contains(h.err.str(), "---- FAILED A.broken (3 attempts): failure 3 of A.broken\n"))
      << h.err.str();
}

TEST(Engine, WithoutRetriesAFailureIsFinalAtOnce) {
  FakeSuite suite({"A.broken"});
  suite.script("A.broken", {{Act::kFail}});
  Harness h;
  const RunReport report = h.run(suite, shards(1));
  EXPECT_EQ(result(report, "A.broken").attempts, 1);
  EXPECT_EQ(suite.prepared.size(), 1u);
  EXPECT_TRUE(contains(h.err.str(), "---- FAILED A.broken: failure 1 of A.broken\n"));
}

TEST(Engine, AFailThenPassIsFlakyAndPassesUnlessFlakyFails) {
  FakeSuite suite({"A.flaky", "A.ok"});
  suite.script("A.flaky", {{Act::kFail}, {Act::kPass}});
  Harness h;
  EngineOptions options = shards(1);
  options.retries = 3;
  const RunReport report = h.run(suite, options);
  const TestResult& flaky = result(report, "A.flaky");
  EXPECT_EQ(flaky.outcome, Outcome::kFlaky);
  EXPECT_EQ(flaky.attempts, 2);
  EXPECT_EQ(flaky.message, "failure 1 of A.flaky") << "the first failure's message is kept";
  EXPECT_TRUE(contains(flaky.output, "failure 1 of A.flaky"));
  EXPECT_EQ(suite.prepared.size(), 2u) << "no retry after the pass";
  EXPECT_EQ(exit_code(report, false), kTestExitPassed);
  EXPECT_EQ(exit_code(report, true), kTestExitFailed);
  EXPECT_TRUE(contains(h.err.str(), "kiln test: FLAKY A.flaky failed, then passed on attempt 2\n"));
  EXPECT_FALSE(contains(h.err.str(), "---- FAILED"));
}

TEST(Engine, ACrashedShardRerunsItsUnreachedTestsTogether) {
  FakeSuite suite({"A.a", "A.b", "A.c", "A.d"});
  suite.script("A.b", {{Act::kCrash}});
  Harness h;
  const RunReport report = h.run(suite, shards(1));
  EXPECT_EQ(result(report, "A.a").outcome, Outcome::kPassed);
  const TestResult& crashed = result(report, "A.b");
  EXPECT_EQ(crashed.outcome, Outcome::kCrashed);
  EXPECT_EQ(crashed.signal, SIGSEGV);
  EXPECT_EQ(result(report, "A.c").outcome, Outcome::kPassed);
  EXPECT_EQ(result(report, "A.d").outcome, Outcome::kPassed);
  EXPECT_EQ(suite.labels(), (Ids{"shard 1/1", "shard 1/1 (rest)"}));
  EXPECT_EQ(suite.prepared[1].tests, (Ids{"A.c", "A.d"}));
  EXPECT_EQ(suite.prepared[1].attempt, 1) << "a rerun is not a retry";
  EXPECT_EQ(exit_code(report, false), kTestExitFailed);
  EXPECT_TRUE(contains(h.err.str(), "---- CRASHED A.b: crashed (signal 11)\nabout to crash\n"));
}

TEST(Engine, ACrashRetriedAloneAfterTheRestRuns) {
  FakeSuite suite({"A.a", "A.b", "A.c"});
  suite.script("A.a", {{Act::kCrash}});
  Harness h;
  EngineOptions options = shards(1);
  options.retries = 1;
  const RunReport report = h.run(suite, options);
  EXPECT_EQ(suite.labels(), (Ids{"shard 1/1", "shard 1/1 (rest)", "retry 1 of A.a"}))
      << "reruns go first, retries last";
  const TestResult& a = result(report, "A.a");
  EXPECT_EQ(a.outcome, Outcome::kFlaky);
  EXPECT_EQ(a.message, "crashed (signal 11)");
}

TEST(Engine, AKilledShardRerunsTheRunningTestAloneAndTheRestTogether) {
  FakeSuite suite({"A.a", "A.b", "A.c"});
  // A.b is killed with its shard after 300 ms, short of its own 1 s limit;
  // alone, it hangs until its limit.
  suite.script("A.b", {{Act::kHang, 300ms}, {Act::kHang, kLimit}});
  Harness h;
  const RunReport report = h.run(suite, shards(1));
  EXPECT_EQ(suite.labels(), (Ids{"shard 1/1", "A.b (alone)", "shard 1/1 (rest)"}));
  EXPECT_EQ(suite.prepared[1].tests, Ids{"A.b"});
  EXPECT_EQ(suite.prepared[2].tests, Ids{"A.c"});
  const TestResult& b = result(report, "A.b");
  EXPECT_EQ(b.outcome, Outcome::kTimedOut);
  EXPECT_EQ(b.timeout, kLimit);
  EXPECT_EQ(b.attempts, 1);
  EXPECT_EQ(result(report, "A.c").outcome, Outcome::kPassed);
  EXPECT_EQ(exit_code(report, false), kTestExitFailed);
}

TEST(Engine, CachedResultsSkipRunningAndFailuresAreNeverCached) {
  FakeSuite first({"A.ok", "A.skip", "A.broken"});
  first.script("A.skip", {{Act::kSkip}});
  first.script("A.broken", {{Act::kFail}});
  Harness h;
  EXPECT_EQ(exit_code(h.run(first, shards(1)), false), kTestExitFailed);
  EXPECT_EQ(h.records.flushes, 1);
  const auto stored = h.records.get(kResultRecord, "v1 A.ok");
  ASSERT_TRUE(stored);
  EXPECT_EQ(decode_test_result(*stored)->outcome, Outcome::kPassed);
  EXPECT_TRUE(h.records.get(kResultRecord, "v1 A.skip"));
  EXPECT_FALSE(h.records.get(kResultRecord, "v1 A.broken"));

  FakeSuite second({"A.ok", "A.skip", "A.broken"});
  h.err.str("");
  const RunReport report = h.run(second, shards(1));
  ASSERT_EQ(second.prepared.size(), 1u);
  EXPECT_EQ(second.prepared[0].tests, Ids{"A.broken"});
  EXPECT_TRUE(result(report, "A.ok").cached);
  EXPECT_EQ(result(report, "A.skip").outcome, Outcome::kSkipped);
  EXPECT_TRUE(result(report, "A.skip").cached);
  EXPECT_EQ(result(report, "A.broken").outcome, Outcome::kPassed);
  EXPECT_FALSE(result(report, "A.broken").cached);
  EXPECT_EQ(exit_code(report, false), kTestExitPassed);
  EXPECT_TRUE(contains(h.err.str(), "kiln test: fake: 3 tests (2 cached); running 1 in 1 shard"))
      << h.err.str();

  FakeSuite all_cached({"A.ok", "A.skip", "A.broken"});
  h.err.str("");
  EXPECT_EQ(summarize(h.run(all_cached, shards(1)).results).cached, 3);
  EXPECT_TRUE(all_cached.prepared.empty());
  EXPECT_EQ(h.err.str(), "kiln test: fake: 3 tests (3 cached)\n");
}

TEST(Engine, NoCacheOrAChangedKeyRunsAgain) {
  Harness h;
  FakeSuite first({"A.ok"});
  (void)h.run(first, shards(1));
  FakeSuite no_cache({"A.ok"});
  EngineOptions options = shards(1);
  options.no_cache = true;
  EXPECT_FALSE(result(h.run(no_cache, options), "A.ok").cached);
  EXPECT_EQ(no_cache.prepared.size(), 1u);
  FakeSuite changed({"A.ok"});
  changed.material = "v2 ";
  EXPECT_FALSE(result(h.run(changed, shards(1)), "A.ok").cached);
  EXPECT_EQ(changed.prepared.size(), 1u);
}

TEST(Engine, AResultCachedUnderAnotherIdIsAMiss) {
  Harness h;
  TestResult other = test_result("A.other", Outcome::kPassed);
  ASSERT_TRUE(h.records.put(kResultRecord, "v1 A.ok", encode_test_result(other)).ok());
  FakeSuite suite({"A.ok"});
  EXPECT_FALSE(result(h.run(suite, shards(1)), "A.ok").cached);
}

TEST(Engine, DurationsComeFromTheRunAndPlanTheNext) {
  const Ids ids{"A.long", "A.mid", "A.s1", "A.s2"};
  FakeSuite first(ids);
  first.script("A.long", {{Act::kPass, 800ms}});
  first.script("A.mid", {{Act::kPass, 600ms}});
  first.script("A.s1", {{Act::kPass, 100ms}});
  first.script("A.s2", {{Act::kPass, 100ms}});
  Harness h;
  EngineOptions options = shards(2, 2);
  options.no_cache = true;
  const RunReport before = h.run(first, options);
  EXPECT_EQ(before.info.shards[0].wall + before.info.shards[1].wall, 1600ms);

  const auto text = h.records.get(kDurationsRecord, "fake @test");
  ASSERT_TRUE(text);
  const auto book = DurationBook::from_json(*text);
  ASSERT_TRUE(book);
  EXPECT_EQ(book->key(), "fake @test");
  EXPECT_EQ(book->estimate("A.long"), 800ms);
  EXPECT_EQ(book->estimate("A.s2"), 100ms);

  FakeSuite second(ids);
  const RunReport after = h.run(second, options);
  ASSERT_EQ(second.prepared.size(), 2u);
  EXPECT_EQ(second.prepared[0].tests, Ids{"A.long"});
  EXPECT_EQ(second.prepared[0].estimate, 800ms);
  EXPECT_EQ(second.prepared[1].tests, (Ids{"A.mid", "A.s1", "A.s2"}));
  EXPECT_EQ(second.prepared[1].estimate, 800ms);
  EXPECT_EQ(after.info.lower_bound, 800ms);
  EXPECT_EQ(after.info.shards[0].estimate, 800ms);
}

TEST(Engine, ARecordThatCannotBeWrittenIsAWarning) {
  FakeSuite suite({"A.ok"});
  Harness h;
  h.records.fail_puts = true;
  const RunReport report = h.run(suite, shards(1));
  EXPECT_EQ(exit_code(report, false), kTestExitPassed);
  EXPECT_TRUE(contains(h.err.str(), "kiln: warning: cannot record test durations: disk full\n"));
  EXPECT_TRUE(contains(h.err.str(), "kiln: warning: cannot cache a result: disk full\n"));
}

TEST(Engine, AnInterruptStopsNewJobsAndLeavesTheRestNotRun) {
  // One test per job, one slot: A.a ends at 100 ms, the signal comes at
  // 150 ms while A.b runs, and A.c never starts.
  FakeSuite suite({"A.a", "A.b", "A.c"}, /*batches=*/false);
  for (const char* id : {"A.a", "A.b", "A.c"}) suite.script(id, {{Act::kPass, 100ms}});
  Harness h;
  h.interrupt.arrive_at(150ms, SIGINT);
  const RunReport report = h.run(suite, shards(3));
  EXPECT_EQ(suite.labels(), (Ids{"A.a", "A.b"}));
  EXPECT_EQ(report.signal, SIGINT);
  EXPECT_EQ(exit_code(report, false), 128 + SIGINT);
  EXPECT_EQ(result(report, "A.a").outcome, Outcome::kPassed);
  for (const char* id : {"A.b", "A.c"}) {
    EXPECT_EQ(result(report, id).outcome, Outcome::kFailed) << id;
    EXPECT_EQ(result(report, id).message, "not run: interrupted") << id;
  }
  EXPECT_TRUE(
      contains(h.err.str(), "kiln test: interrupted (signal 2); stopping the running tests"));
  EXPECT_TRUE(h.records.get(kResultRecord, "v1 A.a")) << "what was decided is still recorded";
  EXPECT_FALSE(h.records.get(kResultRecord, "v1 A.b"));
}

TEST(Engine, AJobThatCannotRunIsASetupError) {
  FakeSuite suite({"A.a", "B.a"}, /*batches=*/false);
  suite.cannot_run = {"A.a"};
  Harness h;
  const RunReport report = h.run(suite, shards(2));
  EXPECT_EQ(exit_code(report, false), kTestExitSetup);
  EXPECT_EQ(report.setup_errors, Ids{"fake: A.a could not run: no such binary"});
  EXPECT_TRUE(contains(h.err.str(), "kiln: error: fake: A.a could not run: no such binary\n"));
  EXPECT_EQ(suite.prepared.size(), 1u) << "no job starts after a setup error";
  for (const char* id : {"A.a", "B.a"})
    EXPECT_EQ(result(report, id).message, "not run: the run was stopped by an earlier error");
  ASSERT_EQ(report.info.shards.size(), 1u);
  EXPECT_EQ(report.info.shards[0].label, "A.a");
}

TEST(Engine, AJobThatCannotBePreparedIsASetupError) {
  FakeSuite suite({"A.a"});
  suite.unpreparable = {"A.a"};
  Harness h;
  const RunReport report = h.run(suite, shards(1));
  EXPECT_EQ(exit_code(report, false), kTestExitSetup);
  EXPECT_EQ(report.setup_errors, Ids{"fake: shard 1/1 could not be prepared: no action for it"});
  EXPECT_EQ(h.runner.waits, 0);
}

TEST(Engine, NoTestsIsExitFour) {
  FakeSuite suite({});
  Harness h;
  const RunReport report = h.run(suite, EngineOptions{});
  EXPECT_TRUE(report.results.empty());
  EXPECT_EQ(exit_code(report, false), kTestExitNoTests);
  EXPECT_TRUE(suite.prepared.empty());
  EXPECT_EQ(h.err.str(), "kiln test: fake: 0 tests\n");
}

TEST(Engine, PresetResultsComeFirstAndNeverRun) {
  FakeSuite suite({"A.a"}, /*batches=*/false);
  TestResult off = test_result("off", Outcome::kSkipped);
  off.message = "disabled";
  suite.preset_list = {off};
  Harness h;
  const RunReport report = h.run(suite, shards(1));
  ASSERT_EQ(report.results.size(), 2u);
  EXPECT_EQ(report.results[0], off);
  EXPECT_EQ(suite.labels(), Ids{"A.a"});
  EXPECT_EQ(h.err.str(),
            "kiln test: fake: 2 tests; running 1 in 1 job on this machine, 1 at a time, "
            "estimated 0.10 s\n");
}

TEST(Engine, QueueModeHandsOutBatches) {
  Ids ids;
  for (int i = 0; i < 10; ++i) ids.push_back("Q.t" + std::to_string(i));
  FakeSuite suite(ids);
  Harness h;
  EngineOptions options;
  options.queue = true;
  options.slots = 2;
  const RunReport report = h.run(suite, options);
  EXPECT_EQ(exit_code(report, false), kTestExitPassed);
  ASSERT_GT(suite.prepared.size(), 2u);
  std::multiset<std::string> ran;
  for (std::size_t i = 0; i < suite.prepared.size(); ++i) {
    const Job& job = suite.prepared[i];
    EXPECT_EQ(job.label, "batch " + std::to_string(i + 1));
    ran.insert(job.tests.begin(), job.tests.end());
  }
  EXPECT_EQ(ran, std::multiset<std::string>(ids.begin(), ids.end())) << "every test once";
  EXPECT_EQ(h.runner.max_parallel, 2u);
  EXPECT_TRUE(contains(h.err.str(), "running 10 in batches (queue mode) on this machine"));
}

TEST(Engine, TheProgressLineFollowsTheClock) {
  FakeSuite suite({"A.a", "A.b"}, /*batches=*/false);
  suite.script("A.a", {{Act::kPass, 500ms}});
  suite.script("A.b", {{Act::kFail, 500ms}});
  Harness h;
  EngineOptions options = shards(2);
  options.progress = true;
  (void)h.run(suite, options);
  const std::string err = h.err.str();
  EXPECT_TRUE(contains(err, "\r[1/2] 0 failed, 0.50 s elapsed, ETA ")) << err;
  EXPECT_TRUE(contains(err, "\r[2/2] 1 failed, 1.00 s elapsed, ETA 0.00 s  ")) << err;
  EXPECT_TRUE(contains(err, "\r\033[K---- FAILED A.b")) << "a line clears the progress first";
  EXPECT_TRUE(err.ends_with("\r\033[K")) << "cleared at the end";
}

TEST(ExitCode, InterruptThenSetupThenNoTestsThenFailures) {
  RunReport report;
  EXPECT_EQ(exit_code(report, false), kTestExitNoTests);
  report.results = {test_result("A.a", Outcome::kPassed), test_result("A.b", Outcome::kFlaky)};
  EXPECT_EQ(exit_code(report, false), kTestExitPassed);
  EXPECT_EQ(exit_code(report, true), kTestExitFailed);
  report.results.push_back(test_result("A.c", Outcome::kTimedOut));
  EXPECT_EQ(exit_code(report, false), kTestExitFailed);
  report.setup_errors = {"bad"};
  EXPECT_EQ(exit_code(report, false), kTestExitSetup);
  report.signal = SIGTERM;
  EXPECT_EQ(exit_code(report, false), 128 + SIGTERM);
}

// --shard-index/--total-shards: each run decides one slice; the first to
// plan stores the split, so slices planned after the duration book changed
// still take the tests the first one left them.
TEST(Engine, SlicesSplitTheSuiteOnceEvenWhenTheBookChangesBetweenThem) {
  const Ids ids{"A.a", "A.b", "A.c", "B.a", "B.b", "B.c", "C.a"};
  Harness h;
  std::vector<std::string> decided;
  for (std::size_t index = 0; index < 3; ++index) {
    FakeSuite suite(ids);
    // Every slice finds different durations than the last one recorded.
    for (std::size_t i = 0; i < ids.size(); ++i)
      suite.script(ids[i],
                   {Step{Act::kPass, std::chrono::milliseconds(10 + 300 * ((i + index) % 3))}});
    EngineOptions options = shards(2, 2);
    options.no_cache = true;
    options.slice = EngineOptions::Slice{index, 3};
    const RunReport report = h.run(suite, options);
    EXPECT_EQ(exit_code(report, false), kTestExitPassed);
    for (const TestResult& r : report.results) decided.push_back(r.id);
    EXPECT_NE(h.err.str().find("slice " + std::to_string(index + 1) + " of 3 (7 tests in all)"),
              std::string::npos)
        << h.err.str();
  }
  std::sort(decided.begin(), decided.end());
  EXPECT_EQ(decided, ids) << "every test in exactly one slice";
}

TEST(Engine, ASliceReportsOnlyItsTestsAndPresetsOnlyInSliceZero) {
  FakeSuite suite({"A.a", "A.b"});
  TestResult disabled = test_result("D.x", Outcome::kSkipped);
  suite.preset_list = {disabled};
  Harness h;
  EngineOptions options = shards(1, 1);
  options.slice = EngineOptions::Slice{1, 2};
  const RunReport second = h.run(suite, options);
  ASSERT_EQ(second.results.size(), 1u);
  EXPECT_NE(second.results[0].id, "D.x");
  options.slice = EngineOptions::Slice{0, 2};
  const RunReport first = h.run(suite, options);
  ASSERT_EQ(first.results.size(), 2u);
  EXPECT_EQ(first.results[0].id, "D.x");
  EXPECT_NE(first.results[1].id, second.results[0].id);
}

TEST(Engine, MoreSlicesThanTestsLeavesSomeEmpty) {
  FakeSuite suite({"A.a"});
  Harness h;
  EngineOptions options = shards(1, 1);
  options.slice = EngineOptions::Slice{4, 5};
  const RunReport report = h.run(suite, options);
  EXPECT_TRUE(report.results.empty());
  EXPECT_EQ(exit_code(report, false), kTestExitNoTests) << "run_test turns this into a pass";
}

}  // namespace
}  // namespace kiln::client::testing
