// Unit tests for result_codec: the results cache's document round-trips,
// and anything else decodes to nullopt.
#include "client/testing/result_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "client/testing/report_test_util.h"

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

using namespace test_samples;

// ---- encode_test_result / decode_test_result ----

// A result with every field away from its default.
TestResult full_result() {
  TestResult r = make("Nums/P", "Even/1", Outcome::kCrashed, 1234ms);
  r.message = "crashed (signal 11)\n\"quoted\" \\ \t";
  r.output = "line 1\nline 2\r\n\x01 binary-ish";
  r.attempts = 3;
  r.signal = 11;
  r.exit_code = 134;
  r.timeout = 30s;
  return r;
}

TEST(TestResultCodec, RoundTripsEveryFieldButCached) {
  const TestResult r = full_result();
  const auto back = decode_test_result(encode_test_result(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, "Nums/P.Even/1");
  EXPECT_EQ(back->suite, "Nums/P");
  EXPECT_EQ(back->name, "Even/1");
  EXPECT_EQ(back->outcome, Outcome::kCrashed);
  EXPECT_EQ(back->time, 1234ms);
  EXPECT_EQ(back->message, r.message);
  EXPECT_EQ(back->output, r.output);
  EXPECT_EQ(back->attempts, 3);
  EXPECT_EQ(back->signal, 11);
  EXPECT_EQ(back->exit_code, 134);
  EXPECT_EQ(back->timeout, 30s);
  EXPECT_FALSE(back->cached);
  EXPECT_EQ(*back, r);
}

TEST(TestResultCodec, RoundTripsEveryOutcomeAndTheDefaults) {
  for (Outcome o : {Outcome::kPassed, Outcome::kFailed, Outcome::kSkipped, Outcome::kFlaky,
                    Outcome::kCrashed, Outcome::kTimedOut}) {
    const TestResult r = make("S", "t", o);
    const auto back = decode_test_result(encode_test_result(r));
    ASSERT_TRUE(back.has_value()) << to_string(o);
    EXPECT_EQ(*back, r) << to_string(o);
  }
  TestResult empty_strings;
  empty_strings.id = "S.t";  // suite, name, message and output left empty
  const auto back = decode_test_result(encode_test_result(empty_strings));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, empty_strings);
}

TEST(TestResultCodec, CachedIsNotEncodedAndDecodesFalse) {
  TestResult r = full_result();
  r.cached = true;
  const std::string json = encode_test_result(r);
  EXPECT_FALSE(nlohmann::json::parse(json).contains("cached")) << json;
  r.cached = false;
  EXPECT_EQ(json, encode_test_result(r)) << "cached does not change the encoding";
  const auto back = decode_test_result(json);
  ASSERT_TRUE(back.has_value());
  EXPECT_FALSE(back->cached);

  // A "cached" someone else wrote is not read either.
  auto doc = nlohmann::json::parse(json);
  doc["cached"] = true;
  const auto other = decode_test_result(doc.dump());
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->cached);
}

TEST(TestResultCodec, MalformedJsonIsNullopt) {
  const std::string good = encode_test_result(full_result());
  ASSERT_TRUE(decode_test_result(good).has_value());
  for (const std::string& bad :
       {std::string(), std::string("null"), std::string("[]"), std::string("42"),
        std::string("\"text\""), std::string("{}"), std::string("not json"), good + "}",
        std::string("{") + good, std::string(good).replace(good.find(':'), 1, "="),
        std::string(100000, '[') + std::string(100000, ']')}) {
    EXPECT_FALSE(decode_test_result(bad).has_value()) << bad.substr(0, 200);
  }
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decode_test_result(std::string_view(good).substr(0, n)).has_value()) << n;
  }
}

TEST(TestResultCodec, MissingFieldsAreNullopt) {
  const auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  for (const auto& [key, value] : doc.items()) {
    auto without = doc;
    without.erase(key);
    EXPECT_FALSE(decode_test_result(without.dump()).has_value()) << "without " << key;
  }
}

