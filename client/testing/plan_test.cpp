#include "client/testing/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kiln::client::testing {
namespace {

using std::chrono::milliseconds;

std::vector<TestCase> cases(std::initializer_list<const char*> ids) {
  std::vector<TestCase> out;
  for (const char* id : ids) out.push_back({id});
  return out;
}

// Tests "T000", "T001", … with the given durations recorded in `book`.
std::vector<TestCase> recorded(DurationBook& book, const std::vector<long>& durations_ms) {
  std::vector<TestCase> out;
  for (std::size_t i = 0; i < durations_ms.size(); ++i) {
    std::string id = "T" + std::string(i < 10 ? "00" : i < 100 ? "0" : "") + std::to_string(i);
    EXPECT_TRUE(book.record(id, milliseconds(durations_ms[i])));
    out.push_back({id});
  }
  return out;
}

// Every distinct id of `tests` exactly once across the plan; no empty
// shard; each shard sorted and its estimate the sum of its tests'.
void expect_valid_plan(const std::vector<Shard>& plan, const std::vector<TestCase>& tests,
                       const DurationBook& book, milliseconds fallback) {
  std::set<std::string> want;
  for (const TestCase& t : tests) want.insert(t.id);
  std::multiset<std::string> got;
  for (const Shard& s : plan) {
    EXPECT_FALSE(s.tests.empty());
    EXPECT_TRUE(std::is_sorted(s.tests.begin(), s.tests.end()));
    milliseconds sum(0);
    for (const std::string& id : s.tests) {
      got.insert(id);
      sum += book.estimate_or(id, fallback);
    }
    EXPECT_EQ(sum, s.estimate);
  }
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
}

// --- DurationBook -----------------------------------------------------------

TEST(DurationBook, RecordsLastMeanAndRuns) {
  DurationBook book("bin:linux-x86_64");
  EXPECT_EQ(book.estimate("A.a"), std::nullopt);
  EXPECT_TRUE(book.record("A.a", milliseconds(100)));
  EXPECT_EQ(book.estimate("A.a"), milliseconds(100));
  EXPECT_TRUE(book.record("A.a", milliseconds(200)));
  EXPECT_EQ(book.estimate("A.a"), milliseconds(150));  // 0.5*200 + 0.5*100
  EXPECT_TRUE(book.record("A.a", milliseconds(50)));
  EXPECT_EQ(book.estimate("A.a"), milliseconds(100));  // 0.5*50 + 0.5*150
  const DurationStats* s = book.stats("A.a");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->last, milliseconds(50));
  EXPECT_EQ(s->runs, 3U);
  EXPECT_EQ(book.key(), "bin:linux-x86_64");
}

TEST(DurationBook, IgnoresAbsurdDurations) {
  DurationBook book;
  EXPECT_FALSE(book.record("A.a", milliseconds(-1)));
  EXPECT_FALSE(book.record("A.a", kMaxTestDuration + milliseconds(1)));
  EXPECT_FALSE(book.record("", milliseconds(5)));
  EXPECT_EQ(book.size(), 0U);
  EXPECT_TRUE(book.record("A.a", kMaxTestDuration));
  EXPECT_TRUE(book.record("A.b", milliseconds(0)));
  EXPECT_EQ(book.size(), 2U);
}

TEST(DurationBook, UnknownTestsGetTheMedian) {
  DurationBook book;
  EXPECT_EQ(book.unknown_estimate(milliseconds(100)), milliseconds(100));  // empty: the default
  EXPECT_EQ(book.estimate_or("X.x", milliseconds(100)), milliseconds(100));
  ASSERT_TRUE(book.record("A.a", milliseconds(10)));
  ASSERT_TRUE(book.record("A.b", milliseconds(5000)));
  ASSERT_TRUE(book.record("A.c", milliseconds(30)));
  EXPECT_EQ(book.unknown_estimate(milliseconds(100)), milliseconds(30));  // not the mean
  EXPECT_EQ(book.estimate_or("X.x", milliseconds(100)), milliseconds(30));
  EXPECT_EQ(book.estimate_or("A.b", milliseconds(100)), milliseconds(5000));
  ASSERT_TRUE(book.record("A.d", milliseconds(50)));
  EXPECT_EQ(book.unknown_estimate(milliseconds(100)), milliseconds(40));  // (30 + 50) / 2
}

