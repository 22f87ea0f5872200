// The dispatch policy, driven event by event with a fake clock.
#include "scheduler/dispatch.h"

#include <gtest/gtest.h>

#include <map>

namespace kiln::scheduler {
namespace {

using std::chrono::milliseconds;

cas::Digest digest(const std::string& name) {
  return cas::digest_of(cas::DigestFunction::kXxh3_128, name);
}

Payload payload(const std::string& text) { return std::make_shared<const std::string>(text); }

Submission submission(const ClientId& client, std::uint64_t id, const std::string& action,
                      int priority = 0, Platform platform = {}) {
  Submission s;
  s.client = client;
  s.request_id = id;
  s.action_digest = digest(action);
  s.action = payload(action);
  s.priority = priority;
  s.platform = std::move(platform);
  return s;
}

template <typename T>
std::vector<T> only(const std::vector<Command>& commands) {
  std::vector<T> out;
  for (const Command& c : commands) {
    if (const T* t = std::get_if<T>(&c)) out.push_back(*t);
  }
  return out;
}

class DispatchTest : public ::testing::Test {
 protected:
  DispatchPolicy::Options options() {
    DispatchPolicy::Options o;
    o.heartbeat_interval = milliseconds(1000);
    o.liveness = 3;
    o.max_attempts = 3;
    o.lease_grace = milliseconds(1000);
    o.default_timeout = milliseconds(10000);
    o.no_worker_timeout = milliseconds(5000);
    return o;
  }
  DispatchPolicy policy{options()};
  Millis now{0};
};

TEST_F(DispatchTest, QueuedActionStartsWhenAWorkerArrives) {
  policy.submit(now, submission("c1", 1, "a"));
  EXPECT_TRUE(policy.take_commands().empty());
  policy.worker_ready(now, "w1", 2, {});
  auto starts = only<StartLease>(policy.take_commands());
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].worker, "w1");
  EXPECT_EQ(starts[0].action_digest, digest("a"));
  EXPECT_EQ(*starts[0].action, "a");
  EXPECT_EQ(starts[0].attempt, 1);
  EXPECT_EQ(policy.stats().running, 1u);
}

TEST_F(DispatchTest, ResultGoesToEveryWaiterOfAnIdenticalAction) {
  policy.worker_ready(now, "w1", 4, {});
  for (int c = 0; c < 5; ++c) policy.submit(now, submission("c" + std::to_string(c), 7, "same"));
  auto starts = only<StartLease>(policy.take_commands());
  ASSERT_EQ(starts.size(), 1u) << "identical actions must execute once";
  EXPECT_EQ(policy.lease_result(now, "w1", starts[0].lease_id, payload("R")),
            ResultDisposition::kAccepted);
  auto done = only<Complete>(policy.take_commands());
  ASSERT_EQ(done.size(), 5u);
  for (const auto& d : done) {
    EXPECT_EQ(*d.result, "R");
    EXPECT_EQ(d.request_id, 7u);
  }
  EXPECT_TRUE(policy.idle());
}

TEST_F(DispatchTest, SlotsAreNotOverbooked) {
  policy.worker_ready(now, "w1", 2, {});
  for (int i = 0; i < 5; ++i) policy.submit(now, submission("c", i, "a" + std::to_string(i)));
  EXPECT_EQ(only<StartLease>(policy.take_commands()).size(), 2u);
  EXPECT_EQ(policy.stats().queued, 3u);
  EXPECT_EQ(policy.stats().busy_slots, 2u);
}

TEST_F(DispatchTest, SmallBuildIsNotStarvedByABigOne) {
  for (int i = 0; i < 10000; ++i)
    policy.submit(now, submission("big", i, "big" + std::to_string(i)));
  for (int i = 0; i < 10; ++i)
    policy.submit(now, submission("small", i, "small" + std::to_string(i)));
  policy.worker_ready(now, "w1", 20, {});
  auto starts = only<StartLease>(policy.take_commands());
  ASSERT_EQ(starts.size(), 20u);
  int small = 0;
  for (const auto& s : starts) small += (*s.action).rfind("small", 0) == 0 ? 1 : 0;
  EXPECT_EQ(small, 10) << "round-robin across clients gives the small build half the slots";
}

TEST_F(DispatchTest, PriorityThenArrivalWithinOneClient) {
  policy.submit(now, submission("c", 1, "low-first", 0));
  policy.submit(now, submission("c", 2, "high", 5));
  policy.submit(now, submission("c", 3, "low-second", 0));
  policy.worker_ready(now, "w1", 1, {});
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    auto starts = only<StartLease>(policy.take_commands());
    ASSERT_EQ(starts.size(), 1u);
    order.push_back(*starts[0].action);
    (void)policy.lease_result(now, "w1", starts[0].lease_id, payload("ok"));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"high", "low-first", "low-second"}));
}

