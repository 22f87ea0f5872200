// PeerGuard and LogLimiter: bad-message counting, bans, bounds, rate limits.
#include "scheduler/peer_guard.h"

#include <gtest/gtest.h>

namespace kiln::scheduler {
namespace {

PeerGuard::Options small(int max_bad, std::size_t max_tracked = 100) {
  PeerGuard::Options o;
  o.max_bad = max_bad;
  o.window = Millis{1000};
  o.ban = Millis{5000};
  o.max_tracked = max_tracked;
  return o;
}

TEST(PeerGuard, BansOnTheMessageAfterTheLimit) {
  PeerGuard guard(small(3));
  EXPECT_FALSE(guard.record_bad("a", Millis{0}));
  EXPECT_FALSE(guard.record_bad("a", Millis{1}));
  EXPECT_FALSE(guard.record_bad("a", Millis{2}));
  EXPECT_FALSE(guard.banned("a", Millis{3}));
  EXPECT_TRUE(guard.record_bad("a", Millis{3}));
  EXPECT_TRUE(guard.banned("a", Millis{4}));
  EXPECT_FALSE(guard.banned("b", Millis{4}));
  // Further garbage while banned does not re-announce the ban.
  EXPECT_FALSE(guard.record_bad("a", Millis{5}));
  EXPECT_TRUE(guard.banned("a", Millis{5002}));
  EXPECT_FALSE(guard.banned("a", Millis{5003}));
}

TEST(PeerGuard, WindowResetsTheCount) {
  PeerGuard guard(small(2));
  EXPECT_FALSE(guard.record_bad("a", Millis{0}));
  EXPECT_FALSE(guard.record_bad("a", Millis{10}));
  EXPECT_FALSE(guard.record_bad("a", Millis{1000}));  // a new window
  EXPECT_FALSE(guard.record_bad("a", Millis{1001}));
  EXPECT_TRUE(guard.record_bad("a", Millis{1002}));
}

TEST(PeerGuard, AfterTheBanAPeerStartsAfresh) {
  PeerGuard guard(small(1));
  EXPECT_FALSE(guard.record_bad("a", Millis{0}));
  EXPECT_TRUE(guard.record_bad("a", Millis{1}));
  EXPECT_FALSE(guard.banned("a", Millis{5001}));
  EXPECT_FALSE(guard.record_bad("a", Millis{5001}));
  EXPECT_TRUE(guard.record_bad("a", Millis{5002}));
}

TEST(PeerGuard, PruneAndBound) {
  PeerGuard guard(small(1, 4));
  EXPECT_FALSE(guard.record_bad("banned", Millis{0}));
  EXPECT_TRUE(guard.record_bad("banned", Millis{0}));
  for (int i = 0; i < 100; ++i) (void)guard.record_bad("p" + std::to_string(i), Millis{10});
  EXPECT_LE(guard.tracked(), 4u);
  EXPECT_TRUE(guard.banned("banned", Millis{20}));  // bans survive the bound
  guard.prune(Millis{2000});
  EXPECT_EQ(guard.tracked(), 1u);  // only the ban is left
  guard.prune(Millis{6000});
  EXPECT_EQ(guard.tracked(), 0u);
}

TEST(LogLimiter, BurstThenSummary) {
  LogLimiter limiter(2, Millis{100});
  std::uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.allow(Millis{0}, suppressed));
  EXPECT_TRUE(limiter.allow(Millis{1}, suppressed));
  EXPECT_FALSE(limiter.allow(Millis{2}, suppressed));
  EXPECT_FALSE(limiter.allow(Millis{3}, suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_TRUE(limiter.allow(Millis{100}, suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_TRUE(limiter.allow(Millis{101}, suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace kiln::scheduler