TEST(DurationBook, JsonRoundTrip) {
  DurationBook book("k/1");
  ASSERT_TRUE(book.record("Suite.a", milliseconds(12)));
  ASSERT_TRUE(book.record("Suite.a", milliseconds(13)));  // mean 12.5: kept exactly
  ASSERT_TRUE(book.record("Inst/P.b/0", milliseconds(0)));
  ASSERT_TRUE(book.record("ctest name with spaces \"quoted\"", kMaxTestDuration));
  const std::string json = book.to_json();
  const auto back = DurationBook::from_json(json);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, book);
  EXPECT_EQ(back->to_json(), json);                        // deterministic output
  EXPECT_EQ(back->estimate("Suite.a"), milliseconds(13));  // 12.5 rounds half away from zero

  const auto empty = DurationBook::from_json(DurationBook("e").to_json());
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->size(), 0U);
  EXPECT_EQ(empty->key(), "e");
}

TEST(DurationBook, RefusesMalformedJson) {
  const char* header = R"({"format":"kiln-test-durations","version":1,"key":"k","tests":)";
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      "null",
      R"({"format":"kiln-test-durations","version":1,"key":"k")",  // truncated
      R"({"version":1,"key":"k","tests":{}})",                     // no format
      R"({"format":"other","version":1,"key":"k","tests":{}})",
      R"({"format":"kiln-test-durations","version":2,"key":"k","tests":{}})",
      R"({"format":"kiln-test-durations","version":"1","key":"k","tests":{}})",
      R"({"format":"kiln-test-durations","version":1,"key":7,"tests":{}})",
      R"({"format":"kiln-test-durations","version":1,"tests":{}})",
      std::string(header) + "[]}",
      std::string(header) + R"({"A.a":5}})",
      std::string(header) + R"({"A.a":{"last_ms":"5","mean_ms":5,"runs":1}}})",
      std::string(header) + R"({"A.a":{"last_ms":5,"mean_ms":"5","runs":1}}})",
      std::string(header) + R"({"A.a":{"last_ms":5,"mean_ms":5}}})",
      std::string(header) + R"({"A.a":{"last_ms":5.5,"mean_ms":5,"runs":1}}})",
      std::string(header) + R"({"A.a":{"last_ms":5,"mean_ms":5,"runs":1.5}}})",
      std::string(100000, '[') + std::string(100000, ']'),  // deep nesting
      std::string(header) + R"({"A.a":{"last_ms":5,"mean_ms":5,"runs":1,"x":[[[[[[1]]]]]]}}})",
  };
  for (const std::string& text : bad) {
    EXPECT_EQ(DurationBook::from_json(text), std::nullopt) << text.substr(0, 120);
  }
}

TEST(DurationBook, DropsEntriesWithAbsurdValues) {
  const std::string json =
      R"({"format":"kiln-test-durations","version":1,"key":"k","extra":"ignored","tests":{)"
      R"("ok":{"last_ms":5,"mean_ms":6.5,"runs":2},)"
      R"("neg":{"last_ms":-5,"mean_ms":5,"runs":1},)"
      R"("negmean":{"last_ms":5,"mean_ms":-1,"runs":1},)"
      R"("long":{"last_ms":86400001,"mean_ms":5,"runs":1},)"
      R"("longmean":{"last_ms":5,"mean_ms":1e300,"runs":1},)"
      R"("huge":{"last_ms":18446744073709551615,"mean_ms":5,"runs":1},)"
      R"("noruns":{"last_ms":5,"mean_ms":5,"runs":0},)"
      R"("negruns":{"last_ms":5,"mean_ms":5,"runs":-3},)"
      R"("":{"last_ms":5,"mean_ms":5,"runs":1}}})";
  const auto book = DurationBook::from_json(json);
  ASSERT_TRUE(book.has_value());
  EXPECT_EQ(book->size(), 1U);
  EXPECT_EQ(book->estimate("ok"), milliseconds(7));
  ASSERT_NE(book->stats("ok"), nullptr);
  EXPECT_EQ(book->stats("ok")->runs, 2U);
  EXPECT_EQ(book->stats("ok")->last, milliseconds(5));
}

// --- plan_shards ------------------------------------------------------------

TEST(PlanShards, EmptyListGivesNoShards) {
  const DurationBook book;
  EXPECT_TRUE(plan_shards({}, book, 4, milliseconds(100)).empty());
}

TEST(PlanShards, NeverMoreShardsThanTestsAndNoneEmpty) {
  const DurationBook book;
  const auto tests = cases({"A.a", "A.b", "A.c"});
  for (std::size_t k : {0U, 1U, 2U, 3U, 4U, 100U}) {
    const auto plan = plan_shards(tests, book, k, milliseconds(100));
    EXPECT_EQ(plan.size(), std::min<std::size_t>(std::max<std::size_t>(k, 1), 3)) << k;
    expect_valid_plan(plan, tests, book, milliseconds(100));
  }
}

