// The grid backoff's window, its record and its text, with made-up times.
#include "client/launcher/grid_backoff.h"

#include <gtest/gtest.h>

namespace kiln::client::launcher {
namespace {

constexpr std::string_view kGrid = "tcp://10.0.0.1:7010";

TEST(GridBackoff, TheWindowStartsShortAndDoubles) {
  EXPECT_EQ(backoff_window(0).count(), 0);
  EXPECT_EQ(backoff_window(1).count(), 5);
  EXPECT_EQ(backoff_window(2).count(), 10);
  EXPECT_EQ(backoff_window(4).count(), 40);
  EXPECT_EQ(backoff_window(5).count(), 60);
  EXPECT_EQ(backoff_window(1000).count(), 60);
}

TEST(GridBackoff, ACompileInsideTheWindowSkipsTheGridAfterItTriesAgain) {
  const GridBackoff first = after_failure(std::nullopt, kGrid, 1000);
  EXPECT_EQ(first.failures, 1u);
  EXPECT_TRUE(backing_off(first, kGrid, 1000));
  EXPECT_TRUE(backing_off(first, kGrid, 1004));
  EXPECT_FALSE(backing_off(first, kGrid, 1005));
  EXPECT_FALSE(backing_off(first, "tcp://other:7010", 1001));
  // The clock went back: do not trust the record.
  EXPECT_FALSE(backing_off(first, kGrid, 999));
}

TEST(GridBackoff, FailuresInARowLengthenItAndAQuietSpellStartsOver) {
  GridBackoff b = after_failure(std::nullopt, kGrid, 1000);
  b = after_failure(b, kGrid, 1006);  // tried after the 5 s window, failed again
  EXPECT_EQ(b.failures, 2u);
  EXPECT_TRUE(backing_off(b, kGrid, 1015));
  b = after_failure(b, kGrid, 1017);
  EXPECT_EQ(b.failures, 3u);
  // Long after: a new first failure.
  b = after_failure(b, kGrid, 5000);
  EXPECT_EQ(b.failures, 1u);
  // Another scheduler's record does not count.
  EXPECT_EQ(after_failure(b, "tcp://other:7010", 5001).failures, 1u);
}

TEST(GridBackoff, TheRecordReadsBackAndGarbageIsNoBackoff) {
  const GridBackoff b{std::string(kGrid), 3, 1733561234};
  const auto back = parse_backoff(format_backoff(b) + "\n");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->scheduler, b.scheduler);
  EXPECT_EQ(back->failures, 3u);
  EXPECT_EQ(back->since, 1733561234);
  for (std::string_view bad : {"", "tcp://x:1", "x 1 tcp://a:1", "1 y tcp://a:1", "1 2 ", "1 2"}) {
    EXPECT_FALSE(parse_backoff(bad)) << bad;
  }
}

}  // namespace
}  // namespace kiln::client::launcher