TEST(TestResultCodec, WrongTypesAreNullopt) {
  const auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  const std::vector<nlohmann::json> wrong_for_string = {
      nullptr, 1, 1.5, true, nlohmann::json::array({"x"}), nlohmann::json::object()};
  const std::vector<nlohmann::json> wrong_for_number = {
      nullptr, "1", 1.5, -0.5, true, nlohmann::json::array({1}), nlohmann::json::object()};
  for (const char* key : {"id", "suite", "name", "outcome", "message", "output"}) {
    for (const auto& value : wrong_for_string) {
      auto bad = doc;
      bad[key] = value;
      EXPECT_FALSE(decode_test_result(bad.dump()).has_value()) << key << " = " << value.dump();
    }
  }
  for (const char* key : {"time_ms", "attempts", "signal", "exit_code", "timeout_ms"}) {
    for (const auto& value : wrong_for_number) {
      auto bad = doc;
      bad[key] = value;
      EXPECT_FALSE(decode_test_result(bad.dump()).has_value()) << key << " = " << value.dump();
    }
  }
}

TEST(TestResultCodec, UnknownOutcomeIsNullopt) {
  auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  for (const char* outcome :
       {"", "PASSED", "Passed", "pass", "timedout", "timed out", "error", "passed ", "kPassed"}) {
    doc["outcome"] = outcome;
    EXPECT_FALSE(decode_test_result(doc.dump()).has_value()) << '"' << outcome << '"';
  }
}

TEST(TestResultCodec, OutOfRangeNumbersAreNullopt) {
  const auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  const std::int64_t day_ms = std::int64_t{24} * 3600 * 1000;
  const std::vector<std::pair<const char*, nlohmann::json>> bad = {
      {"time_ms", -1},
      {"time_ms", day_ms * 365},
      {"time_ms", std::numeric_limits<std::int64_t>::max()},
      {"time_ms", std::numeric_limits<std::int64_t>::min()},
      {"time_ms", std::numeric_limits<std::uint64_t>::max()},
      {"timeout_ms", -1},
      {"timeout_ms", day_ms * 365},
      {"timeout_ms", std::numeric_limits<std::uint64_t>::max()},
      {"attempts", 0},
      {"attempts", -1},
      {"attempts", std::int64_t{1} << 31},  // does not fit an int
      {"attempts", (std::int64_t{1} << 32) + 1},
      {"attempts", std::numeric_limits<std::uint64_t>::max()},
      {"signal", -1},
      {"signal", std::int64_t{1} << 31},
      {"signal", (std::int64_t{1} << 32) + 11},
      {"signal", std::numeric_limits<std::uint64_t>::max()},
      {"exit_code", 256},
      {"exit_code", -1000},
      {"exit_code", std::int64_t{1} << 31},
      {"exit_code", (std::int64_t{1} << 32) + 1},
      {"exit_code", std::numeric_limits<std::int64_t>::min()},
  };
  for (const auto& [key, value] : bad) {
    auto changed = doc;
    changed[key] = value;
    EXPECT_FALSE(decode_test_result(changed.dump()).has_value()) << key << " = " << value.dump();
  }
  // Numbers too large for any integer type are read as floating point.
  std::string huge = doc.dump();
  huge.replace(huge.find("\"time_ms\":1234"), 14, "\"time_ms\":1e300");
  EXPECT_FALSE(decode_test_result(huge).has_value()) << huge;
}

// An unsigned JSON integer >= 2^63 must not wrap: 2^64 - 1 read as int64
// would be -1, inside exit_code's accepted range.
TEST(TestResultCodec, HugeUnsignedExitCodeIsNullopt) {
  auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  doc["exit_code"] = std::numeric_limits<std::uint64_t>::max();
  const auto r = decode_test_result(doc.dump());
  EXPECT_FALSE(r.has_value()) << "decoded exit_code " << r->exit_code;
}

TEST(TestResultCodec, OversizedInputIsNullopt) {
  TestResult r = full_result();
  r.output.assign(kMaxReportBytes, 'x');
  EXPECT_FALSE(decode_test_result(encode_test_result(r)).has_value());
}

}  // namespace
}  // namespace kiln::client::testing
