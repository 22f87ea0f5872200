#include "scheduler/invocations.h"

#include <gtest/gtest.h>

namespace kiln::scheduler {
namespace {

InvocationTagValue tag(const std::string& id, const std::string& subject,
                       const std::string& kind = "compile") {
  return InvocationTagValue{id, {{"ticket", "BANK-1"}}, kind, subject};
}

TEST(SanitizeTag, KeepsOnlyWhatAPageMayShow) {
  auto t = sanitize_tag({"../x", {{"ticket", "a\nb"}}, "compile", "s"});
  EXPECT_EQ(t.id, "");
  t = sanitize_tag({"ci-1",
                    {{"Bad", "x"}, {"ok", "a\x01z"}, {"long", std::string(300, 'v')}},
                    std::string(100, 'k'),
                    std::string(1000, 's')});
  EXPECT_EQ(t.id, "ci-1");
  ASSERT_EQ(t.labels.size(), 1u);
  EXPECT_EQ(t.labels[0].second, "a?z");
  EXPECT_EQ(t.kind.size(), 32u);
  EXPECT_EQ(t.subject.size(), 512u);
  TagLabels many;
  for (int i = 0; i < 20; ++i) many.emplace_back("l" + std::to_string(i), "v");
  EXPECT_EQ(sanitize_tag({"ci", many, "", ""}).labels.size(), 16u);
}

TEST(InvocationLog, FollowsAMissFromQueueToWorkerToAnswer) {
  InvocationLog log({});
  log.submitted(tag("inv", "a.cc"), "alice", "alice", 1, "d1/1", 1000, {"src/1"});
  log.hit(tag("inv", "b.cc"), "alice", "d2/1", 1100, "w0", 0, {"o2/1"});
  auto in_flight = log.in_flight(10);
  ASSERT_EQ(in_flight.size(), 1u);
  EXPECT_EQ(in_flight[0].state, ActionState::kQueued);
  log.started("d1/1", "w1", 2000);
  EXPECT_EQ(log.in_flight(10)[0].worker, "w1");
  log.completed("alice", 1, "d1/1", 5000, "w1", 0, {{"execute", 2100, 4900}}, {"o1/1"}, false);
  EXPECT_TRUE(log.in_flight(10).empty());
  auto d = log.detail("inv");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->summary.actions, 2u);
  EXPECT_EQ(d->summary.hits, 1u);
  EXPECT_EQ(d->summary.executed, 1u);
  EXPECT_DOUBLE_EQ(d->summary.hit_rate(), 0.5);
  EXPECT_EQ(d->summary.labels[0].second, "BANK-1");
  EXPECT_EQ(d->actions[0].started_us, 2000);
  EXPECT_EQ(d->actions[0].duration_us(), 4000);
  EXPECT_EQ(d->workers, std::vector<std::string>{"w1"});
  EXPECT_EQ(d->slowest.front(), 0u);
  EXPECT_FALSE(log.detail("other"));
}

TEST(InvocationLog, AResubmissionTakesTheWaitingEntryOver) {
  InvocationLog log({});
  log.submitted(tag("inv", "a.cc"), "alice", "alice", 1, "d1/1", 1000, {});
  log.cancelled("alice", 1, "d1/1", 1500);  // cancel before the resubmission arrives
  log.submitted(tag("inv", "a.cc"), "alice", "alice", 2, "d1/1", 1600, {});
  log.started("d1/1", "w1", 2000);
  log.completed("alice", 2, "d1/1", 3000, "w1", 0, {}, {}, false);
  auto d = log.detail("inv");
  ASSERT_EQ(d->actions.size(), 1u);
  EXPECT_EQ(d->actions[0].state, ActionState::kDone);
  EXPECT_EQ(d->actions[0].submitted_us, 1000);
}

TEST(InvocationLog, FailuresAndFlakyTests) {
  InvocationLog log({});
  log.submitted(tag("inv", "t shard 1/2", "test"), "c", "c", 1, "d1/1", 1000, {});
  log.submitted(tag("inv", "t retry 1 of A.b", "test-retry"), "c", "c", 2, "d2/1", 1000, {});
  log.submitted(tag("inv", "x.cc"), "c", "c", 3, "d3/1", 1000, {});
  log.started("d1/1", "w", 1100);
  log.completed("c", 1, "d1/1", 2000, "w", 1, {}, {}, false);
  log.completed("c", 2, "d2/1", 3000, "w", 0, {}, {}, false);
  log.failed("c", 3, "d3/1", 3500, "no worker matches");
  const auto s = log.summaries(10).at(0);
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.flaky, 1u);
  const auto failures = log.recent_failures();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].message, "no worker matches");
  EXPECT_EQ(failures[1].message, "exit code 1");
}

