// The KILN_HANDOFF record: what kiln-grid accepts, and what it refuses.
#include "client/launcher/handoff.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::client::launcher {
namespace {

const std::vector<std::string> kArgv = {"kiln", "g++", "-O2", "-c", "a.cc", "-o", "a.o"};

Handoff sample() {
  return Handoff{
      .compiler = "/usr/bin/g++",
      .identity = cas::digest_of(cas::DigestFunction::kXxh3_128, "identity"),
      .manifest_key = cas::digest_of(cas::DigestFunction::kXxh3_128, "key"),
      .direct = true,
      .invocation = "ci-42",
      .started_us = 1765100000123456,
  };
}

TEST(Handoff, RoundTrips) {
  const std::string record = encode_handoff(sample(), 4242, kArgv);
  EXPECT_EQ(record.rfind("v2;pid=4242;argv=", 0), 0u) << record;
  auto decoded = decode_handoff(record, 4242, kArgv);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(*decoded, sample());

  Handoff none = sample();
  none.invocation = "";
  auto decoded_none = decode_handoff(encode_handoff(none, 4242, kArgv), 4242, kArgv);
  ASSERT_TRUE(decoded_none.ok()) << decoded_none.error().message;
  EXPECT_EQ(*decoded_none, none);

  Handoff other = sample();
  other.compiler = "/opt/my;odd%dir/bin/g++\tx";
  other.direct = false;
  other.manifest_key = cas::digest_of(cas::DigestFunction::kSha256, "key");
  const std::string odd = encode_handoff(other, 1, kArgv);
  EXPECT_EQ(odd.find('\t'), std::string::npos);
  EXPECT_NE(odd.find("compiler=/opt/my%3Bodd%25dir/bin/g++%09x;"), std::string::npos) << odd;
  auto back = decode_handoff(odd, 1, kArgv);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, other);
}

TEST(Handoff, OnlyForTheProcessAndCommandLineThatMadeIt) {
  const std::string record = encode_handoff(sample(), 4242, kArgv);
  // A child that inherited the variable has another pid.
  EXPECT_FALSE(decode_handoff(record, 4243, kArgv).ok());
  std::vector<std::string> argv = kArgv;
  argv.back() = "b.o";
  EXPECT_FALSE(decode_handoff(record, 4242, argv).ok());
  // Argument boundaries count.
  EXPECT_FALSE(decode_handoff(encode_handoff(sample(), 1, {{"a b", "c"}}), 1, {{"a", "b c"}}).ok());
}

TEST(Handoff, MalformedRecordsAreRefused) {
  const std::string good = encode_handoff(sample(), 7, kArgv);
  ASSERT_TRUE(decode_handoff(good, 7, kArgv).ok());
  const auto refused = [&](const std::string& text) {
    return !decode_handoff(text, 7, kArgv).ok();
  };
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("v3" + good.substr(2)));
  EXPECT_TRUE(refused("v1" + good.substr(2)));  // kiln and kiln-grid of another release
  EXPECT_TRUE(refused(good + ";extra=1"));
  EXPECT_TRUE(refused(good.substr(0, good.rfind(';'))));  // no start field
  std::string bad_direct = good;
  bad_direct.replace(bad_direct.find(";direct=1"), 9, ";direct=2");
  EXPECT_TRUE(refused(bad_direct));
  // Fields out of order.
  std::string swapped = good;
  const auto at = swapped.find(";identity=");
  const auto end = swapped.find(";manifest=");
  const std::string identity = swapped.substr(at, end - at);
  swapped.erase(at, identity.size());
  swapped.insert(swapped.find(";direct="), identity);
  EXPECT_TRUE(refused(swapped));
  // A relative compiler, a bad escape, a raw separator, a bad digest.
  const auto with_compiler = [&](const std::string& value) {
    const auto from = good.find(";compiler=") + 10;
    std::string text = good;
    text.replace(from, text.find(';', from) - from, value);
    return text;
  };
  EXPECT_FALSE(refused(with_compiler("/usr/bin/g++")));
  EXPECT_TRUE(refused(with_compiler("g++")));
  EXPECT_TRUE(refused(with_compiler("")));
  EXPECT_TRUE(refused(with_compiler("/usr/bin/g%2B%2B")));  // '+' needs no escape
  EXPECT_TRUE(refused(with_compiler("/usr/bin/g++%3")));
  EXPECT_TRUE(refused(with_compiler("/usr/bin/g++\n")));
  std::string bad_identity = good;
  bad_identity.replace(bad_identity.find(";identity=") + 10, 4, "zzzz");
  EXPECT_TRUE(refused(bad_identity));
  // The identity is XXH3-128 (what workers advertise), whatever the store's.
  Handoff sha = sample();
  sha.identity = cas::digest_of(cas::DigestFunction::kSha256, "identity");
  EXPECT_FALSE(decode_handoff(encode_handoff(sha, 7, kArgv), 7, kArgv).ok());
  EXPECT_TRUE(refused("v2;pid=x7" + good.substr(good.find(";argv="))));
  // The invocation is a valid id (or none), the start a count of µs.
  const auto with_tail = [&](const std::string& tail) {
    return good.substr(0, good.find(";invocation=")) + tail;
  };
  EXPECT_FALSE(refused(with_tail(";invocation=ci-42;start=17")));
  EXPECT_TRUE(refused(with_tail(";invocation=..;start=17")));
  EXPECT_TRUE(refused(with_tail(";invocation=a%2Fb;start=17")));
  EXPECT_TRUE(refused(with_tail(";invocation=ci-42;start=-1")));
  EXPECT_TRUE(refused(with_tail(";invocation=ci-42;start=1x")));
  EXPECT_TRUE(refused(with_tail(";invocation=ci-42")));
}

}  // namespace
}  // namespace kiln::client::launcher