TEST(PlanShards, EveryTestExactlyOnceDuplicatesCountOnce) {
  DurationBook book;
  ASSERT_TRUE(book.record("A.a", milliseconds(300)));
  const auto tests = cases({"A.b", "A.a", "A.b", "A.c", "A.a", "A.d"});
  const auto plan = plan_shards(tests, book, 3, milliseconds(100));
  ASSERT_EQ(plan.size(), 3U);
  expect_valid_plan(plan, tests, book, milliseconds(100));
  // With only duplicates there is one distinct test: one shard.
  EXPECT_EQ(plan_shards(cases({"A.a", "A.a"}), book, 4, milliseconds(1)).size(), 1U);
}

TEST(PlanShards, LongestFirstOntoTheLeastLoaded) {
  DurationBook book;
  const auto tests = recorded(book, {10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  const auto plan = plan_shards(tests, book, 3, milliseconds(100));
  ASSERT_EQ(plan.size(), 3U);
  // LPT by hand: 10|9|8, 7->8, 6->9, 5->10 (all at 15), 4->shard 0 (19),
  // 3->shard 1 (18), 2->shard 2 (17), 1->shard 2 (18).
  EXPECT_EQ(plan[0].tests, (std::vector<std::string>{"T000", "T005", "T006"}));          // 10 5 4
  EXPECT_EQ(plan[1].tests, (std::vector<std::string>{"T001", "T004", "T007"}));          // 9 6 3
  EXPECT_EQ(plan[2].tests, (std::vector<std::string>{"T002", "T003", "T008", "T009"}));  // 8 7 2 1
  EXPECT_EQ(plan[0].estimate, milliseconds(19));
  EXPECT_EQ(plan[1].estimate, milliseconds(18));
  EXPECT_EQ(plan[2].estimate, milliseconds(18));
  expect_valid_plan(plan, tests, book, milliseconds(100));
}

TEST(PlanShards, DeterministicWhateverTheInputOrder) {
  // Equal estimates everywhere: only the tie-breaking rules decide.
  const DurationBook book;
  std::vector<TestCase> tests;
  for (int i = 0; i < 50; ++i) tests.push_back({"S.t" + std::to_string(i)});
  const auto plan = plan_shards(tests, book, 7, milliseconds(100));
  std::vector<TestCase> reversed(tests.rbegin(), tests.rend());
  std::vector<TestCase> shuffled = tests;
  std::rotate(shuffled.begin(), shuffled.begin() + 17, shuffled.end());
  std::swap(shuffled[3], shuffled[40]);
  EXPECT_EQ(plan_shards(reversed, book, 7, milliseconds(100)), plan);
  EXPECT_EQ(plan_shards(shuffled, book, 7, milliseconds(100)), plan);
  EXPECT_EQ(plan_shards(tests, book, 7, milliseconds(100)), plan);
  expect_valid_plan(plan, tests, book, milliseconds(100));
  // The same shard gives the same filter string.
  EXPECT_EQ(gtest_filter(plan[0].tests).value(),
            gtest_filter(plan_shards(reversed, book, 7, milliseconds(100))[0].tests).value());
}

TEST(PlanShards, UnknownTestsEstimatedByTheMedian) {
  DurationBook book;
  ASSERT_TRUE(book.record("K.a", milliseconds(100)));
  ASSERT_TRUE(book.record("K.b", milliseconds(200)));
  ASSERT_TRUE(book.record("K.c", milliseconds(9000)));
  // Two unknown tests at the median (200) each; the default (1 ms) unused.
  const auto tests = cases({"K.a", "K.b", "K.c", "U.x", "U.y"});
  const auto plan = plan_shards(tests, book, 2, milliseconds(1));
  ASSERT_EQ(plan.size(), 2U);
  EXPECT_EQ(plan[0].tests, (std::vector<std::string>{"K.c"}));
  EXPECT_EQ(plan[0].estimate, milliseconds(9000));
  EXPECT_EQ(plan[1].tests, (std::vector<std::string>{"K.a", "K.b", "U.x", "U.y"}));
  EXPECT_EQ(plan[1].estimate, milliseconds(100 + 200 + 200 + 200));
  const PlanEstimate e = estimate_tests(tests, book, milliseconds(1));
  EXPECT_EQ(e.tests, 5U);
  EXPECT_EQ(e.total, milliseconds(9700));
  EXPECT_EQ(e.longest, milliseconds(9000));
}

// LPT is within 4/3 of optimal in general; with durations known and at
// least three tests per shard it should come much closer to the bound.
void expect_near_lower_bound(const std::vector<long>& durations_ms, const char* name) {
  DurationBook book;
  const auto tests = recorded(book, durations_ms);
  const PlanEstimate e = estimate_tests(tests, book, milliseconds(100));
  for (std::size_t k = 1; k <= tests.size() / 3; ++k) {
    const auto plan = plan_shards(tests, book, k, milliseconds(100));
    ASSERT_EQ(plan.size(), k);
    expect_valid_plan(plan, tests, book, milliseconds(100));
    const Millis bound = makespan_lower_bound(e.total, e.longest, k);
    const Millis span = makespan(plan);
    EXPECT_GE(span, bound) << name << " k=" << k;
    EXPECT_LE(static_cast<double>(span.count()), 1.10 * static_cast<double>(bound.count()))
        << name << " k=" << k << " makespan " << span.count() << " bound " << bound.count();
  }
}

TEST(PlanShards, SkewedSetNearTheLowerBound) {
  std::vector<long> durations;
  for (long d = 60; d >= 1; --d) durations.push_back(d * 100);  // 6 s, 5.9 s, … 0.1 s
  expect_near_lower_bound(durations, "linear");
  // Three tests per shard is where LPT alone is weakest (10100 ms here, 1.104
  // x the bound): the differencing plan is the one kept.
  DurationBook book;
  const auto tests = recorded(book, durations);
  EXPECT_LE(makespan(plan_shards(tests, book, 20, milliseconds(100))), milliseconds(10000));
  expect_near_lower_bound({1000, 900, 800, 700, 600, 500, 400, 300, 200, 100}, "ten");
}

TEST(PlanShards, HeavyTailedSetNearTheLowerBound) {
  // Zipf-like: a few tests dominate, most are short.
  std::vector<long> durations;
  for (long i = 1; i <= 300; ++i) durations.push_back(60000 / i);
  expect_near_lower_bound(durations, "zipf");
  // Many 20 ms tests and a handful of slow ones (typical of a real suite).
  std::vector<long> real(400, 20);
  for (long slow : {30000L, 12000L, 9000L, 4000L, 2500L, 800L, 800L, 500L}) real.push_back(slow);
  expect_near_lower_bound(real, "suite");
}

// --- auto_shards / makespan_lower_bound --------------------------------------

TEST(AutoShards, UsesWorkersWhenThereIsEnoughWork) {
  // 10 minutes of tests, none longer than 5 s: all 16 slots.
  EXPECT_EQ(auto_shards(milliseconds(600000), milliseconds(5000), 1000, 16, milliseconds(2000)),
            16U);
}

TEST(AutoShards, KeepsShardsNearTheTarget) {
  // 7 s of work with a 2 s target: 3 shards of 2.3 s, not 16 of 0.4 s.
  EXPECT_EQ(auto_shards(milliseconds(7000), milliseconds(100), 500, 16, milliseconds(2000)), 3U);
  // Less than one target of work: one shard.
  EXPECT_EQ(auto_shards(milliseconds(500), milliseconds(100), 50, 16, milliseconds(2000)), 1U);
  // Target disabled: as many as workers.
  EXPECT_EQ(auto_shards(milliseconds(500), milliseconds(10), 50, 16, milliseconds(0)), 16U);
}

TEST(AutoShards, StopsWhereTheLongestTestDominates) {
  // 100 s total, one 40 s test: ceil(100/40) = 3 shards already reach 40 s.
  EXPECT_EQ(auto_shards(milliseconds(100000), milliseconds(40000), 100, 32, milliseconds(2000)),
            3U);
}

TEST(AutoShards, BoundedByTestsAndAtLeastOne) {
  EXPECT_EQ(auto_shards(milliseconds(600000), milliseconds(100000), 4, 16, milliseconds(2000)), 4U);
  EXPECT_EQ(auto_shards(milliseconds(0), milliseconds(0), 0, 0, milliseconds(2000)), 1U);
  EXPECT_EQ(auto_shards(milliseconds(600000), milliseconds(1000), 1000, 0, milliseconds(2000)), 1U);
}

TEST(LowerBound, LongestOrTheAverageRoundedUp) {
  EXPECT_EQ(makespan_lower_bound(milliseconds(55), milliseconds(10), 3), milliseconds(19));
  EXPECT_EQ(makespan_lower_bound(milliseconds(55), milliseconds(30), 3), milliseconds(30));
  EXPECT_EQ(makespan_lower_bound(milliseconds(55), milliseconds(10), 0), milliseconds(55));
  EXPECT_EQ(makespan(std::vector<Shard>{}), milliseconds(0));
}

// --- BatchQueue -------------------------------------------------------------

TEST(BatchQueue, HandsOutLongestFirstEveryTestOnce) {
  DurationBook book;
  const auto tests = recorded(book, {100, 5000, 300, 300, 50, 2000});
  BatchQueue q(tests, book, milliseconds(100), 1);
  EXPECT_EQ(q.remaining_estimate(), milliseconds(7750));
  std::vector<std::string> order;
  std::multiset<std::string> seen;
  while (auto batch = q.next(milliseconds(100000))) {
    EXPECT_FALSE(batch->empty());
    EXPECT_TRUE(std::is_sorted(batch->begin(), batch->end()));
    seen.insert(batch->begin(), batch->end());
    order.push_back(batch->front());
  }
  EXPECT_EQ(seen.size(), tests.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), tests.size());
  // The 5 s test goes out first, alone: 7750 / 2 = 3875 caps the batch.
  ASSERT_FALSE(order.empty());
  EXPECT_EQ(order.front(), "T001");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.remaining_estimate(), milliseconds(0));
  EXPECT_EQ(q.outstanding(), tests.size());
  EXPECT_EQ(q.next(milliseconds(1000)), std::nullopt);
}

