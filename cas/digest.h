// Digests: the identity of every blob in kiln.
//
// A Digest is a hash of a blob's bytes plus the blob's size. Two functions
// exist: XXH3-128 (the default; fast, not collision-resistant against an
// attacker) and SHA-256 (OpenSSL; for stores that take blobs from untrusted
// clients). A store is created with one function and never mixes them.
//
// Text form: "<hex hash>/<size>", e.g. "2c4e...91/1024": 32 hex digits for
// XXH3-128, 64 for SHA-256. All digest code lives in this file and its .cpp.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kiln::cas {

// kXxh3_128 keeps the algorithm's own name (XXH3-128) against the naming rule.
enum class DigestFunction : std::uint8_t {
  kXxh3_128 = 0,  // NOLINT(readability-identifier-naming)
  kSha256 = 1,
};

// Hash length in bytes for `fn`: 16 or 32.
std::size_t hash_size(DigestFunction fn);
// "xxh3-128" / "sha256".
std::string_view to_string(DigestFunction fn);
// Inverse of to_string; also accepts "xxh3" and "sha-256".
std::optional<DigestFunction> parse_digest_function(std::string_view name);

struct Digest {
  // Only the first hash_size(function) bytes are meaningful; the rest are 0,
  // so comparison and hashing of the whole struct are well defined.
  std::array<std::uint8_t, 32> hash{};
  std::uint64_t size = 0;
  DigestFunction function = DigestFunction::kXxh3_128;

  std::span<const std::uint8_t> hash_bytes() const { return {hash.data(), hash_size(function)}; }
  std::string hex() const;        // hash only
  std::string to_string() const;  // "<hex>/<size>"

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Digest&) const = default;
  bool operator==(const Digest&) const = default;
};

// Parses the text form. The function is inferred from the hex length
// (32 -> XXH3-128, 64 -> SHA-256). Fails with kInvalidArgument on anything
// else: wrong length, non-hex digits, a missing or non-decimal size.
Result<Digest> parse_digest(std::string_view text);

// Builds a digest from raw hash bytes (e.g. from a wire message). Fails when
// the length does not match `fn`.
Result<Digest> digest_from_bytes(DigestFunction fn, std::span<const std::uint8_t> hash,
                                 std::uint64_t size);

// One-shot digest of a buffer.
Digest digest_of(DigestFunction fn, std::span<const std::byte> data);
Digest digest_of(DigestFunction fn, std::string_view data);

// Streaming digest, for files and chunked uploads.
class Hasher {
 public:
  explicit Hasher(DigestFunction fn);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(std::span<const std::byte> data);
  void update(std::string_view data);
  // Finishes the digest; the Hasher must not be used afterwards.
  Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct DigestHash {
  std::size_t operator()(const Digest& d) const noexcept;
};

}  // namespace kiln::cas
