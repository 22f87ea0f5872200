// signing.h: DSSE over Ed25519 with libsodium, and the key files' text.
#include "client/signing.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "cas/digest.h"

namespace kiln::client {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kPublicField = "ed25519-public";
constexpr std::string_view kSeedField = "ed25519-seed";

// libsodium's functions are safe to call once sodium_init() has run (it
// picks the fastest implementations); it is idempotent and thread-safe.
void init_sodium() {
  if (sodium_init() < 0) std::abort();  // only fails when the CPU lacks what it needs
}

std::string bytes_string(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string one_line(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> decode_key_bytes(std::string_view text,
                                                     std::string_view where) {
  auto raw = base64_decode(text);
  if (!raw.ok() || raw->size() != N) {
    return make_error(Errc::kInvalidArgument,
                      std::string(where) + ": not base64 of " + std::to_string(N) + " bytes");
  }
  std::array<std::uint8_t, N> out{};
  std::copy(raw->begin(), raw->end(), reinterpret_cast<char*>(out.data()));
  return out;
}

}  // namespace

SigningKey signing_key_from_seed(const Ed25519Seed& seed) {
  init_sodium();
  SigningKey key;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> secret{};
  crypto_sign_seed_keypair(key.public_key.data(), secret.data(), seed.data());
  sodium_memzero(secret.data(), secret.size());
  key.seed = seed;
  key.has_secret = true;
  return key;
}

std::string key_id(const Ed25519PublicKey& public_key) {
  return cas::digest_of(cas::DigestFunction::kSha256, bytes_string(public_key)).hex();
}

std::string format_signing_secret_file(const SigningKey& key, std::string_view comment) {
  return "# kiln Ed25519 signing key: " + one_line(comment) + " (keep it secret)\n" +
         std::string(kPublicField) + " = " + base64_encode(bytes_string(key.public_key)) + "\n" +
         std::string(kSeedField) + " = " + base64_encode(bytes_string(key.seed)) + "\n";
}

std::string format_signing_public_file(const Ed25519PublicKey& key, std::string_view comment) {
  return "# kiln Ed25519 public key: " + one_line(comment) + "\n" + std::string(kPublicField) +
         " = " + base64_encode(bytes_string(key)) + "\n";
}

Result<SigningKey> parse_signing_key_file(std::string_view text, std::string_view file_name) {
  std::optional<Ed25519PublicKey> public_key;
  std::optional<Ed25519Seed> seed;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t nl = std::min(text.find('\n'), text.size());
    const std::string_view line = trim(text.substr(0, nl));
    text.remove_prefix(std::min(nl + 1, text.size()));
    if (line.empty() || line.front() == '#') continue;
    const std::string where = std::string(file_name) + ":" + std::to_string(line_number);
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      return make_error(Errc::kInvalidArgument,
                        where + ": expected `" + std::string(kPublicField) +
                            " = KEY` (is this a kiln signing key? kiln keygen --signing)");
    }
    const std::string_view name = trim(line.substr(0, equals));
    const std::string_view value = trim(line.substr(equals + 1));
    if (name == kPublicField && !public_key) {
      auto bytes = decode_key_bytes<32>(value, where);
      if (!bytes.ok()) return bytes.error();
      public_key = *bytes;
    } else if (name == kSeedField && !seed) {
      auto bytes = decode_key_bytes<32>(value, where);
      if (!bytes.ok()) return bytes.error();
      seed = *bytes;
    } else {
      return make_error(Errc::kInvalidArgument,
                        where + ": unexpected or repeated '" + std::string(name) +
                            "' (a kiln signing key file has " + std::string(kPublicField) +
                            " and, when secret, " + std::string(kSeedField) + ")");
    }
  }
  if (!public_key) {
    return make_error(Errc::kInvalidArgument, std::string(file_name) +
                                                  " is not a kiln signing key file (no " +
                                                  std::string(kPublicField) + " line)");
  }
  if (!seed) return SigningKey{*public_key, {}, false};
  SigningKey key = signing_key_from_seed(*seed);
  if (key.public_key != *public_key) {
    return make_error(Errc::kInvalidArgument,
                      std::string(file_name) + ": its public key is not its seed's");
  }
  return key;
}