TEST(BatchQueue, BatchesShrinkTowardsTheEnd) {
  DurationBook book;
  std::vector<long> durations(200, 100);  // 200 tests of 100 ms: 20 s
  const auto tests = recorded(book, durations);
  BatchQueue q(tests, book, milliseconds(100), 2);
  std::vector<std::size_t> sizes;
  while (auto batch = q.next(milliseconds(3000))) sizes.push_back(batch->size());
  ASSERT_GE(sizes.size(), 3U);
  EXPECT_EQ(sizes.front(), 30U);                              // the target: 3 s of 100 ms tests
  EXPECT_TRUE(std::is_sorted(sizes.rbegin(), sizes.rend()));  // never grows
  EXPECT_EQ(sizes.back(), 1U);                                // the tail is handed out one by one
  std::size_t total = 0;
  for (std::size_t s : sizes) total += s;
  EXPECT_EQ(total, 200U);
}

TEST(BatchQueue, AlwaysAtLeastOneTest) {
  DurationBook book;
  const auto tests = recorded(book, {60000, 50000});
  BatchQueue q(tests, book, milliseconds(100), 4);
  auto a = q.next(milliseconds(10));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, (std::vector<std::string>{"T000"}));
  auto b = q.next(milliseconds(0));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*b, (std::vector<std::string>{"T001"}));
  EXPECT_FALSE(q.next(milliseconds(10)).has_value());
}

