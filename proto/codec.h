// The one place that turns a kiln message into ZeroMQ frames and back.
//
// A kiln message on the wire (after any ROUTER identity/delimiter frames,
// which the caller strips) is exactly two frames:
//   frame 0: the 4-byte signature "KLN" + protocol major version byte
//   frame 1: one Envelope in Cap'n Proto flat-array (unpacked) serialization
// See PROTOCOL.md. Everything decoded here is untrusted: the decoder never
// throws through its caller and bounds the work a hostile frame can cause.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proto/result.h"
#include "proto/wire.capnp.h"

namespace kiln::proto {

inline constexpr std::size_t kSignatureSize = 4;

struct CodecLimits {
  // Largest body frame accepted. Blob transfers are chunked below this.
  std::size_t max_body_bytes = 8u << 20;
  // Cap'n Proto traversal limit, as a multiple of the body's word count.
  std::uint64_t traversal_factor = 4;
  // Cap'n Proto nesting limit.
  int nesting_limit = 32;
};

// A decoded message. Owns its bytes (an 8-byte-aligned copy when the frame
// was misaligned), so the reader stays valid after the frames are gone.
class Decoded {
 public:
  virtual ~Decoded() = default;
  virtual schema::Envelope::Reader envelope() = 0;
};

// Serializes `message` (whose root is an Envelope) into the two frames.
// Sets nothing in the envelope: the caller fills version and requestId.
std::vector<std::string> encode(capnp::MessageBuilder& message);

// Decodes the two frames of one message. Fails with Errc::kInvalidArgument
// and a one-line reason when: the frame count is not 2; the signature or
// version byte is wrong; the body is empty, over max_body_bytes, not a
// multiple of 8 bytes, has a bad segment table, or has trailing bytes; or
// reading the root Envelope exceeds the traversal or nesting limit.
// Misaligned bodies are copied before decoding.
Result<std::unique_ptr<Decoded>> decode(std::span<const std::span<const std::byte>> frames,
                                        const CodecLimits& limits = {});

}  // namespace kiln::proto