TEST_F(DispatchTest, PlatformMustMatch) {
  const Platform linux_gcc{{"os", "linux"}, {"toolchain", "gcc-12"}};
  policy.worker_ready(now, "plain", 4, {{"os", "linux"}});
  policy.worker_ready(now, "gcc", 4,
                      {{"os", "linux"}, {"toolchain", "gcc-12"}, {"arch", "x86_64"}});
  policy.submit(now, submission("c", 1, "compile", 0, linux_gcc));
  auto starts = only<StartLease>(policy.take_commands());
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].worker, "gcc");
}

TEST_F(DispatchTest, UnmatchableActionFailsAfterTimeoutButWaitsForAMatchingWorker) {
  policy.worker_ready(now, "w1", 1, {{"os", "linux"}});
  policy.submit(now, submission("c", 1, "mac", 0, {{"os", "darwin"}}));
  now += milliseconds(900);
  policy.worker_heard(now, "w1");
  policy.tick(now);
  EXPECT_TRUE(only<Fail>(policy.take_commands()).empty());
  now += milliseconds(5000);
  policy.worker_heard(now, "w1");
  policy.tick(now);
  auto fails = only<Fail>(policy.take_commands());
  ASSERT_EQ(fails.size(), 1u);
  EXPECT_EQ(fails[0].reason, FailReason::kNoMatchingWorker);
  EXPECT_NE(fails[0].message.find("os=darwin"), std::string::npos);
}

TEST_F(DispatchTest, DeadWorkerLeasesAreRequeuedAndItsLateResultIgnored) {
  policy.worker_ready(now, "w1", 1, {});
  policy.worker_ready(now, "w2", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  auto first = only<StartLease>(policy.take_commands());
  ASSERT_EQ(first.size(), 1u);
  const WorkerId victim = first[0].worker;
  const WorkerId survivor = victim == "w1" ? "w2" : "w1";
  // The survivor keeps talking; the victim goes silent for > 3 intervals.
  for (int i = 0; i < 4; ++i) {
    now += milliseconds(1000);
    policy.worker_heard(now, survivor);
    policy.tick(now);
  }
  auto commands = policy.take_commands();
  auto drops = only<DropWorker>(commands);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].worker, victim);
  auto retry = only<StartLease>(commands);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].worker, survivor);
  EXPECT_EQ(retry[0].attempt, 2);
  EXPECT_EQ(policy.lease_result(now, victim, first[0].lease_id, payload("late")),
            ResultDisposition::kUnknownWorker);
  EXPECT_TRUE(only<Complete>(policy.take_commands()).empty());
  EXPECT_EQ(policy.lease_result(now, survivor, retry[0].lease_id, payload("good")),
            ResultDisposition::kAccepted);
  auto done = only<Complete>(policy.take_commands());
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(*done[0].result, "good");
}

TEST_F(DispatchTest, ResultForALeaseTheWorkerDoesNotHoldIsIgnored) {
  policy.worker_ready(now, "w1", 1, {});
  policy.worker_ready(now, "w2", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  auto starts = only<StartLease>(policy.take_commands());
  const WorkerId other = starts[0].worker == "w1" ? "w2" : "w1";
  EXPECT_EQ(policy.lease_result(now, other, starts[0].lease_id, payload("forged")),
            ResultDisposition::kNotYourLease);
  EXPECT_EQ(policy.lease_result(now, "w1", 999, payload("x")), ResultDisposition::kUnknownLease);
  EXPECT_EQ(policy.lease_result(now, "nobody", 1, payload("x")), ResultDisposition::kUnknownWorker);
  EXPECT_TRUE(policy.take_commands().empty());
  EXPECT_EQ(policy.stats().running, 1u);
}

TEST_F(DispatchTest, RetriesAreBoundedThenTheClientGetsAnError) {
  policy.submit(now, submission("c", 1, "doomed"));
  for (int attempt = 1; attempt <= 3; ++attempt) {
    policy.worker_ready(now, "w" + std::to_string(attempt), 1, {});
    auto starts = only<StartLease>(policy.take_commands());
    ASSERT_EQ(starts.size(), 1u);
    EXPECT_EQ(starts[0].attempt, attempt);
    policy.worker_gone(now, starts[0].worker, "killed");
  }
  auto fails = only<Fail>(policy.take_commands());
  ASSERT_EQ(fails.size(), 1u);
  EXPECT_EQ(fails[0].reason, FailReason::kRetriesExhausted);
  EXPECT_TRUE(policy.idle());
}

TEST_F(DispatchTest, OverdueLeaseIsCancelledAndRetried) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "slow"));
  auto starts = only<StartLease>(policy.take_commands());
  ASSERT_EQ(starts.size(), 1u);
  now += milliseconds(10000 + 1000 + 1);  // default timeout + grace
  policy.worker_heard(now, "w1");
  policy.tick(now);
  auto commands = policy.take_commands();
  auto cancels = only<CancelLease>(commands);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].lease_id, starts[0].lease_id);
  auto retry = only<StartLease>(commands);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].attempt, 2);
}

