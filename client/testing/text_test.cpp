// Unit tests for text: the shapes of kiln test's durations and messages.
#include "client/testing/text.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

TEST(SecondsText, TwoDecimalsUnderTenSecondsThenOne) {
  EXPECT_EQ(seconds_text(0ms), "0.00 s");
  EXPECT_EQ(seconds_text(1234ms), "1.23 s");
  EXPECT_EQ(seconds_text(9999ms), "10.00 s");
  EXPECT_EQ(seconds_text(10000ms), "10.0 s");
  EXPECT_EQ(seconds_text(123456ms), "123.5 s");
}

TEST(FirstLine, StopsAtTheNewlineAndCutsLongLines) {
  EXPECT_EQ(first_line("one\ntwo"), "one");
  EXPECT_EQ(first_line(""), "");
  EXPECT_EQ(first_line(std::string(300, 'x')), std::string(200, 'x') + "…");
}

TEST(OneLine, FoldsBlanksAndCuts) {
  EXPECT_EQ(one_line("a.cpp:3\n  Expected\tequality \r\n"), "a.cpp:3 Expected equality");
  EXPECT_EQ(one_line("  lead"), "lead");
  EXPECT_EQ(one_line("abcdef", 3), "abc…");
}

TEST(TailText, KeepsTheEndAndSaysHowMuchWasCut) {
  EXPECT_EQ(tail_text("short", 10), "short");
  EXPECT_EQ(tail_text("0123456789", 4), "[… 6 bytes cut]\n6789");
}

}  // namespace
}  // namespace kiln::client::testing
