// Digest computation and text form. XXH3-128 goes through libxxhash's
// runtime-dispatched entry points (AVX2/AVX-512 where the CPU has them), the
// same code path `xxhsum` uses; SHA-256 goes through OpenSSL's EVP API.
#include "cas/digest.h"

#include <openssl/evp.h>
#include <xxh_x86dispatch.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace kiln::cas {

std::size_t hash_size(DigestFunction fn) { return fn == DigestFunction::kSha256 ? 32 : 16; }

std::string_view to_string(DigestFunction fn) {
  return fn == DigestFunction::kSha256 ? "sha256" : "xxh3-128";
}

std::optional<DigestFunction> parse_digest_function(std::string_view name) {
  if (name == "xxh3-128" || name == "xxh3") return DigestFunction::kXxh3_128;
  if (name == "sha256" || name == "sha-256") return DigestFunction::kSha256;
  return std::nullopt;
}

std::string Digest::hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(hash_size(function) * 2);
  for (std::uint8_t b : hash_bytes()) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string Digest::to_string() const { return hex() + "/" + std::to_string(size); }

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Digest from_xxh128(XXH128_hash_t h, std::uint64_t size) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, h);  // big-endian, as xxhsum prints it
  Digest d;
  d.function = DigestFunction::kXxh3_128;
  d.size = size;
  std::memcpy(d.hash.data(), canonical.digest, sizeof canonical.digest);
  return d;
}

}  // namespace

Result<Digest> parse_digest(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return make_error(Errc::kInvalidArgument,
                      "digest '" + std::string(text) + "' has no '/<size>'");
  }
  const std::string_view hex = text.substr(0, slash);
  const std::string_view size_text = text.substr(slash + 1);
  DigestFunction fn;
  if (hex.size() == 32) {
    fn = DigestFunction::kXxh3_128;
  } else if (hex.size() == 64) {
    fn = DigestFunction::kSha256;
  } else {
    return make_error(
        Errc::kInvalidArgument,
        "digest '" + std::string(text) + "' must have 32 (xxh3-128) or 64 (sha256) hex digits");
  }
  Digest d;
  d.function = fn;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error(Errc::kInvalidArgument,
                        "digest '" + std::string(text) + "' has a non-hex digit");
    }
    d.hash[i / 2] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  if (size_text.empty() || size_text.size() > 20) {
    return make_error(Errc::kInvalidArgument, "digest '" + std::string(text) + "' has a bad size");
  }
  std::uint64_t size = 0;
  for (char c : size_text) {
    if (c < '0' || c > '9') {
      return make_error(Errc::kInvalidArgument,
                        "digest '" + std::string(text) + "' has a bad size");
    }
    const std::uint64_t next = size * 10 + static_cast<std::uint64_t>(c - '0');
    if (next / 10 != size) {
      return make_error(Errc::kInvalidArgument,
                        "digest '" + std::string(text) + "' size overflows");
    }
    size = next;
  }
  d.size = size;
  return d;
}

Result<Digest> digest_from_bytes(DigestFunction fn, std::span<const std::uint8_t> hash,
                                 std::uint64_t size) {
  if (hash.size() != hash_size(fn)) {
    return make_error(Errc::kInvalidArgument, "digest hash has " + std::to_string(hash.size()) +
                                                  " bytes, " + std::string(to_string(fn)) +
                                                  " needs " + std::to_string(hash_size(fn)));
  }
  Digest d;
  d.function = fn;
  d.size = size;
  std::memcpy(d.hash.data(), hash.data(), hash.size());
  return d;
}

struct Hasher::State {
  DigestFunction fn;
  std::uint64_t size = 0;
  XXH3_state_t* xxh = nullptr;
  EVP_MD_CTX* sha = nullptr;

  explicit State(DigestFunction f) : fn(f) {
    if (fn == DigestFunction::kXxh3_128) {
      xxh = XXH3_createState();
      if (xxh == nullptr || XXH3_128bits_reset(xxh) != XXH_OK) throw std::bad_alloc();
    } else {
      sha = EVP_MD_CTX_new();
      if (sha == nullptr || EVP_DigestInit_ex(sha, EVP_sha256(), nullptr) != 1)
        throw std::bad_alloc();
    }
  }
  ~State() {
    if (xxh != nullptr) XXH3_freeState(xxh);
    if (sha != nullptr) EVP_MD_CTX_free(sha);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

Hasher::Hasher(DigestFunction fn) : state_(std::make_unique<State>(fn)) {}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::span<const std::byte> data) {
  state_->size += data.size();
  if (state_->xxh != nullptr) {
    XXH3_128bits_update_dispatch(state_->xxh, data.data(), data.size());
  } else {
    EVP_DigestUpdate(state_->sha, data.data(), data.size());
  }
}

void Hasher::update(std::string_view data) {
  update(std::as_bytes(std::span(data.data(), data.size())));
}

Digest Hasher::finish() {
  if (state_->xxh != nullptr) return from_xxh128(XXH3_128bits_digest(state_->xxh), state_->size);
  Digest d;
  d.function = DigestFunction::kSha256;
  d.size = state_->size;
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->sha, d.hash.data(), &len);
  return d;
}

Digest digest_of(DigestFunction fn, std::span<const std::byte> data) {
  if (fn == DigestFunction::kXxh3_128) {
    return from_xxh128(XXH3_128bits_dispatch(data.data(), data.size()), data.size());
  }
  Digest d;
  d.function = DigestFunction::kSha256;
  d.size = data.size();
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), d.hash.data(), &len, EVP_sha256(), nullptr);
  return d;
}

Digest digest_of(DigestFunction fn, std::string_view data) {
  return digest_of(fn, std::as_bytes(std::span(data.data(), data.size())));
}

std::size_t DigestHash::operator()(const Digest& d) const noexcept {
  // The hash bytes are already uniformly distributed.
  std::size_t h;
  std::memcpy(&h, d.hash.data(), sizeof h);
  return h ^ d.size;
}

}  // namespace kiln::cas