TEST(BatchQueue, RequeuePutsOutstandingTestsBackAtTheFront) {
  DurationBook book;
  const auto tests = recorded(book, {400, 300, 200, 100, 100, 100});
  BatchQueue q(tests, book, milliseconds(100), 1);
  const auto first = q.next(milliseconds(700));  // 400 + 300; remaining 1200 / 2 = 600 caps it
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (std::vector<std::string>{"T000"}));
  const auto second = q.next(milliseconds(500));  // 300 + 200
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, (std::vector<std::string>{"T001"}));  // 800 / 2 = 400 caps it
  EXPECT_EQ(q.outstanding(), 2U);
  const Millis before = q.remaining_estimate();

  // The worker holding the first batch died.
  const std::vector<std::string> lost = {"T000", "T000", "nope", "T002"};
  EXPECT_EQ(q.requeue(lost), 1U);  // only T000 was outstanding; once
  EXPECT_EQ(q.outstanding(), 1U);
  EXPECT_EQ(q.remaining_estimate(), before + milliseconds(400));
  const auto again = q.next(milliseconds(1));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, (std::vector<std::string>{"T000"}));

  // Completed tests cannot come back.
  q.complete(*second);
  EXPECT_EQ(q.requeue(*second), 0U);
  // Requeued tests keep their given order at the front.
  const auto third = q.next(milliseconds(100000));
  ASSERT_TRUE(third.has_value());
  const std::vector<std::string> back = {"T000", third->front()};
  EXPECT_EQ(q.requeue(back), 2U);
  const auto n1 = q.next(milliseconds(1));
  const auto n2 = q.next(milliseconds(1));
  ASSERT_TRUE(n1.has_value() && n2.has_value());
  EXPECT_EQ(*n1, (std::vector<std::string>{"T000"}));
  EXPECT_EQ(*n2, (std::vector<std::string>{back[1]}));
}

