// Key files and the authorized-keys list, as text.
#include "proto/keys.h"

#include <gtest/gtest.h>

namespace kiln::proto {
namespace {

const std::string kPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string kSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

TEST(Keys, Z85KeysAre40CharactersOfTheAlphabet) {
  EXPECT_TRUE(is_curve_key(kPublic));
  EXPECT_FALSE(is_curve_key(kPublic.substr(1)));
  EXPECT_FALSE(is_curve_key(kPublic + "x"));
  EXPECT_FALSE(is_curve_key(std::string(39, 'a') + " "));
  EXPECT_FALSE(is_curve_key(std::string(39, 'a') + "\""));
}

TEST(Keys, KeyFilesRoundTrip) {
  const CurveKeyPair keys{kPublic, kSecret};
  auto secret = parse_key_file(format_secret_key_file(keys, "ci runner\nsecond line"), "a.key");
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_EQ(secret->public_key, kPublic);
  EXPECT_EQ(secret->secret_key, kSecret);
  auto pub = parse_key_file(format_public_key_file(kPublic, "x"), "a.pub");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->public_key, kPublic);
  EXPECT_TRUE(pub->secret_key.empty());
}

TEST(Keys, MalformedKeyFilesNameTheLine) {
  const std::pair<std::string, std::string> bad[] = {
      {"public = " + kPublic + "\nnonsense\n",
       "a.key:2: expected 'public = KEY' or 'secret = KEY'"},
      {"public = " + kPublic + "\nprivate = " + kSecret + "\n", "a.key:2: unknown entry 'private'"},
      {"public = " + kPublic + "\npublic = " + kPublic + "\n", "a.key:2: public given twice"},
      {"# c\npublic = short\n", "a.key:2: public is not a 40-character Z85 key"},
      {"secret = " + kSecret + "\n", "a.key: no public key"},
  };
  for (const auto& [text, message] : bad) {
    auto parsed = parse_key_file(text, "a.key");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument);
    EXPECT_EQ(parsed.error().message, message);
  }
}

TEST(AuthorizedKeys, RolesKeysAndNames) {
  const std::string other = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
  const std::string third = "9X?p0#yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
  auto keys =
      parse_authorized_keys("# role key name\n\nworker " + kPublic + " build-07\n" + "client\t" +
                                other + "   ci runner 3\nreadonly " + third + "\n",
                            "auth");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ(keys->at(kPublic).role, Role::kWorker);
  EXPECT_EQ(keys->at(kPublic).name, "build-07");
  EXPECT_EQ(keys->at(other).role, Role::kClient);
  EXPECT_EQ(keys->at(other).name, "ci runner 3");
  EXPECT_EQ(keys->at(third).role, Role::kReadOnly);
  EXPECT_EQ(keys->at(third).name, third.substr(0, 8));
  auto again = parse_authorized_keys(format_authorized_keys(*keys), "auth");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 3u);
  EXPECT_EQ(again->at(other).name, "ci runner 3");
}

TEST(AuthorizedKeys, MistakesAreErrorsNotGuesses) {
  const std::pair<std::string, std::string> bad[] = {
      {"admin " + kPublic + "\n", "auth:1: unknown role 'admin'"},
      {"worker\n", "auth:1: '' is not a 40-character Z85 public key"},
      {"client " + kPublic.substr(2) + " x\n", "is not a 40-character Z85 public key"},
      {"worker " + kPublic + "\nclient " + kPublic + "\n",
       "auth:2: the key rq:rM>}U... is listed twice"},
  };
  for (const auto& [text, message] : bad) {
    auto parsed = parse_authorized_keys(text, "auth");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().message.find(message), std::string::npos) << parsed.error().message;
  }
  auto empty = parse_authorized_keys("# nobody yet\n", "auth");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
TEST(Endpoints, PlainTcpOnlyOnLoopback) {
  for (const char* ep : {"tcp://127.0.0.1:7010", "tcp://127.1.2.3:0", "tcp://localhost:1",
                         "tcp://[::1]:7010", "ipc:///tmp/x", "inproc://y"}) {
    EXPECT_TRUE(is_loopback_endpoint(ep)) << ep;
  }
  for (const char* ep : {"tcp://0.0.0.0:7010", "tcp://10.0.0.1:1", "tcp://*:7010",
                         "tcp://example.com:1", "tcp://localhost.evil.com:1", "ws://127.0.0.1:1"}) {
    EXPECT_FALSE(is_loopback_endpoint(ep)) << ep;
  }
}

}  // namespace kiln::proto
