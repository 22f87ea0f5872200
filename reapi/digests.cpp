#include "reapi/digests.h"

#include <charconv>
#include <vector>

namespace kiln::reapi {
namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<cas::Digest> parse_parts(std::string_view hash, std::string_view size_text) {
  std::uint64_t size = 0;
  const auto* end = size_text.data() + size_text.size();
  const auto [ptr, ec] = std::from_chars(size_text.data(), end, size);
  if (size_text.empty() || ec != std::errc{} || ptr != end) {
    return make_error(Errc::kInvalidArgument,
                      "size '" + std::string(size_text) + "' is not a decimal number");
  }
  v2::Digest d;
  d.set_hash(std::string(hash));
  if (size > static_cast<std::uint64_t>(INT64_MAX)) {
    return make_error(Errc::kInvalidArgument, "size " + std::string(size_text) + " is too large");
  }
  d.set_size_bytes(static_cast<std::int64_t>(size));
  return from_proto(d);
}

std::vector<std::string_view> split(std::string_view name) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto slash = name.find('/');
    parts.push_back(name.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    name.remove_prefix(slash + 1);
  }
}

// Finds `kind` ("blobs"/"compressed-blobs", after `from`) and parses what
// follows it; `rest` says whether more parts may follow the size.
Result<Resource> parse_blob_part(const std::vector<std::string_view>& parts, std::size_t at,
                                 bool rest_allowed) {
  Resource r;
  std::size_t i = at;
  if (parts[i] == "compressed-blobs") {
    if (i + 1 >= parts.size() || parts[i + 1] != "zstd") {
      return make_error(Errc::kInvalidArgument,
                        "compressor '" + std::string(i + 1 < parts.size() ? parts[i + 1] : "") +
                            "' is not supported (zstd is)");
    }
    r.zstd = true;
    i += 2;
  } else {
    i += 1;
  }
  if (i + 2 > parts.size()) return make_error(Errc::kInvalidArgument, "no HASH/SIZE after blobs/");
  if (!rest_allowed && i + 2 != parts.size()) {
    return make_error(Errc::kInvalidArgument, "extra parts after HASH/SIZE");
  }
  auto digest = parse_parts(parts[i], parts[i + 1]);
  if (!digest.ok()) return digest.error();
  r.digest = *digest;
  return r;
}

}  // namespace

Result<cas::Digest> from_proto(const v2::Digest& digest) {
  const std::string& hash = digest.hash();
  if (hash.size() != 64 || !is_lower_hex(hash)) {
    return make_error(
        Errc::kInvalidArgument,
        "digest hash '" + hash.substr(0, 80) + "' is not a SHA-256 hash (64 lowercase hex digits)");
  }
  if (digest.size_bytes() < 0) {
    return make_error(Errc::kInvalidArgument,
                      "digest size " + std::to_string(digest.size_bytes()) + " is negative");
  }
  if (static_cast<std::uint64_t>(digest.size_bytes()) > kMaxBlobBytes) {
    return make_error(Errc::kInvalidArgument, "digest size " + std::to_string(digest.size_bytes()) +
                                                  " is over the limit of " +
                                                  std::to_string(kMaxBlobBytes) + " bytes");
  }
  auto parsed = cas::parse_digest(hash + "/" + std::to_string(digest.size_bytes()));
  if (!parsed.ok()) return parsed.error();
  return *parsed;
}

v2::Digest to_proto(const cas::Digest& digest) {
  v2::Digest d;
  d.set_hash(digest.hex());
  d.set_size_bytes(static_cast<std::int64_t>(digest.size));
  return d;
}

std::string to_text(const v2::Digest& digest) {
  return digest.hash() + "/" + std::to_string(digest.size_bytes());
}

Status check_digest_function(v2::DigestFunction::Value value) {
  if (value == v2::DigestFunction::UNKNOWN || value == v2::DigestFunction::SHA256) return {};
  const std::string name = v2::DigestFunction::Value_IsValid(value)
                               ? v2::DigestFunction::Value_Name(value)
                               : std::to_string(static_cast<int>(value));
  return make_error(Errc::kInvalidArgument,
                    "digest function " + name + " is not supported; this server uses SHA256");
}

Result<Resource> parse_read_resource(std::string_view name) {
  const auto parts = split(name);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "blobs" || parts[i] == "compressed-blobs") {
      auto r = parse_blob_part(parts, i, false);
      if (!r.ok()) {
        return make_error(
            Errc::kInvalidArgument,
            "resource name '" + std::string(name.substr(0, 200)) + "': " + r.error().message);
      }
      return r;
    }
  }
  return make_error(Errc::kInvalidArgument,
                    "resource name '" + std::string(name.substr(0, 200)) +
                        "' is not [INSTANCE/]blobs/HASH/SIZE or compressed-blobs/zstd/HASH/SIZE");
}

Result<Resource> parse_write_resource(std::string_view name) {
  const auto parts = split(name);
  for (std::size_t i = 0; i + 2 < parts.size(); ++i) {
    if (parts[i] != "uploads") continue;
    if (parts[i + 2] != "blobs" && parts[i + 2] != "compressed-blobs") continue;
    if (parts[i + 1].empty()) break;
    auto r = parse_blob_part(parts, i + 2, true);
    if (!r.ok()) {
      return make_error(
          Errc::kInvalidArgument,
          "resource name '" + std::string(name.substr(0, 200)) + "': " + r.error().message);
    }
    r->upload_id = std::string(parts[i + 1]);
    return r;
  }
  return make_error(Errc::kInvalidArgument,
                    "resource name '" + std::string(name.substr(0, 200)) +
                        "' is not [INSTANCE/]uploads/UUID/blobs/HASH/SIZE or "
                        "uploads/UUID/compressed-blobs/zstd/HASH/SIZE");
}

}  // namespace kiln::reapi
