// The API's digests and resource names against kiln's cas::Digest. Pure.
//
// kiln-reapi serves one digest function, SHA-256 (the API's default and the
// one every client speaks), so a REAPI digest is a kiln SHA-256 digest:
// the same bytes have the same digest for Bazel and for a kiln launcher
// using a SHA-256 grid, and the two share every blob.
#pragma once

#include <build/bazel/remote/execution/v2/remote_execution.pb.h>

#include <string>
#include <string_view>

#include "base/result.h"
#include "cas/digest.h"

namespace kiln::reapi {

namespace v2 = build::bazel::remote::execution::v2;

// The largest blob kiln-reapi takes or serves (ByteStream). Larger ones are
// refused with INVALID_ARGUMENT before a byte is stored.
inline constexpr std::uint64_t kMaxBlobBytes = std::uint64_t{16} << 30;

// A digest off the wire: 64 lowercase hex digits and a size in
// [0, kMaxBlobBytes]. kInvalidArgument otherwise, naming what is wrong.
Result<cas::Digest> from_proto(const v2::Digest& digest);
v2::Digest to_proto(const cas::Digest& digest);
// "<hash>/<size>", as the API writes a digest in names and messages.
std::string to_text(const v2::Digest& digest);

// A request's digest_function: UNKNOWN (a client older than the field,
// which means SHA-256) or SHA256. kInvalidArgument for any other.
Status check_digest_function(v2::DigestFunction::Value value);

// ByteStream resource names (instance name prefixes of any depth allowed):
//   read   [INSTANCE/]blobs/HASH/SIZE
//          [INSTANCE/]compressed-blobs/zstd/HASH/SIZE
//   write  [INSTANCE/]uploads/UUID/blobs/HASH/SIZE[/ANYTHING]
//          [INSTANCE/]uploads/UUID/compressed-blobs/zstd/HASH/SIZE[/ANYTHING]
// The digest is of the uncompressed bytes. Any other form, an unknown
// compressor or a bad digest is kInvalidArgument.
struct Resource {
  cas::Digest digest;
  bool zstd = false;
  std::string upload_id;  // write names only
};
Result<Resource> parse_read_resource(std::string_view name);
Result<Resource> parse_write_resource(std::string_view name);

}  // namespace kiln::reapi