std::string base64_encode(std::string_view bytes) {
  init_sodium();
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  init_sodium();
  const bool url_safe = text.find_first_of("-_") != std::string_view::npos;
  const bool padded = !text.empty() && text.back() == '=';
  const int variant =
      url_safe
          ? (padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING)
          : (padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &length, &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return make_error(Errc::kInvalidArgument, "not base64");
  }
  out.resize(length);
  return out;
}

std::string dsse_pae(std::string_view type, std::string_view body) {
  std::string out = "DSSEv1 ";
  out += std::to_string(type.size());
  out += ' ';
  out += type;
  out += ' ';
  out += std::to_string(body.size());
  out += ' ';
  out += body;
  return out;
}

DsseEnvelope dsse_sign(std::string_view payload_type, std::string_view payload,
                       const SigningKey& key) {
  init_sodium();
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> public_key{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> secret{};
  crypto_sign_seed_keypair(public_key.data(), secret.data(), key.seed.data());
  const std::string pae = dsse_pae(payload_type, payload);
  std::array<std::uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(pae.data()),
                       pae.size(), secret.data());
  sodium_memzero(secret.data(), secret.size());
  return DsseEnvelope{std::string(payload_type),
                      std::string(payload),
                      {DsseSignature{key_id(key.public_key), bytes_string(sig)}}};
}

std::string encode_envelope(const DsseEnvelope& envelope) {
  ordered_json signatures = ordered_json::array();
  for (const auto& s : envelope.signatures) {
    signatures.push_back({{"keyid", s.keyid}, {"sig", base64_encode(s.sig)}});
  }
  const ordered_json j = {{"payloadType", envelope.payload_type},
                          {"payload", base64_encode(envelope.payload)},
                          {"signatures", signatures}};
  return j.dump(2) + "\n";
}

Result<DsseEnvelope> decode_envelope(std::string_view json_text) {
  try {
    const json j = json::parse(json_text);
    DsseEnvelope envelope;
    j.at("payloadType").get_to(envelope.payload_type);
    auto payload = base64_decode(j.at("payload").get<std::string>());
    if (!payload.ok()) {
      return make_error(Errc::kInvalidArgument, "not a DSSE envelope: its payload is not base64");
    }
    envelope.payload = std::move(payload).value();
    for (const auto& s : j.at("signatures")) {
      DsseSignature signature;
      if (s.contains("keyid")) s.at("keyid").get_to(signature.keyid);
      auto sig = base64_decode(s.at("sig").get<std::string>());
      if (!sig.ok()) {
        return make_error(Errc::kInvalidArgument, "not a DSSE envelope: a signature is not base64");
      }
      signature.sig = std::move(sig).value();
      envelope.signatures.push_back(std::move(signature));
    }
    return envelope;
  } catch (const json::exception& e) {
    return make_error(Errc::kInvalidArgument, std::string("not a DSSE envelope: ") + e.what());
  }
}

Status dsse_verify(const DsseEnvelope& envelope, const Ed25519PublicKey& key) {
  init_sodium();
  if (envelope.signatures.empty()) {
    return make_error(Errc::kPermissionDenied, "the envelope has no signatures");
  }
  const std::string pae = dsse_pae(envelope.payload_type, envelope.payload);
  const std::string id = key_id(key);
  bool by_this_key = false;
  for (const auto& s : envelope.signatures) {
    if (s.sig.size() != crypto_sign_BYTES) continue;
    if (!s.keyid.empty() && s.keyid != id) continue;
    by_this_key = true;
    if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(s.sig.data()),
                                    reinterpret_cast<const unsigned char*>(pae.data()), pae.size(),
                                    key.data()) == 0) {
      return {};
    }
  }
  if (!by_this_key) {
    return make_error(Errc::kPermissionDenied,
                      "no signature by key " + id.substr(0, 16) + "… (signed with another key)");
  }
  return make_error(Errc::kPermissionDenied,
                    "the signature does not verify: the envelope was altered after signing");
}

}  // namespace kiln::client