TEST(BatchQueue, DuplicatesQueuedOnce) {
  const DurationBook book;
  BatchQueue q(cases({"A.a", "A.a", "A.b"}), book, milliseconds(100), 1);
  EXPECT_EQ(q.queued(), 2U);
  EXPECT_EQ(q.remaining_estimate(), milliseconds(200));
}

// --- gtest_filter -----------------------------------------------------------

TEST(GtestFilter, JoinsIdsWithColons) {
  const std::vector<std::string> ids = {"A.b", "A.c", "Inst/P.t/0", "T/0.x"};
  const auto f = gtest_filter(ids);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, "A.b:A.c:Inst/P.t/0:T/0.x");
}

TEST(GtestFilter, RefusesSyntaxCharactersAndEmptyLists) {
  EXPECT_FALSE(gtest_filter(std::vector<std::string>{}).ok());
  for (const char* bad : {"A.*", "A.b?", "A.b:A.c", "-A.b", "A.b-c", ""}) {
    const std::vector<std::string> ids = {"A.ok", bad};
    const auto f = gtest_filter(ids);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.error().code, Errc::kInvalidArgument);
  }
}

// --- parse_gtest_list -------------------------------------------------------

std::vector<std::string> ids_of(const std::vector<TestCase>& tests) {
  std::vector<std::string> out;
  for (const TestCase& t : tests) out.push_back(t.id);
  return out;
}

TEST(ParseGtestList, PlainTypedParameterizedAndDisabled) {
  const std::string output =
      "Running main() from ./googletest/src/gtest_main.cc\n"
      "Plain.\n"
      "  First\n"
      "  DISABLED_Second\n"
      "  Third\n"
      "TypedTest/0.  # TypeParam = int\n"
      "  Works\n"
      "TypedTest/1.  # TypeParam = std::vector<int, std::allocator<int> >\n"
      "  Works\n"
      "DISABLED_Off.\n"
      "  Anything\n"
      "Inst/Param.\n"
      "  Value/0  # GetParam() = 3\n"
      "  Value/1  # GetParam() = \"a  # b\"\n"
      "  DISABLED_Value/0  # GetParam() = 3\n"
      "Inst/DISABLED_Param.\n"
      "  Value/0  # GetParam() = 4\n";
  const auto tests = parse_gtest_list(output);
  ASSERT_TRUE(tests.ok()) << tests.error().message;
  EXPECT_EQ(ids_of(*tests), (std::vector<std::string>{"Plain.First", "Plain.Third",
                                                      "TypedTest/0.Works", "TypedTest/1.Works",
                                                      "Inst/Param.Value/0", "Inst/Param.Value/1"}));
}

TEST(ParseGtestList, ToleratesCrLfAndBlankLines) {
  const auto tests = parse_gtest_list("A.\r\n  x\r\n\r\nB.\r\n  y\r\n");
  ASSERT_TRUE(tests.ok()) << tests.error().message;
  EXPECT_EQ(ids_of(*tests), (std::vector<std::string>{"A.x", "B.y"}));
}

TEST(ParseGtestList, AllDisabledIsAnEmptyList) {
  const auto tests = parse_gtest_list("DISABLED_A.\n  x\nB.\n  DISABLED_y\n");
  ASSERT_TRUE(tests.ok()) << tests.error().message;
  EXPECT_TRUE(tests->empty());
}

TEST(ParseGtestList, RefusesWhatIsNotATestList) {
  const std::vector<std::string> bad = {
      "",
      "Running main() from gtest_main.cc\n",
      "Usage: foo [OPTIONS]\n  -h, --help  show this help\n",
      "hello world\n",
      "  orphan\n",               // a test before any suite
      "A.\n  x\nB.\n",            // a suite with no tests
      "A.\nB.\n  y\n",            // likewise, in the middle
      "A.\n  two words\n",        // not a name
      "A.\n  x\nnot a suite.\n",  // a sentence
      "A.\n  x\n\tTabbed\n",      // neither
      "A.\n  x.y\n",              // test names hold no '.'
      std::string("A.\n  x\0y\n", 9),
  };
  for (const std::string& text : bad) {
    const auto r = parse_gtest_list(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find("not a GoogleTest list"), std::string::npos)
        << r.error().message;
  }
  const auto r = parse_gtest_list("A.\n  x\nSegmentation fault (core dumped)\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line 3"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("Segmentation fault"), std::string::npos) << r.error().message;
}

// ---- parse_ldd / is_system_library ----

