#include "reapi/access.h"

#include <gtest/gtest.h>

namespace kiln::reapi {
namespace {

TEST(ReapiAccess, RolesAndMethods) {
  for (Role role : {Role::kReadOnly, Role::kClient, Role::kWriter}) {
    EXPECT_TRUE(may_call(role, Method::kGetCapabilities));
    EXPECT_TRUE(may_call(role, Method::kGetActionResult));
    EXPECT_TRUE(may_call(role, Method::kRead));
    EXPECT_TRUE(may_call(role, Method::kGetTree));
  }
  EXPECT_FALSE(may_call(Role::kReadOnly, Method::kBatchUpdateBlobs));
  EXPECT_FALSE(may_call(Role::kReadOnly, Method::kWrite));
  EXPECT_FALSE(may_call(Role::kReadOnly, Method::kExecute));
  EXPECT_TRUE(may_call(Role::kClient, Method::kExecute));
  EXPECT_TRUE(may_call(Role::kClient, Method::kWrite));
  // The action cache is written by the grid, and by writers only.
  EXPECT_FALSE(may_call(Role::kReadOnly, Method::kUpdateActionResult));
  EXPECT_FALSE(may_call(Role::kClient, Method::kUpdateActionResult));
  EXPECT_TRUE(may_call(Role::kWriter, Method::kUpdateActionResult));
}

TEST(ReapiAccess, TokenFile) {
  auto tokens = parse_tokens(
      "# who may do what\n"
      "readonly dashboards 0123456789abcdef\n"
      "\n"
      "client  ci   fedcba9876543210fedc   # CI's Bazel\n"
      "writer laptop-cache aaaaaaaaaaaaaaaaaaaa\n");
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  ASSERT_EQ(tokens->size(), 3u);
  EXPECT_EQ((*tokens)[1].role, Role::kClient);
  EXPECT_EQ((*tokens)[1].name, "ci");
  EXPECT_EQ((*tokens)[1].token, "fedcba9876543210fedc");
  const Token* found = find_token(*tokens, "aaaaaaaaaaaaaaaaaaaa");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->role, Role::kWriter);
  EXPECT_EQ(find_token(*tokens, "aaaaaaaaaaaaaaaaaaa"), nullptr);  // a prefix
  EXPECT_EQ(find_token(*tokens, "aaaaaaaaaaaaaaaaaaaaa"), nullptr);
  EXPECT_EQ(find_token(*tokens, ""), nullptr);
}

TEST(ReapiAccess, BadTokenFilesNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"admin root 0123456789abcdef0\n", "line 1: unknown role"},
      {"# c\nclient ci\n", "line 2: expected ROLE NAME TOKEN"},
      {"client ci short\n", "shorter than 16"},
      {"client a 0123456789abcdef\nwriter b 0123456789abcdef\n",
       "line 2: the token of b is given twice"},
  };
  for (const auto& [text, want] : cases) {
    auto tokens = parse_tokens(text);
    ASSERT_FALSE(tokens.ok()) << text;
    EXPECT_NE(tokens.error().message.find(want), std::string::npos) << tokens.error().message;
  }
}

TEST(ReapiAccess, BearerHeaders) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer   abc"), "abc");
  EXPECT_FALSE(bearer_token("Basic abc").has_value());
  EXPECT_FALSE(bearer_token("Bearer ").has_value());
  EXPECT_FALSE(bearer_token("abc").has_value());
}

}  // namespace
}  // namespace kiln::reapi