TEST_F(DispatchTest, CancelOnlyStopsAnActionNobodyElseWaitsFor) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("a", 1, "shared"));
  policy.submit(now, submission("b", 1, "shared"));
  auto starts = only<StartLease>(policy.take_commands());
  policy.cancel(now, "a", 1);
  EXPECT_TRUE(only<CancelLease>(policy.take_commands()).empty());
  policy.cancel(now, "b", 1);
  auto cancels = only<CancelLease>(policy.take_commands());
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].lease_id, starts[0].lease_id);
  EXPECT_TRUE(policy.idle());
  EXPECT_EQ(policy.lease_result(now, "w1", starts[0].lease_id, payload("late")),
            ResultDisposition::kUnknownLease);
}

TEST_F(DispatchTest, CancelOfAQueuedActionDequeuesIt) {
  policy.submit(now, submission("c", 1, "a"));
  policy.cancel(now, "c", 1);
  policy.worker_ready(now, "w1", 1, {});
  EXPECT_TRUE(policy.take_commands().empty());
  EXPECT_TRUE(policy.idle());
}

TEST_F(DispatchTest, ClientGoneCancelsItsRequests) {
  policy.submit(now, submission("c", 1, "a"));
  policy.submit(now, submission("c", 2, "b"));
  policy.client_gone(now, "c");
  EXPECT_TRUE(policy.idle());
  EXPECT_EQ(policy.stats().queued, 0u);
}

TEST_F(DispatchTest, NonRetryableWorkerErrorFailsAtOnce) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  auto starts = only<StartLease>(policy.take_commands());
  EXPECT_EQ(policy.lease_error(now, "w1", starts[0].lease_id, "input blob missing", false),
            ResultDisposition::kAccepted);
  auto fails = only<Fail>(policy.take_commands());
  ASSERT_EQ(fails.size(), 1u);
  EXPECT_EQ(fails[0].message, "input blob missing");
  EXPECT_EQ(policy.stats().busy_slots, 0u);
}

TEST_F(DispatchTest, DrainFailsQueuedWorkAndLetsLeasesFinish) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "running"));
  policy.submit(now, submission("c", 2, "queued"));
  auto starts = only<StartLease>(policy.take_commands());
  policy.drain(now);
  auto fails = only<Fail>(policy.take_commands());
  ASSERT_EQ(fails.size(), 1u);
  EXPECT_EQ(fails[0].request_id, 2u);
  EXPECT_FALSE(policy.idle());
  policy.submit(now, submission("c", 3, "late"));
  EXPECT_EQ(only<Fail>(policy.take_commands()).size(), 1u);
  EXPECT_EQ(policy.lease_result(now, "w1", starts[0].lease_id, payload("done")),
            ResultDisposition::kAccepted);
  EXPECT_EQ(only<Complete>(policy.take_commands()).size(), 1u);
  EXPECT_TRUE(policy.idle());
}

TEST_F(DispatchTest, ReconnectingWorkerLosesItsLeases) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  auto first = only<StartLease>(policy.take_commands());
  policy.worker_ready(now, "w1", 1, {});
  auto again = only<StartLease>(policy.take_commands());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].lease_id, first[0].lease_id);
  EXPECT_EQ(policy.lease_result(now, "w1", first[0].lease_id, payload("old")),
            ResultDisposition::kUnknownLease);
}

TEST_F(DispatchTest, LoadSpreadsAcrossWorkers) {
  for (int w = 0; w < 4; ++w) policy.worker_ready(now, "w" + std::to_string(w), 4, {});
  for (int i = 0; i < 4; ++i) policy.submit(now, submission("c", i, "a" + std::to_string(i)));
  std::map<WorkerId, int> per_worker;
  for (const auto& s : only<StartLease>(policy.take_commands())) per_worker[s.worker]++;
  EXPECT_EQ(per_worker.size(), 4u);
}