using Paths = std::vector<std::string>;

// `ldd` on a test binary linked against two libraries of its own build
// tree, with one more that the loader could not find (glibc 2.36, x86-64).
constexpr const char* kLdd =
    "\tlinux-vdso.so.1 (0x00007ffc8b5f2000)\n"
    "\tlibfoo.so => /home/u/build/libfoo.so (0x00007f3a2c3f0000)\n"
    "\tlibkiln_util.so.1 => /home/u/build/lib/libkiln_util.so.1 (0x00007f3a2c3c0000)\n"
    "\tlibbar.so => not found\n"
    "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f3a2c000000)\n"
    "\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f3a2bf20000)\n"
    "\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f3a2c3a0000)\n"
    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3a2bd3e000)\n"
    "\tlibz.so.1 => /usr/lib/x86_64-linux-gnu/libz.so.1 (0x00007f3a2bd20000)\n"
    "\tlibgtest.so.1.12.1 => /usr/lib/x86_64-linux-gnu/libgtest.so.1.12.1 (0x00007f3a2bc00000)\n"
    "\t/lib64/ld-linux-x86-64.so.2 (0x00007f3a2c41e000)\n";

TEST(ParseLdd, KeepsBuildTreeLibrariesAndReportsMissingOnes) {
  const LddLibraries libs = parse_ldd(kLdd);
  EXPECT_EQ(libs.paths, (Paths{"/home/u/build/libfoo.so", "/home/u/build/lib/libkiln_util.so.1"}));
  EXPECT_EQ(libs.missing, (Paths{"libbar.so"}));
}

TEST(ParseLdd, OnlySystemLibrariesGiveNothing) {
  // `ldd /bin/ls`
  const LddLibraries libs = parse_ldd(
      "\tlinux-vdso.so.1 (0x00007f37ff3ef000)\n"
      "\tlibselinux.so.1 => /lib/x86_64-linux-gnu/libselinux.so.1 (0x00007f37ff388000)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f37ff1a6000)\n"
      "\tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f37ff10c000)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f37ff3f1000)\n");
  EXPECT_TRUE(libs.paths.empty());
  EXPECT_TRUE(libs.missing.empty());
}

TEST(ParseLdd, DuplicatesOnceInFirstOrder) {
  const LddLibraries libs = parse_ldd(
      "\tlibb.so => /home/u/build/libb.so (0x00007f0000001000)\n"
      "\tliba.so => /home/u/build/liba.so (0x00007f0000002000)\n"
      "\tlibb.so => /home/u/build/libb.so (0x00007f0000001000)\n"
      "\tlibb.so.1 => /home/u/build/libb.so (0x00007f0000001000)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0000003000)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0000003000)\n"
      "\tliba.so => /home/u/build/liba.so (0x00007f0000002000)\n");
  EXPECT_EQ(libs.paths, (Paths{"/home/u/build/libb.so", "/home/u/build/liba.so"}));
  EXPECT_TRUE(libs.missing.empty());
}

TEST(ParseLdd, StaticBinariesHaveNone) {
  for (const char* output : {"\tnot a dynamic executable\n", "\tstatically linked\n",
                             "not a dynamic executable", "", "\n"}) {
    const LddLibraries libs = parse_ldd(output);
    EXPECT_TRUE(libs.paths.empty()) << output;
    EXPECT_TRUE(libs.missing.empty()) << output;
  }
}

TEST(ParseLdd, WhatIsNotDistributionIsKept) {
  const LddLibraries libs = parse_ldd(
      "\tlibl.so => /usr/local/lib/libl.so (0x00007f0000001000)\n"
      "\tlibo.so.2 => /opt/vendor/lib/libo.so.2 (0x00007f0000002000)\n"
      "\tlibe.so => /usr/lib/../../home/x.so (0x00007f0000003000)\n"
      "\tlibs.so => /home/u/my build/libs.so (0x00007f0000004000)\n"
      "\tlibn.so => /home/u/build/libn.so\n"                       // no load address
      "\tlibt.so => /home/u/build/libt.so (0x00007f0000005000)");  // no final newline
  EXPECT_EQ(libs.paths, (Paths{"/usr/local/lib/libl.so", "/opt/vendor/lib/libo.so.2",
                               "/usr/lib/../../home/x.so", "/home/u/my build/libs.so",
                               "/home/u/build/libn.so", "/home/u/build/libt.so"}));
  EXPECT_TRUE(libs.missing.empty());
}

