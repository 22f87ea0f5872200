// TestOptions' derived values.
#include "client/testing/options.h"

#include <gtest/gtest.h>

namespace kiln::client::testing {
namespace {

TEST(PerTestTimeout, WholeMillisecondsAndNeverNone) {
  TestOptions opts;
  opts.timeout_s = 2.5;
  EXPECT_EQ(per_test_timeout(opts), std::chrono::milliseconds(2500));
  // 0 ms would mean "no limit" to the runner: a tiny limit is 1 ms.
  opts.timeout_s = 0.0001;
  EXPECT_EQ(per_test_timeout(opts), std::chrono::milliseconds(1));
}

}  // namespace
}  // namespace kiln::client::testing