TEST_F(DispatchTest, DuplicateRequestIdIsIgnored) {
  policy.submit(now, submission("c", 1, "a"));
  policy.submit(now, submission("c", 1, "a"));
  policy.worker_ready(now, "w1", 1, {});
  auto starts = only<StartLease>(policy.take_commands());
  (void)policy.lease_result(now, "w1", starts[0].lease_id, payload("r"));
  EXPECT_EQ(only<Complete>(policy.take_commands()).size(), 1u);
}

}  // namespace
}  // namespace kiln::scheduler

namespace kiln::scheduler {
namespace {

// --- retries, quarantine and backups ----------------------------------------

class DispatchFaultTest : public ::testing::Test {
 protected:
  static DispatchPolicy::Options options() {
    DispatchPolicy::Options o;
    o.heartbeat_interval = milliseconds(1000);
    o.liveness = 1000;  // workers never go silent here
    o.max_attempts = 3;
    o.default_timeout = milliseconds(600000);
    o.quarantine_after = 3;
    o.quarantine = milliseconds(30000);
    o.backup_factor = 3.0;
    o.backup_min = milliseconds(10000);
    return o;
  }
  StartLease start_of(const std::vector<Command>& commands) {
    auto starts = only<StartLease>(commands);
    EXPECT_EQ(starts.size(), 1u);
    return starts.empty() ? StartLease{} : starts.front();
  }
  DispatchPolicy policy{options()};
  Millis now{0};
};

TEST_F(DispatchFaultTest, ARetryGoesToAWorkerTheActionHasNotFailedOn) {
  policy.worker_ready(now, "w1", 1, {});
  policy.worker_ready(now, "w2", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  const StartLease first = start_of(policy.take_commands());
  const WorkerId other = first.worker == "w1" ? "w2" : "w1";
  // The other worker is busy with b when a fails: a waits for it rather
  // than go back to the worker it failed on.
  policy.submit(now, submission("c", 2, "b"));
  const StartLease b = start_of(policy.take_commands());
  EXPECT_EQ(b.worker, other);
  policy.lease_error(now, first.worker, first.lease_id, "disk full", true);
  EXPECT_TRUE(only<StartLease>(policy.take_commands()).empty());
  policy.lease_result(now, other, b.lease_id, payload("B"));
  const StartLease retry = start_of(policy.take_commands());
  EXPECT_EQ(retry.worker, other);
  EXPECT_EQ(retry.action_digest, digest("a"));
  EXPECT_EQ(retry.attempt, 2);
}

TEST_F(DispatchFaultTest, WithOneWorkerTheRetryGoesBackToIt) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  const StartLease first = start_of(policy.take_commands());
  policy.lease_error(now, "w1", first.lease_id, "flaky", true);
  const StartLease retry = start_of(policy.take_commands());
  EXPECT_EQ(retry.worker, "w1");
  EXPECT_EQ(retry.attempt, 2);
}

TEST_F(DispatchFaultTest, AWorkerThatKeepsFailingIsQuarantinedForAWhile) {
  policy.worker_ready(now, "bad", 3, {});
  std::vector<StartLease> leases;
  for (int i = 0; i < 3; ++i) {
    policy.submit(now, submission("c", 10 + i, "job" + std::to_string(i)));
    leases.push_back(start_of(policy.take_commands()));
  }
  // Three failures in a row. The first two retries go back to it (no other
  // worker); after the third it is quarantined and the retry waits.
  for (int i = 0; i < 3; ++i) {
    policy.lease_error(now, "bad", leases[i].lease_id, "No space left on device", true);
    const auto retries = only<StartLease>(policy.take_commands());
    EXPECT_EQ(retries.size(), i < 2 ? 1u : 0u) << i;
  }
  EXPECT_EQ(policy.stats().quarantined, 1u);
  EXPECT_EQ(policy.stats().queued, 1u);
  // A healthy worker arriving gets the work; the quarantined one nothing.
  policy.worker_ready(now, "good", 4, {});
  const StartLease moved = start_of(policy.take_commands());
  EXPECT_EQ(moved.worker, "good");
  EXPECT_EQ(moved.action_digest, digest("job2"));
  policy.submit(now, submission("c", 20, "later"));
  EXPECT_EQ(start_of(policy.take_commands()).worker, "good");
  // After the quarantine it takes leases again: here, the backup of
  // "later", which has run on good for 30 s (job2 failed on bad before, and
  // good could run it: its backup does not go back to bad).
  now += milliseconds(30001);
  policy.tick(now);
  EXPECT_EQ(policy.stats().quarantined, 0u);
  const auto starts = only<StartLease>(policy.take_commands());
  bool later_on_bad = false;
  for (const StartLease& s : starts) {
    EXPECT_FALSE(s.worker == "bad" && s.action_digest == digest("job2"));
    later_on_bad |= s.worker == "bad" && s.action_digest == digest("later");
  }
  EXPECT_TRUE(later_on_bad);
}

TEST_F(DispatchFaultTest, AFreeWorkerBacksUpALeaseThatRunsTooLong) {
  policy.worker_ready(now, "slow", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  const StartLease original = start_of(policy.take_commands());
  ASSERT_EQ(original.worker, "slow");
  policy.worker_ready(now, "fast", 1, {});
  // Recent leases take 1 s: the threshold is max(10 s, 3 x 1 s).
  for (int i = 0; i < 5; ++i) {
    policy.submit(now, submission("c", 100 + i, "quick" + std::to_string(i)));
    const StartLease q = start_of(policy.take_commands());
    ASSERT_EQ(q.worker, "fast");
    now += milliseconds(1000);
    policy.lease_result(now, "fast", q.lease_id, payload("Q"));
    (void)policy.take_commands();
  }
  policy.tick(now);  // a has run 5 s: no backup yet
  EXPECT_TRUE(only<StartLease>(policy.take_commands()).empty());
  now = milliseconds(10001);
  policy.tick(now);
  const StartLease backup = start_of(policy.take_commands());
  EXPECT_EQ(backup.worker, "fast");
  EXPECT_EQ(backup.action_digest, digest("a"));
  EXPECT_EQ(policy.stats().backups, 1u);
  // Only one backup per action.
  now += milliseconds(20000);
  policy.tick(now);
  EXPECT_TRUE(only<StartLease>(policy.take_commands()).empty());
  // The backup's result answers the client and stops the original.
  policy.lease_result(now, "fast", backup.lease_id, payload("A"));
  const auto commands = policy.take_commands();
  const auto done = only<Complete>(commands);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(*done[0].result, "A");
  const auto cancels = only<CancelLease>(commands);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].worker, "slow");
  EXPECT_EQ(cancels[0].lease_id, original.lease_id);
  EXPECT_EQ(policy.stats().backups_won, 1u);
  EXPECT_TRUE(policy.idle());
  // The original's late result is for a lease nobody holds.
  EXPECT_EQ(policy.lease_result(now, "slow", original.lease_id, payload("late")),
            ResultDisposition::kUnknownLease);
}

TEST_F(DispatchFaultTest, NoBackupWhileQueuedWorkCanUseTheFreeWorker) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "long"));
  (void)policy.take_commands();
  policy.submit(now, submission("c", 2, "queued"));
  EXPECT_TRUE(only<StartLease>(policy.take_commands()).empty());
  now += milliseconds(60000);
  policy.tick(now);
  EXPECT_TRUE(only<StartLease>(policy.take_commands()).empty());
  EXPECT_EQ(policy.stats().backups, 0u);
}