TEST(ParseLdd, EveryMissingLibraryIsReported) {
  const LddLibraries libs = parse_ldd(
      "\tlinux-vdso.so.1 (0x00007ffc8b5f2000)\n"
      "\tlibone.so => not found\n"
      "\tlibfoo.so => /home/u/build/libfoo.so (0x00007f3a2c3f0000)\n"
      "\tlibtwo.so.3 => not found\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3a2bd3e000)\n");
  EXPECT_EQ(libs.missing, (Paths{"libone.so", "libtwo.so.3"}));
  EXPECT_EQ(libs.paths, (Paths{"/home/u/build/libfoo.so"}));
}

TEST(IsSystemLibrary, DistributionDirectories) {
  for (const char* path : {"/lib/libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "/lib32/libc.so.6",
                           "/lib64/ld-linux-x86-64.so.2", "/libx32/libc.so.6", "/usr/lib/libz.so.1",
                           "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib32/libz.so.1",
                           "/usr/lib64/libz.so.1", "/usr/libx32/libz.so.1"}) {
    EXPECT_TRUE(is_system_library(path)) << path;
  }
}

TEST(IsSystemLibrary, ProjectLibrariesAreNot) {
  for (const char* path :
       {"/usr/local/lib/x.so", "/usr/local/lib64/x.so", "/opt/x/lib/x.so",
        "/home/u/build/libfoo.so", "/usr/lib/../../home/x.so",
        "/usr/lib/x86_64-linux-gnu/../../../home/u/x.so", "/lib/../home/x.so", "/lib64/../tmp/x.so",
        "/usr/libexec/x.so", "/library/x.so", "/libfoo.so", "/usr/lib", "lib/x.so", "usr/lib/x.so",
        "./lib/x.so", "//usr/lib/x.so", "/tmp/usr/lib/x.so", ""}) {
    EXPECT_FALSE(is_system_library(path)) << path;
  }
}

TEST(Slices, ExactlyTotalSlicesBalancedAndEncodedBack) {
  DurationBook book("k");
  book.record("A.long", std::chrono::milliseconds(900));
  const std::vector<TestCase> tests{{"A.long"}, {"B.a"}, {"B.b"}, {"B.c"}};
  const auto slices = plan_slices(tests, book, 6, std::chrono::milliseconds(100));
  ASSERT_EQ(slices.size(), 6u);
  EXPECT_EQ(slices[0], std::vector<std::string>{"A.long"});
  std::size_t filled = 0;
  for (const auto& s : slices) filled += s.empty() ? 0 : 1;
  EXPECT_EQ(filled, 4u);
  const std::string text = encode_slices(slices);
  EXPECT_EQ(decode_slices(text, 6), slices);
  EXPECT_EQ(decode_slices(text, 5), std::nullopt) << "another slice count";
}

TEST(Slices, DecodeRefusesWhatIsNotAPlan) {
  EXPECT_EQ(decode_slices("", 1), std::nullopt);
  EXPECT_EQ(decode_slices("[]", 1), std::nullopt);
  EXPECT_EQ(decode_slices(R"({"format":"kiln-test-slices","version":2,"slices":[[]]})", 1),
            std::nullopt);
  EXPECT_EQ(decode_slices(R"({"format":"kiln-test-slices","version":1,"slices":[["a"],["a"]]})", 2),
            std::nullopt)
      << "a test in two slices";
  EXPECT_EQ(decode_slices(R"({"format":"kiln-test-slices","version":1,"slices":[[1]]})", 1),
            std::nullopt);
  EXPECT_NE(decode_slices(R"({"format":"kiln-test-slices","version":1,"slices":[[],["a"]]})", 2),
            std::nullopt);
}

}  // namespace
TEST(GTestListTail, SkipsWhatAMainPrintedBeforeTheList) {
  const std::string before =
      "Running main() from gtest_main.cc\n"
      "BM_LogAndApply/1          828899 ns       106901 ns        13169\n"
      "----------------------------------------------------------------\n";
  const std::string list = "DBTest.\n  Empty\n  ReadWrite\nTyped/0.  # TypeParam = int\n  A\n";
  EXPECT_EQ(gtest_list_tail(before + list), list);
  auto tests = parse_gtest_list(gtest_list_tail(before + list));
  ASSERT_TRUE(tests.ok()) << tests.error().message;
  EXPECT_EQ(tests->size(), 3u);
  // A list alone is its own tail; output with no list leaves nothing.
  EXPECT_EQ(gtest_list_tail(list), list);
  EXPECT_EQ(gtest_list_tail("hello\n"), "");
  EXPECT_EQ(gtest_list_tail("hello"), "");
}

}  // namespace kiln::client::testing
