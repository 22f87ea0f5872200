// Liveness and Backoff with a hand-driven clock: no sockets, no sleeps.
#include "worker/liveness.h"

#include <gtest/gtest.h>

namespace kiln::worker {
namespace {

using namespace std::chrono_literals;
using TimePoint = Liveness::TimePoint;

TEST(Liveness, HeartbeatIsDueEveryInterval) {
  const TimePoint t0{};
  Liveness live(100ms, 3, t0);
  EXPECT_FALSE(live.heartbeat_due(t0 + 99ms));
  EXPECT_TRUE(live.heartbeat_due(t0 + 100ms));
  live.heartbeat_sent(t0 + 105ms);
  EXPECT_FALSE(live.heartbeat_due(t0 + 204ms));
  EXPECT_TRUE(live.heartbeat_due(t0 + 205ms));
}

TEST(Liveness, PeerIsDeadAfterLivenessSilentIntervals) {
  const TimePoint t0{};
  Liveness live(100ms, 3, t0);
  EXPECT_FALSE(live.heard_any());
  EXPECT_FALSE(live.peer_dead(t0 + 299ms));
  EXPECT_TRUE(live.peer_dead(t0 + 300ms));
}

TEST(Liveness, AnyMessageCountsAsLife) {
  const TimePoint t0{};
  Liveness live(100ms, 3, t0);
  live.heard(t0 + 250ms);
  EXPECT_TRUE(live.heard_any());
  EXPECT_FALSE(live.peer_dead(t0 + 500ms));
  EXPECT_TRUE(live.peer_dead(t0 + 550ms));
  // Our own heartbeats do not keep the peer alive.
  live.heartbeat_sent(t0 + 540ms);
  EXPECT_TRUE(live.peer_dead(t0 + 560ms));
}

TEST(Liveness, PollTimeoutIsBoundedByTheNextEvent) {
  const TimePoint t0{};
  Liveness live(100ms, 3, t0);
  EXPECT_EQ(live.poll_timeout(t0), 100ms);
  EXPECT_EQ(live.poll_timeout(t0 + 40ms), 60ms);
  EXPECT_EQ(live.poll_timeout(t0 + 150ms), 0ms);  // a heartbeat is overdue
  live.heartbeat_sent(t0 + 250ms);
  EXPECT_EQ(live.poll_timeout(t0 + 250ms), 50ms);  // the peer dies at 300 ms
  EXPECT_EQ(live.poll_timeout(t0 + 1s), 0ms);
}

TEST(Liveness, NeverWaitsLongerThanOneInterval) {
  const TimePoint t0{};
  Liveness live(100ms, 3, t0);
  live.heard(t0 + 10s);  // a clock jump
  EXPECT_LE(live.poll_timeout(t0), 100ms);
}

TEST(Backoff, DoublesUpToTheMaximumAndResets) {
  Backoff backoff(1000ms, 32000ms);
  EXPECT_EQ(backoff.next(), 1000ms);
  EXPECT_EQ(backoff.next(), 2000ms);
  EXPECT_EQ(backoff.next(), 4000ms);
  EXPECT_EQ(backoff.next(), 8000ms);
  EXPECT_EQ(backoff.next(), 16000ms);
  EXPECT_EQ(backoff.next(), 32000ms);
  EXPECT_EQ(backoff.next(), 32000ms);
  backoff.reset();
  EXPECT_EQ(backoff.next(), 1000ms);
}

TEST(Backoff, MaximumBelowInitialMeansInitial) {
  Backoff backoff(500ms, 100ms);
  EXPECT_EQ(backoff.next(), 500ms);
  EXPECT_EQ(backoff.next(), 500ms);
}

}  // namespace
}  // namespace kiln::worker
