// The one place that turns a kiln message into ZeroMQ frames and back.
//
// A kiln message on the wire (after any ROUTER identity/delimiter frames,
// which the caller strips) is exactly two frames:
//   frame 0: the 4-byte signature "KLN" + protocol major version byte
//   frame 1: one Envelope in Cap'n Proto flat-array (unpacked) serialization
// See PROTOCOL.md. Everything decoded here is untrusted: the decoder never
// throws through its caller and bounds the work a hostile frame can cause.
//
// How decode() works: it checks the signature frame, then validates the
// body's segment table itself (Cap'n Proto's FlatArrayMessageReader accepts
// trailing bytes and would throw on the rest), copies the body into an
// 8-byte-aligned buffer that the Decoded owns, and opens it with tight
// ReaderOptions. It then walks the message twice: by layout (a copy of the
// whole message into a scratch builder: every pointer, including fields
// this build does not know, charged what a reader's copy would be) and by
// schema (every known field, via capnp's dynamic API, which is
// what catches a pointer of the wrong kind for its field, e.g. a list where
// a struct belongs). Each walk goes through a reader of its own with a
// budget of one body's worth: reading a message without shared pointers in
// full costs at most its size, so a message that needs more has pointers
// sharing objects (amplification) and is refused. The caller reads through
// a third reader with a budget of its own. So any damage -- out-of-bounds
// or mistyped pointers, unterminated text, too deep nesting, amplification
// -- is found here and reported as a value. A Decoded that decode()
// returned can be read without exceptions, within its traversal budget
// (see Decoded).
//
// The codec is pure: it works on byte spans and links no ZeroMQ.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "base/result.h"
#include "proto/wire.capnp.h"

namespace kiln::proto {

inline constexpr std::size_t kSignatureSize = 4;
// The major version carried in the signature's last byte and in
// Envelope.version; always equal to schema::PROTOCOL_VERSION.
inline constexpr std::uint8_t kProtocolMajor = 1;
static_assert(kProtocolMajor == schema::PROTOCOL_VERSION);
// Largest BlobChunk.data a sender puts into one message (PROTOCOL.md,
// "Blob chunking"). Well below the default max_body_bytes, so a chunk plus
// its digest and envelope always fits.
inline constexpr std::size_t kBlobChunkBytes = 1u << 20;

struct CodecLimits {
  // Largest body frame accepted. Blob transfers are chunked below this.
  std::size_t max_body_bytes = 8u << 20;
  // Cap'n Proto traversal limit, as a multiple of the body's word count.
  // decode()'s two walks get one body's worth each (a message they cannot
  // walk within it is refused); the rest is the caller's reader's own
  // budget, in which a full read costs at most one body: with 4, every
  // field can be read twice, whatever the message (tested). Below 3
  // decode() refuses every message (its reader would have no budget).
  std::uint64_t traversal_factor = 4;
  // Cap'n Proto nesting limit (pointer depth below the root); values above
  // 32 are clamped to 32. The deepest message in wire.capnp needs under 10.
  int nesting_limit = 32;
};

// The two frames of one encoded message. The body is the Cap'n Proto flat
// array exactly as capnp::messageToFlatArray produced it (one copy of the
// builder's segments, no further copies): a ZeroMQ caller may send it
// zero-copy by moving `body` into a heap object that zmq_msg_init_data's free
// function deletes, or copy body_bytes() into a zmq::message_t.
struct Encoded {
  std::array<std::byte, kSignatureSize> signature;
  kj::Array<capnp::word> body;

  std::span<const std::byte> signature_bytes() const { return signature; }
  std::span<const std::byte> body_bytes() const {
    return std::as_bytes(std::span<const capnp::word>(body.begin(), body.size()));
  }
  // Both frames, in wire order; valid while this Encoded lives.
  std::array<std::span<const std::byte>, 2> frames() const {
    return {signature_bytes(), body_bytes()};
  }
};

// A decoded, fully validated message. Owns an aligned copy of the body, so it
// stays valid after the frames are gone. Not thread-safe (the Cap'n Proto
// traversal budget is shared state).
//
// Callers must handle envelope().getBody().which() returning a value that is
// not an enumerator of schema::Envelope::Body::Which: a peer built from a
// newer wire.capnp may send a kind this build does not know. decode() accepts
// such a message; the receiver answers a request with Error code unknownKind
// (echoing requestId) and ignores anything else (PROTOCOL.md, "Versioning").
// A `switch` over which() therefore needs a `default:` branch.
//
// Reading may still throw kj::Exception if the caller exhausts its traversal
// budget ((traversal_factor - 2) x body words) by reading the same large
// list many times; read each field once into values.
class Decoded {
 public:
  virtual ~Decoded() = default;
  // The root, obtained once at decode time (calling this costs nothing).
  virtual schema::Envelope::Reader envelope() const = 0;
  // Size of the body frame in 8-byte words.
  virtual std::size_t body_words() const = 0;
};

// Starts a new Envelope as the root of `message`, with version set to
// kProtocolMajor and the given requestId. The caller then initialises
// exactly one body member.
schema::Envelope::Builder init_envelope(capnp::MessageBuilder& message, std::uint64_t request_id);

// Serializes `message`, whose root must be an Envelope (use init_envelope),
// into the two frames. Sets nothing in the envelope. Never fails; does not
// apply CodecLimits, so a sender that builds messages of variable size (blob
// chunks, FindMissing lists) keeps them under the peer's max_body_bytes
// itself (PROTOCOL.md, "Size limits").
Encoded encode(capnp::MessageBuilder& message);

// Decodes the two frames of one message. Never throws for any input bytes.
// Always copies the body (into an aligned buffer it owns), whatever the
// frames' alignment. Fails with Errc::kInvalidArgument and a one-line
// reason, fit to log as-is, when:
//   - the frame count is not 2;
//   - frame 0 is not 4 bytes, does not start with "KLN", or its version byte
//     is not kProtocolMajor;
//   - the body is empty, over max_body_bytes, or not a multiple of 8 bytes;
//   - the segment table is bad: more than 512 segments, an empty first
//     segment, segments extending past the frame, or bytes after the last
//     segment;
//   - Cap'n Proto finds the structure invalid (out-of-bounds or malformed
//     pointers), or walking it exceeds the traversal or nesting limit;
//   - the body holds a capability pointer, even in a field this build does
//     not know (kiln messages carry no capabilities);
//   - Envelope.version is not schema::PROTOCOL_VERSION.
// An unknown body kind is not an error (see Decoded).
Result<std::unique_ptr<Decoded>> decode(std::span<const std::span<const std::byte>> frames,
                                        const CodecLimits& limits = {});

// The version byte of a signature frame that starts with "KLN", whatever
// its value; nullopt if `frame` is not a kiln signature at all. Lets a peer
// tell "speaks another major version" (reply badVersion, log it) apart from
// garbage after decode() failed.
std::optional<std::uint8_t> peek_version(std::span<const std::byte> frame);

}  // namespace kiln::proto
