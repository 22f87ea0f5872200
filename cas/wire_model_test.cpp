// wire_model: values survive a trip through message structs, and readers
// refuse what the model's rules refuse.
#include "cas/wire_model.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "proto/wire.capnp.h"

namespace kiln::cas {
namespace {

constexpr auto kXxh = DigestFunction::kXxh3_128;
constexpr auto kSha = DigestFunction::kSha256;

ActionResult sample_result(DigestFunction fn) {
  ActionResult r;
  r.exit_code = 3;
  r.output_files = {{"a.o", digest_of(fn, "a"), false}, {"bin/tool", digest_of(fn, "t"), true}};
  r.output_directories = {{"gen", digest_of(fn, "tree")}};
  r.stdout_digest = digest_of(fn, "out");
  r.stderr_digest = digest_of(fn, "");
  r.metadata = {"w1", 1, 2, 3, 4, 5, 6, 7, 8, 9};
  return r;
}

TEST(WireModelTest, DigestFunctions) {
  for (auto fn : {kXxh, kSha}) {
    auto back = from_wire(to_wire(fn));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, fn);
  }
  EXPECT_FALSE(from_wire(static_cast<schema::DigestFunction>(9)).ok());
}

TEST(WireModelTest, DigestAndLists) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<schema::FindMissingRequest>();
  const std::vector<Digest> digests = {digest_of(kSha, "x"), digest_of(kSha, ""),
                                       digest_of(kSha, "y")};
  to_wire(digests, request.initDigests(3));
  auto back = from_wire(request.asReader().getDigests(), kSha);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, digests);
  // A 32-byte hash read as XXH3-128 is refused.
  auto wrong = from_wire(request.asReader().getDigests(), kXxh);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::kInvalidArgument);
}

TEST(WireModelTest, PropertiesMustBeSortedAndUnique) {
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<schema::WorkerHello>();
  const std::vector<Property> platform = {{"arch", "x86_64"}, {"os", ""}, {"os", "linux"}};
  to_wire(platform, hello.initPlatform(3));
  auto back = from_wire(hello.asReader().getPlatform());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, platform);

  to_wire({{"os", "linux"}, {"arch", "x86_64"}}, hello.initPlatform(2));
  EXPECT_FALSE(from_wire(hello.asReader().getPlatform()).ok());
  to_wire({{"os", "linux"}, {"os", "linux"}}, hello.initPlatform(2));
  EXPECT_FALSE(from_wire(hello.asReader().getPlatform()).ok());
}

TEST(WireModelTest, ActionRoundTripAndFunctionCheck) {
  Action a{digest_of(kXxh, "cmd"), digest_of(kXxh, "root"), 1500, true, "salt\0y"};
  capnp::MallocMessageBuilder message;
  auto lease = message.initRoot<schema::Lease>();
  to_wire(a, kXxh, lease.initAction());
  auto back = from_wire(lease.asReader().getAction(), kXxh);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, a);
  EXPECT_FALSE(from_wire(lease.asReader().getAction(), kSha).ok());
}

TEST(WireModelTest, ActionResultRoundTripAndRules) {
  for (auto fn : {kXxh, kSha}) {
    const ActionResult r = sample_result(fn);
    capnp::MallocMessageBuilder message;
    auto response = message.initRoot<schema::GetActionResultResponse>();
    to_wire(r, response.initResult());
    auto back = from_wire(response.asReader().getResult(), fn);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, r);
    // The canonical encoding is made by the same converter.
    auto encoded = encode_action_result(r, fn);
    ASSERT_TRUE(encoded.ok());
    auto decoded =
        decode_action_result(std::as_bytes(std::span(encoded->data(), encoded->size())), fn);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, r);
  }
  ActionResult unsorted = sample_result(kXxh);
  std::swap(unsorted.output_files[0], unsorted.output_files[1]);
  capnp::MallocMessageBuilder message;
  auto response = message.initRoot<schema::GetActionResultResponse>();
  to_wire(unsorted, response.initResult());
  EXPECT_FALSE(from_wire(response.asReader().getResult(), kXxh).ok());

  ActionResult escaping = sample_result(kXxh);
  escaping.output_files[0].path = "../etc/passwd";
  to_wire(escaping, response.initResult());
  EXPECT_FALSE(from_wire(response.asReader().getResult(), kXxh).ok());
  EXPECT_FALSE(check_action_result(escaping, kXxh).ok());
  EXPECT_TRUE(check_action_result(sample_result(kXxh), kXxh).ok());
}

}  // namespace
}  // namespace kiln::cas
