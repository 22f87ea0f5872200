#include "client/invocation.h"

#include <gtest/gtest.h>

#include "client/config.h"

namespace kiln::client {
namespace {

TEST(InvocationId, TakesWhatCiSetsAndRefusesWhatIsNoFileName) {
  EXPECT_TRUE(check_invocation_id("gitlab-job-4711").ok());
  EXPECT_TRUE(check_invocation_id("a.b_c-D9").ok());
  EXPECT_FALSE(check_invocation_id("").ok());
  EXPECT_FALSE(check_invocation_id("..").ok());
  EXPECT_FALSE(check_invocation_id("../etc/passwd").ok());
  EXPECT_FALSE(check_invocation_id("a/b").ok());
  EXPECT_FALSE(check_invocation_id("with space").ok());
  EXPECT_FALSE(check_invocation_id(std::string(129, 'a')).ok());
  EXPECT_TRUE(check_invocation_id(std::string(128, 'a')).ok());
}

TEST(Labels, ParseInOrderAndFormatBack) {
  auto labels = parse_labels("ticket=BANK-123,commit=4f2a9c1,empty=");
  ASSERT_TRUE(labels.ok()) << labels.error().message;
  ASSERT_EQ(labels->size(), 3u);
  EXPECT_EQ((*labels)[0], (std::pair<std::string, std::string>{"ticket", "BANK-123"}));
  EXPECT_EQ((*labels)[2].second, "");
  EXPECT_EQ(format_labels(*labels), "ticket=BANK-123,commit=4f2a9c1,empty=");
  EXPECT_TRUE(parse_labels("")->empty());
}

TEST(Labels, BadLabelsSayWhichAndWhy) {
  EXPECT_NE(parse_labels("ticket").error().message.find("'ticket' is not NAME=VALUE"),
            std::string::npos);
  EXPECT_NE(parse_labels("Ticket=1").error().message.find("label name 'Ticket'"),
            std::string::npos);
  EXPECT_NE(parse_labels("a=1,a=2").error().message.find("given twice"), std::string::npos);
  EXPECT_FALSE(parse_labels("a=1,").ok());
  EXPECT_FALSE(parse_labels("a=\x01").ok());
  EXPECT_FALSE(parse_labels("a=" + std::string(257, 'x')).ok());
  std::string many;
  for (int i = 0; i < 17; ++i) many += (i ? ",l" : "l") + std::to_string(i) + "=v";
  EXPECT_NE(parse_labels(many).error().message.find("at most 16"), std::string::npos);
}

TEST(Anchor, TheOutermostDriverOfTheChainBelowTheUser) {
  // kiln <- sh <- ninja <- cmake <- bash (the user's) <- sshd
  const std::vector<AncestorProcess> chain = {
      {10, "sh", 1}, {9, "ninja", 2}, {8, "cmake", 3}, {7, "bash", 4}, {6, "sshd", 5}};
  EXPECT_EQ(find_anchor(chain), 2u);
  // Two makes run by one script are two invocations: the script's bash is
  // passed, but the script's own parent is no driver.
  const std::vector<AncestorProcess> by_hand = {{20, "bash", 1}, {19, "tmux: server", 2}};
  EXPECT_EQ(find_anchor(by_hand), std::nullopt);
  const std::vector<AncestorProcess> recursive = {
      {30, "sh", 1}, {29, "make", 2}, {28, "sh", 3}, {27, "make", 4}, {26, "systemd", 5}};
  EXPECT_EQ(find_anchor(recursive), 3u);
}

TEST(Anchor, TheChainIsDriversShellsAndWrappers) {
  // current_invocation stops reading /proc at the first process outside it.
  for (const char* name : {"make", "ninja", "ctest", "kiln-grid", "sh", "bash", "env", "nice"}) {
    EXPECT_TRUE(in_build_chain(name)) << name;
  }
  for (const char* name : {"sshd", "tmux: server", "systemd", "python3", ""}) {
    EXPECT_FALSE(in_build_chain(name)) << name;
  }
}

TEST(Anchor, TheIdDependsOnBootPidAndStartTime) {
  const AncestorProcess p{100, "make", 555};
  const std::string id = derive_invocation_id("boot-a", p);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_TRUE(check_invocation_id(id).ok());
  EXPECT_EQ(id, derive_invocation_id("boot-a", p));
  EXPECT_NE(id, derive_invocation_id("boot-b", p));
  EXPECT_NE(id, derive_invocation_id("boot-a", AncestorProcess{100, "make", 556}));
  EXPECT_NE(id, derive_invocation_id("boot-a", AncestorProcess{101, "make", 555}));
}

TEST(InvocationConfig, BadIdOrLabelsAreConfigurationErrors) {
  using Env = std::map<std::string, std::string>;
  auto bad_id = Config::load(Env{{"HOME", "/h"}, {"KILN_INVOCATION_ID", "a/b"}}, "", "f", {});
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.error().message.find("invocation_id: 'a/b'"), std::string::npos);
  EXPECT_NE(bad_id.error().message.find("KILN_INVOCATION_ID"), std::string::npos);
  auto bad_labels = Config::load(Env{{"HOME", "/h"}, {"KILN_LABELS", "x"}}, "", "f", {});
  ASSERT_FALSE(bad_labels.ok());
  EXPECT_NE(bad_labels.error().message.find("KILN_LABELS"), std::string::npos);
  auto good = Config::load(
      Env{{"HOME", "/h"}, {"KILN_INVOCATION_ID", "ci-1"}, {"KILN_LABELS", "ticket=B-1"}}, "", "f",
      {});
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->invocation_id(), "ci-1");
  ASSERT_EQ(good->labels().size(), 1u);
  EXPECT_EQ(good->keep_invocations(), 100u);
  EXPECT_FALSE(Config::load(Env{{"HOME", "/h"}, {"KILN_KEEP_INVOCATIONS", "0"}}, "", "f", {}).ok());
}

}  // namespace
}  // namespace kiln::client