TEST_F(DispatchFaultTest, AFailedBackupLeavesTheOriginalRunning) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  const StartLease original = start_of(policy.take_commands());
  policy.worker_ready(now, "w2", 1, {});
  now += milliseconds(10001);
  policy.tick(now);
  const StartLease backup = start_of(policy.take_commands());
  ASSERT_NE(backup.worker, original.worker);
  policy.lease_error(now, backup.worker, backup.lease_id, "broke", true);
  const auto after = policy.take_commands();
  EXPECT_TRUE(only<StartLease>(after).empty());
  EXPECT_TRUE(only<Fail>(after).empty());
  EXPECT_EQ(policy.stats().running, 1u);
  policy.lease_result(now, original.worker, original.lease_id, payload("A"));
  EXPECT_EQ(only<Complete>(policy.take_commands()).size(), 1u);
}

TEST_F(DispatchFaultTest, CancellingTheLastWaiterStopsBothLeases) {
  policy.worker_ready(now, "w1", 1, {});
  policy.submit(now, submission("c", 1, "a"));
  (void)policy.take_commands();
  policy.worker_ready(now, "w2", 1, {});
  now += milliseconds(10001);
  policy.tick(now);
  ASSERT_EQ(only<StartLease>(policy.take_commands()).size(), 1u);
  policy.cancel(now, "c", 1);
  EXPECT_EQ(only<CancelLease>(policy.take_commands()).size(), 2u);
  EXPECT_TRUE(policy.idle());
  EXPECT_EQ(policy.stats().busy_slots, 0u);
}

}  // namespace
}  // namespace kiln::scheduler
