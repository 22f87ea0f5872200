#include "client/signing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <span>

#include "base/files.h"
#include "client/signing_files.h"
#include "tests/support/temp_dir.h"

namespace kiln::client {
namespace {

Ed25519Seed seed_of(std::string_view hex) {
  Ed25519Seed seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) {
    seed[i] = static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  }
  return seed;
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// RFC 8032, 7.1, TEST 1.
SigningKey rfc8032_key() {
  return signing_key_from_seed(
      seed_of("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
}

TEST(Signing, SeedGivesTheRfc8032PublicKey) {
  EXPECT_EQ(hex(rfc8032_key().public_key),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
}

TEST(Signing, PaeMatchesTheDsseSpecExample) {
  // DSSE protocol.md's example, counted by hand: the type is 29 bytes,
  // the body 11.
  EXPECT_EQ(dsse_pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(dsse_pae("", ""), "DSSEv1 0  0 ");
  // Lengths are bytes, not characters.
  EXPECT_EQ(dsse_pae("t", "\xc3\xa9"), "DSSEv1 1 t 2 \xc3\xa9");
}

TEST(Signing, Base64RoundTripsAndTakesUrlSafeUnpadded) {
  EXPECT_EQ(base64_encode("hello world"), "aGVsbG8gd29ybGQ=");
  EXPECT_EQ(*base64_decode("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(*base64_decode("aGVsbG8gd29ybGQ"), "hello world");
  EXPECT_EQ(*base64_decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(base64_decode("not base64!").ok());
}

TEST(Signing, SignedEnvelopeVerifiesAndRoundTripsThroughJson) {
  const SigningKey key = rfc8032_key();
  const DsseEnvelope signed_envelope = dsse_sign(kInTotoPayloadType, "{\"a\":1}", key);
  ASSERT_EQ(signed_envelope.signatures.size(), 1u);
  EXPECT_EQ(signed_envelope.signatures[0].keyid, key_id(key.public_key));
  EXPECT_EQ(signed_envelope.signatures[0].sig.size(), 64u);
  auto back = decode_envelope(encode_envelope(signed_envelope));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->payload, "{\"a\":1}");
  EXPECT_EQ(back->payload_type, kInTotoPayloadType);
  EXPECT_TRUE(dsse_verify(*back, key.public_key).ok());
}

TEST(Signing, TamperingIsDetected) {
  const SigningKey key = rfc8032_key();
  const DsseEnvelope good = dsse_sign(kInTotoPayloadType, "{\"a\":1}", key);

  DsseEnvelope payload = good;
  payload.payload[5] = '2';
  EXPECT_EQ(dsse_verify(payload, key.public_key).error().code, Errc::kPermissionDenied);

  DsseEnvelope type = good;
  type.payload_type = "application/json";
  EXPECT_FALSE(dsse_verify(type, key.public_key).ok());

  DsseEnvelope sig = good;
  sig.signatures[0].sig[0] ^= 1;
  EXPECT_FALSE(dsse_verify(sig, key.public_key).ok());

  DsseEnvelope none = good;
  none.signatures.clear();
  EXPECT_FALSE(dsse_verify(none, key.public_key).ok());

  const SigningKey other = signing_key_from_seed(Ed25519Seed{1});
  auto wrong = dsse_verify(good, other.public_key);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("another key"), std::string::npos);
  // A signature without the keyid hint is still checked.
  DsseEnvelope no_hint = good;
  no_hint.signatures[0].keyid.clear();
  EXPECT_TRUE(dsse_verify(no_hint, key.public_key).ok());
  EXPECT_FALSE(dsse_verify(no_hint, other.public_key).ok());
}

TEST(Signing, MalformedEnvelopesAreRefused) {
  EXPECT_FALSE(decode_envelope("not json").ok());
  EXPECT_FALSE(decode_envelope("{}").ok());
  EXPECT_FALSE(decode_envelope(R"({"payloadType":"t","payload":"!!","signatures":[]})").ok());
  EXPECT_FALSE(
      decode_envelope(R"({"payloadType":"t","payload":"","signatures":[{"sig":"%"}]})").ok());
}

TEST(Signing, KeyFilesRoundTripAndAreChecked) {
  const SigningKey key = rfc8032_key();
  auto secret = parse_signing_key_file(format_signing_secret_file(key, "ci\nsigner"), "k");
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  EXPECT_TRUE(secret->has_secret);
  EXPECT_EQ(secret->seed, key.seed);
  auto pub = parse_signing_key_file(format_signing_public_file(key.public_key, "ci"), "k.pub");
  ASSERT_TRUE(pub.ok());
  EXPECT_FALSE(pub->has_secret);
  EXPECT_EQ(pub->public_key, key.public_key);

  EXPECT_FALSE(parse_signing_key_file("", "empty").ok());
  EXPECT_FALSE(parse_signing_key_file("public = abc\n", "curve").ok());
  EXPECT_FALSE(parse_signing_key_file("ed25519-public = aGVsbG8=\n", "short").ok());
  // A seed that is not the public key's.
  std::string mixed = format_signing_public_file(key.public_key, "x") +
                      "ed25519-seed = " + base64_encode(std::string(32, '\1')) + "\n";
  auto refused = parse_signing_key_file(mixed, "mixed");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("mixed"), std::string::npos);
}

TEST(SigningFiles, WritesPrivateSecretAndRefusesReadableOnes) {
  test_support::TempDir dir;
  const std::string base = (dir.path() / "ci").string();
  const SigningKey key = generate_signing_key();
  ASSERT_TRUE(write_signing_key_files(base, key, "ci").ok());
  struct stat st {};
  ASSERT_EQ(::stat((base + ".sign.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = read_signing_secret_file(base + ".sign.key");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->public_key, key.public_key);
  EXPECT_EQ(*read_signing_public_file(base + ".sign.pub"), key.public_key);
  EXPECT_EQ(*read_signing_public_file(base + ".sign.key"), key.public_key);
  // Never overwritten.
  EXPECT_EQ(write_signing_key_files(base, key, "ci").error().code, Errc::kInvalidArgument);
  // The public file is not a secret one.
  EXPECT_EQ(read_signing_secret_file(base + ".sign.pub").error().code, Errc::kInvalidArgument);

  ::chmod((base + ".sign.key").c_str(), 0640);
  auto readable = read_signing_secret_file(base + ".sign.key");
  ASSERT_FALSE(readable.ok());
  EXPECT_EQ(readable.error().code, Errc::kInvalidArgument);
  EXPECT_NE(readable.error().message.find(base + ".sign.key"), std::string::npos);

  EXPECT_EQ(read_signing_secret_file(base + ".missing").error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace kiln::client
