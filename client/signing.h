// Signed provenance: DSSE envelopes (github.com/secure-systems-lab/dsse,
// protocol v1) with Ed25519 signatures (libsodium), and the text of the key
// files `kiln keygen --signing` writes.
//
// DSSE signs not the payload but its pre-authentication encoding (PAE):
//   "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
// where LEN is the byte length in ASCII decimal and SP one space, so a
// signature over one payload type can never be replayed as another. The
// envelope is JSON:
//   {"payloadType": TYPE, "payload": base64(BODY),
//    "signatures": [{"keyid": KEYID, "sig": base64(ed25519(PAE))}]}
// keyid is a hint, not trusted: the lowercase hex SHA-256 of the 32-byte
// public key. A verifier with the public key checks every signature and
// needs one to verify.
//
// Key files (text; `#` lines and blank lines ignored, each key once):
//   NAME.sign.key (mode 0600)                 NAME.sign.pub
//     # kiln Ed25519 signing key: COMMENT       # kiln Ed25519 public key: COMMENT
//     ed25519-public = <base64, 32 bytes>       ed25519-public = <base64, 32 bytes>
//     ed25519-seed = <base64, 32 bytes>
// The secret is the 32-byte seed the key pair is derived from; a secret
// file whose public key does not match its seed is refused.
//
// Pure: text and bytes in, values out (libsodium computes, it reads no
// files here). Making a seed and reading files is signing_files.h's.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kiln::client {

inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

using Ed25519Seed = std::array<std::uint8_t, 32>;
using Ed25519PublicKey = std::array<std::uint8_t, 32>;

struct SigningKey {
  Ed25519PublicKey public_key{};
  Ed25519Seed seed{};  // all zero for a public key alone
  bool has_secret = false;
};

// The key pair `seed` derives (crypto_sign_seed_keypair).
SigningKey signing_key_from_seed(const Ed25519Seed& seed);

// Lowercase hex SHA-256 of the public key: the envelope's keyid.
std::string key_id(const Ed25519PublicKey& public_key);

// The key files' text. `comment` goes on the first line (newlines dropped).
std::string format_signing_secret_file(const SigningKey& key, std::string_view comment);
std::string format_signing_public_file(const Ed25519PublicKey& key, std::string_view comment);
// Either file: kInvalidArgument naming `file_name` (and the line) when it
// is not one, when a value is not base64 of 32 bytes, or when a secret
// file's public key is not its seed's.
Result<SigningKey> parse_signing_key_file(std::string_view text, std::string_view file_name);

// Standard base64 with padding; decoding also takes the URL-safe alphabet
// and missing padding (DSSE allows both). nullopt-like: kInvalidArgument.
std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

// DSSE's pre-authentication encoding of (`type`, `body`).
std::string dsse_pae(std::string_view type, std::string_view body);

struct DsseSignature {
  std::string keyid;
  std::string sig;  // raw signature bytes (64 for Ed25519)
};

struct DsseEnvelope {
  std::string payload_type;
  std::string payload;  // raw bytes
  std::vector<DsseSignature> signatures;
};

// Signs `payload` of `payload_type` with `key` (which must hold a secret).
DsseEnvelope dsse_sign(std::string_view payload_type, std::string_view payload,
                       const SigningKey& key);

// The envelope as JSON, and back (kInvalidArgument: not an envelope, bad
// base64, a signature of the wrong length).
std::string encode_envelope(const DsseEnvelope& envelope);
Result<DsseEnvelope> decode_envelope(std::string_view json_text);

// OK when a signature of `envelope` verifies under `key`; otherwise
// kPermissionDenied saying why (no signatures, none by this key, or a
// signature that does not verify: the envelope was altered or signed by
// another key).
Status dsse_verify(const DsseEnvelope& envelope, const Ed25519PublicKey& key);

}  // namespace kiln::client
