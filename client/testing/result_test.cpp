// Unit tests for result: the totals and the real-failure rule.
#include "client/testing/result.h"

#include <gtest/gtest.h>

#include <vector>

#include "client/testing/report_test_util.h"

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

using namespace test_samples;

TEST(Summary, OnlyRealFailuresCount) {
  std::vector<TestResult> v{make("S", "a", Outcome::kPassed), make("S", "b", Outcome::kFlaky),
                            make("S", "c", Outcome::kSkipped)};
  EXPECT_TRUE(summarize(v).ok());
  for (Outcome bad : {Outcome::kFailed, Outcome::kCrashed, Outcome::kTimedOut}) {
    v.push_back(make("S", "d", bad));
    EXPECT_FALSE(summarize(v).ok());
    EXPECT_TRUE(is_real_failure(bad));
    v.pop_back();
  }
  EXPECT_FALSE(is_real_failure(Outcome::kFlaky));
  EXPECT_TRUE(summarize({}).ok());
  EXPECT_EQ(to_string(Outcome::kTimedOut), "timed_out");
}

}  // namespace
}  // namespace kiln::client::testing