TEST(InvocationLog, KeepsTheNewestInvocationsAndCountsWhatItDrops) {
  InvocationLog log({.max_invocations = 2, .max_actions = 1, .max_failures = 20});
  log.submitted(tag("a", "1"), "c", "c", 1, "d1/1", 1, {});
  log.hit(tag("a", "2"), "c", "d2/1", 2, "", 0, {});
  log.hit(tag("b", "1"), "c", "d3/1", 3, "", 0, {});
  log.hit(tag("c", "1"), "c", "d4/1", 4, "", 0, {});
  const auto s = log.summaries(10);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].id, "c");
  EXPECT_EQ(s[1].id, "b");
  EXPECT_FALSE(log.detail("a"));
  log.completed("c", 1, "d1/1", 5, "w", 0, {}, {}, false);  // of a forgotten invocation: ignored
  EXPECT_TRUE(log.in_flight(10).empty());
  log.submitted(tag("c", "3"), "peer", "c", 9, "d9/1", 5, {});
  EXPECT_EQ(log.in_flight(10).size(), 0u);  // beyond max_actions: counted only
  log.client_gone("peer", 6);
  log.hit(tag("c", "2"), "c", "d5/1", 6, "", 0, {});
  EXPECT_EQ(log.summaries(1)[0].dropped, 2u);
  EXPECT_EQ(log.summaries(1)[0].actions, 3u);
  log.hit(tag("", "x"), "c", "d6/1", 7, "", 0, {});  // no invocation: not recorded
  EXPECT_EQ(log.summaries(10).size(), 2u);
}

ActionEntry done(std::int64_t start, std::int64_t end, std::vector<std::size_t> deps) {
  ActionEntry e;
  e.state = ActionState::kDone;
  e.submitted_us = start;
  e.started_us = start;
  e.finished_us = end;
  e.deps = std::move(deps);
  return e;
}

TEST(CriticalPath, TheChainWithTheMostTime) {
  // Two compiles (a long one, a short one), a link of both, and a compile
  // nobody uses that is longer than either.
  const std::vector<ActionEntry> actions = {done(0, 100, {}), done(0, 300, {}),
                                            done(300, 350, {0, 1}), done(0, 320, {})};
  const auto [path, length] = critical_path(actions);
  EXPECT_EQ(path, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(length, 350);
  EXPECT_TRUE(critical_path({}).first.empty());
}

TEST(InvocationLog, FindsDepsByDigestAmongFinishedActions) {
  InvocationLog log({});
  log.submitted(tag("inv", "a.cc"), "p", "c", 1, "da/1", 0, {"a.cc/1"});
  log.submitted(tag("inv", "b.cc"), "p", "c", 2, "db/1", 0, {"b.cc/1"});
  log.completed("p", 1, "da/1", 100, "w", 0, {}, {"a.o/1"}, false);
  log.hit(tag("inv", "c.cc"), "c", "dc/1", 110, "w", 0, {"c.o/1"});
  log.completed("p", 2, "db/1", 300, "w", 0, {}, {"b.o/1"}, false);
  log.submitted(tag("inv", "app"), "p", "c", 3, "dl/1", 300, {"a.o/1", "b.o/1", "c.o/1", "x/1"});
  log.completed("p", 3, "dl/1", 350, "w", 0, {}, {"app/1"}, false);
  const auto d = log.detail("inv");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->actions[3].deps, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(d->critical, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(d->critical_us, 350);
}

TEST(InvocationLog, ADetailShowsThePathTheSlowestAndTheNewest) {
  InvocationLog log({});
  // 0: slow and first; 1..5 quick; 6 reads 0's output.
  log.submitted(tag("inv", "slow.cc"), "p", "c", 1, "d0/1", 0, {});
  log.completed("p", 1, "d0/1", 1000, "w", 0, {}, {"slow.o/1"}, false);
  for (int i = 1; i <= 5; ++i) {
    log.submitted(tag("inv", "q" + std::to_string(i)), "p", "c", 10 + i, "dq" + std::to_string(i),
                  1000, {});
    log.completed("p", 10 + i, "dq" + std::to_string(i), 1000 + i, "w", 0, {}, {}, false);
  }
  log.submitted(tag("inv", "link"), "p", "c", 20, "dl/1", 1100, {"slow.o/1"});
  log.completed("p", 20, "dl/1", 1200, "w", 0, {}, {}, false);
  const auto d = log.detail("inv", 3);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->summary.actions, 7u);
  EXPECT_EQ(d->omitted, 7u - d->actions.size());
  ASSERT_GE(d->actions.size(), 3u);
  EXPECT_EQ(d->actions.front().subject, "slow.cc");
  EXPECT_EQ(d->actions.back().subject, "link");
  EXPECT_EQ(d->actions.back().deps, std::vector<std::size_t>{0});
  ASSERT_EQ(d->critical.size(), 2u);
  EXPECT_EQ(d->actions[d->critical[1]].subject, "link");
  EXPECT_EQ(d->critical_us, 1100);
}

}  // namespace
}  // namespace kiln::scheduler
