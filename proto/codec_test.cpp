// Tests for the wire codec: round trips, every rejection decode() promises,
// hostile structure (amplification, deep nesting), a newer peer's unknown
// body kind, and random garbage. codec_test.capnp supplies the "newer peer".
#include "proto/codec.h"

#include <capnp/any.h>
#include <capnp/schema.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "proto/codec_test.capnp.h"

namespace kiln::proto {
namespace {

using Bytes = std::vector<std::byte>;
using Which = schema::Envelope::Body::Which;

Bytes to_bytes(std::span<const std::byte> s) { return Bytes(s.begin(), s.end()); }

Bytes signature() { return {std::byte{'K'}, std::byte{'L'}, std::byte{'N'}, std::byte{1}}; }

// Decodes owned copies of the two frames.
Result<std::unique_ptr<Decoded>> decode_bytes(const Bytes& sig, const Bytes& body,
                                              const CodecLimits& limits = {}) {
  const std::span<const std::byte> frames[] = {sig, body};
  return decode(frames, limits);
}

// Decodes one body frame with the correct signature.
Result<std::unique_ptr<Decoded>> decode_body(const Bytes& body, const CodecLimits& limits = {}) {
  return decode_bytes(signature(), body, limits);
}

std::string error_of(const Result<std::unique_ptr<Decoded>>& r) {
  if (r.ok()) return "<ok>";
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  for (const char c : r.error().message) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << "unprintable reason: " << r.error().message;
  }
  return r.error().message;
}

#define EXPECT_REJECTED(result, reason_part) \
  EXPECT_NE(error_of(result).find(reason_part), std::string::npos) << error_of(result)

Bytes heartbeat_body(std::uint64_t request_id = 7, std::uint32_t busy = 3) {
  capnp::MallocMessageBuilder m;
  init_envelope(m, request_id).getBody().initHeartbeat().setBusySlots(busy);
  return to_bytes(encode(m).body_bytes());
}

Bytes upload_chunk_body(std::size_t data_bytes) {
  capnp::MallocMessageBuilder m;
  auto chunk = init_envelope(m, 9).getBody().initUploadChunk();
  chunk.setDigestFunction(schema::DigestFunction::SHA256);
  chunk.initDigest().setSizeBytes(data_bytes);
  chunk.setOffset(0);
  auto data = chunk.initData(static_cast<unsigned>(data_bytes));
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<capnp::byte>(i * 31);
  chunk.setLast(true);
  return to_bytes(encode(m).body_bytes());
}

// Appends `depth` levels of the recursive Nest under FutureEnvelope.body.nest.
Bytes nested_body(int depth) {
  capnp::MallocMessageBuilder m;
  auto env = m.initRoot<testschema::FutureEnvelope>();
  env.setVersion(schema::PROTOCOL_VERSION);
  env.setRequestId(5);
  auto nest = env.getBody().initNest();
  for (int i = 1; i < depth; ++i) {
    nest.setPayload(static_cast<std::uint64_t>(i));
    nest = nest.initChild();
  }
  return to_bytes(encode(m).body_bytes());
}

void put_le32(Bytes& b, std::size_t offset, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[offset + i] = static_cast<std::byte>(v >> (8 * i));
}

TEST(Codec, SignatureFrame) {
  capnp::MallocMessageBuilder m;
  init_envelope(m, 1).getBody().setDisconnect("bye");
  const Encoded e = encode(m);
  const Bytes expected = {std::byte{'K'}, std::byte{'L'}, std::byte{'N'}, std::byte{1}};
  EXPECT_EQ(to_bytes(e.signature_bytes()), expected);
  EXPECT_EQ(e.body_bytes().size() % 8, 0u);
  EXPECT_EQ(peek_version(e.signature_bytes()), 1);
}

TEST(Codec, RoundTripHeartbeat) {
  const auto r = decode_body(heartbeat_body(42, 5));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto env = (*r)->envelope();
  EXPECT_EQ(env.getVersion(), schema::PROTOCOL_VERSION);
  EXPECT_EQ(env.getRequestId(), 42u);
  ASSERT_EQ(env.getBody().which(), Which::HEARTBEAT);
  EXPECT_EQ(env.getBody().getHeartbeat().getBusySlots(), 5u);
}

TEST(Codec, RoundTripUploadChunk) {
  const auto r = decode_body(upload_chunk_body(1000));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto body = (*r)->envelope().getBody();
  ASSERT_EQ(body.which(), Which::UPLOAD_CHUNK);
  const auto chunk = body.getUploadChunk();
  EXPECT_EQ(chunk.getDigestFunction(), schema::DigestFunction::SHA256);
  EXPECT_EQ(chunk.getDigest().getSizeBytes(), 1000u);
  ASSERT_EQ(chunk.getData().size(), 1000u);
  EXPECT_EQ(chunk.getData()[999], static_cast<capnp::byte>(999 * 31));
  EXPECT_TRUE(chunk.getLast());
}

TEST(Codec, RoundTripExecuteRequestAndDecodedOwnsItsBytes) {
  std::unique_ptr<Decoded> decoded;
  {
    capnp::MallocMessageBuilder m;
    auto req = init_envelope(m, 1234567890123ull).getBody().initExecuteRequest();
    req.initActionDigest().setSizeBytes(77);
    auto action = req.initAction();
    action.setTimeoutMs(5000);
    action.initSalt(3);
    req.setPriority(-2);
    req.setSkipCacheLookup(true);
    Encoded e = encode(m);
    auto r = decode(e.frames());
    ASSERT_TRUE(r.ok()) << r.error().message;
    decoded = std::move(r).value();
  }  // the frames are gone
  const auto env = decoded->envelope();
  EXPECT_EQ(env.getRequestId(), 1234567890123ull);
  ASSERT_EQ(env.getBody().which(), Which::EXECUTE_REQUEST);
  const auto req = env.getBody().getExecuteRequest();
  EXPECT_EQ(req.getActionDigest().getSizeBytes(), 77u);
  EXPECT_EQ(req.getAction().getTimeoutMs(), 5000u);
  EXPECT_EQ(req.getAction().getSalt().size(), 3u);
  EXPECT_EQ(req.getPriority(), -2);
  EXPECT_TRUE(req.getSkipCacheLookup());
}

TEST(Codec, RoundTripErrorDisconnectAndFindMissing) {
  {
    capnp::MallocMessageBuilder m;
    auto err = init_envelope(m, 3).getBody().initError();
    err.setCode(schema::Error::Code::UNKNOWN_KIND);
    err.setMessage("no such kind");
    const auto r = decode(encode(m).frames());
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ((*r)->envelope().getBody().which(), Which::ERROR);
    EXPECT_EQ((*r)->envelope().getBody().getError().getCode(), schema::Error::Code::UNKNOWN_KIND);
    EXPECT_EQ((*r)->envelope().getBody().getError().getMessage(), "no such kind");
  }
  {
    capnp::MallocMessageBuilder m;
    init_envelope(m, 0).getBody().setDisconnect("unknown worker");
    const auto r = decode(encode(m).frames());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ((*r)->envelope().getBody().getDisconnect(), "unknown worker");
  }
  {
    capnp::MallocMessageBuilder m;
    auto digests = init_envelope(m, 8).getBody().initFindMissingRequest().initDigests(100);
    for (unsigned i = 0; i < 100; ++i) {
      digests[i].setSizeBytes(i);
      digests[i].initHash(16)[0] = static_cast<capnp::byte>(i);
    }
    const auto r = decode(encode(m).frames());
    ASSERT_TRUE(r.ok()) << r.error().message;
    const auto got = (*r)->envelope().getBody().getFindMissingRequest().getDigests();
    ASSERT_EQ(got.size(), 100u);
    EXPECT_EQ(got[99].getSizeBytes(), 99u);
    EXPECT_EQ(got[99].getHash()[0], 99);
  }
}

TEST(Codec, MultiSegmentMessageDecodes) {
  // Tiny fixed-size segments force a many-segment message.
  capnp::MallocMessageBuilder m(8, capnp::AllocationStrategy::FIXED_SIZE);
  auto digests = init_envelope(m, 8).getBody().initFindMissingResponse().initMissing(3);
  for (unsigned i = 0; i < 3; ++i) digests[i].initHash(16);
  ASSERT_GT(m.getSegmentsForOutput().size(), 1u);
  const auto r = decode(encode(m).frames());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->envelope().getBody().getFindMissingResponse().getMissing().size(), 3u);
}

TEST(Codec, MisalignedFrameDecodes) {
  const Bytes body = upload_chunk_body(100);
  const Bytes sig = signature();
  for (std::size_t offset = 1; offset < 8; ++offset) {
    std::vector<std::byte> storage(body.size() + offset);
    std::memcpy(storage.data() + offset, body.data(), body.size());
    const std::span<const std::byte> frames[] = {sig, {storage.data() + offset, body.size()}};
    const auto r = decode(frames);
    ASSERT_TRUE(r.ok()) << "offset " << offset << ": " << r.error().message;
    EXPECT_EQ((*r)->envelope().getBody().getUploadChunk().getData().size(), 100u);
  }
}

TEST(Codec, TruncatedAtEveryLengthIsRejected) {
  const Bytes body = upload_chunk_body(200);
  for (std::size_t n = 0; n < body.size(); ++n) {
    const Bytes cut(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(decode_body(cut).ok()) << "length " << n;
  }
  EXPECT_REJECTED(decode_body({}), "empty body");
  EXPECT_REJECTED(decode_body(Bytes(body.begin(), body.end() - 8)), "segments claim");
}

TEST(Codec, LengthNotMultipleOf8IsRejected) {
  for (std::size_t extra = 1; extra < 8; ++extra) {
    Bytes body = heartbeat_body();
    body.resize(body.size() + extra);
    EXPECT_REJECTED(decode_body(body), "not a multiple of 8");
  }
}

TEST(Codec, TrailingBytesAreRejected) {
  Bytes body = heartbeat_body();
  body.resize(body.size() + 8);
  EXPECT_REJECTED(decode_body(body), "1 trailing words");
  body.resize(body.size() + 800);
  EXPECT_REJECTED(decode_body(body), "101 trailing words");
}

TEST(Codec, OversizedBodyIsRejected) {
  const Bytes body = upload_chunk_body(4000);
  CodecLimits limits;
  limits.max_body_bytes = body.size();
  EXPECT_TRUE(decode_body(body, limits).ok());
  limits.max_body_bytes = body.size() - 1;
  EXPECT_REJECTED(decode_body(body, limits), "exceeds the limit");
  // The default limit: 8 MiB.
  EXPECT_REJECTED(decode_body(upload_chunk_body((8u << 20) + 1)), "exceeds the limit of 8388608");
  EXPECT_TRUE(decode_body(upload_chunk_body(kBlobChunkBytes)).ok());
}

TEST(Codec, BadSignatureIsRejected) {
  const Bytes body = heartbeat_body();
  const std::vector<Bytes> bad = {
      {},
      {std::byte{'K'}, std::byte{'L'}, std::byte{'N'}},
      {std::byte{'K'}, std::byte{'L'}, std::byte{'X'}, std::byte{1}},
      {std::byte{'k'}, std::byte{'l'}, std::byte{'n'}, std::byte{1}},
      {std::byte{'K'}, std::byte{'L'}, std::byte{'N'}, std::byte{1}, std::byte{0}},
  };
  for (const auto& sig : bad) {
    EXPECT_REJECTED(decode_bytes(sig, body), "bad signature frame");
    EXPECT_FALSE(peek_version(sig).has_value());
  }
}

TEST(Codec, WrongVersionByteIsRejected) {
  const Bytes body = heartbeat_body();
  for (int v : {0, 2, 255}) {
    const Bytes sig = {std::byte{'K'}, std::byte{'L'}, std::byte{'N'}, static_cast<std::byte>(v)};
    EXPECT_REJECTED(decode_bytes(sig, body), "protocol version " + std::to_string(v));
    EXPECT_EQ(peek_version(sig), v);
  }
}

TEST(Codec, WrongEnvelopeVersionIsRejected) {
  for (std::uint16_t v : {0, 2, 65535}) {
    capnp::MallocMessageBuilder m;
    init_envelope(m, 1).setVersion(v);
    EXPECT_REJECTED(decode(encode(m).frames()), "Envelope.version " + std::to_string(v));
  }
}

TEST(Codec, WrongFrameCountIsRejected) {
  const Bytes sig = signature();
  const Bytes body = heartbeat_body();
  const std::span<const std::byte> three[] = {sig, body, body};
  EXPECT_REJECTED(decode(std::span(three, 0)), "expected 2 frames, got 0");
  EXPECT_REJECTED(decode(std::span(three, 1)), "expected 2 frames, got 1");
  EXPECT_REJECTED(decode(three), "expected 2 frames, got 3");
}

TEST(Codec, BadSegmentTableIsRejected) {
  const Bytes good = heartbeat_body();
  {
    Bytes b = good;
    put_le32(b, 0, 0xffffffffu);  // 2^32 segments
    EXPECT_REJECTED(decode_body(b), "segment table claims 4294967296 segments");
  }
  {
    Bytes b = good;
    put_le32(b, 0, 600);
    EXPECT_REJECTED(decode_body(b), "claims 601 segments");
  }
  {
    Bytes b = good;
    put_le32(b, 0, 100);  // 101 segments: a 51-word table in a short body
    EXPECT_REJECTED(decode_body(b), "segment table (51 words) longer than");
  }
  {
    Bytes b = good;
    put_le32(b, 4, 0x7fffffffu);  // first segment of 16 GiB
    EXPECT_REJECTED(decode_body(b), "segments claim 2147483647 words");
  }
  {
    Bytes b = good;
    put_le32(b, 4, 0);
    EXPECT_REJECTED(decode_body(b), "first segment is empty");
  }
  {
    // Two segments whose sizes add up to the body but overflow 32 bits.
    Bytes b(16 + 8, std::byte{0});
    put_le32(b, 0, 1);
    put_le32(b, 4, 0xffffffffu);
    put_le32(b, 8, 2);
    EXPECT_REJECTED(decode_body(b), "segments claim 4294967297 words");
  }
}

TEST(Codec, StructuralGarbageIsAnErrorValue) {
  // A valid table around a root pointer that points far outside the segment.
  Bytes b(8 + 8, std::byte{0});
  put_le32(b, 4, 1);
  put_le32(b, 8, 0x7ffffff0u);  // struct pointer, huge offset
  put_le32(b, 12, 0x00010002u);
  EXPECT_REJECTED(decode_body(b), "invalid Cap'n Proto structure");
}

// Relabels the body of an envelope built as one kind to `kind`, leaving the
// pointer as it is: a well-formed layout that contradicts the schema.
void set_body_kind(schema::Envelope::Builder envelope, Which kind) {
  const std::size_t offset = capnp::Schema::from<schema::Envelope::Body>()
                                 .getProto()
                                 .getStruct()
                                 .getDiscriminantOffset();  // in 16-bit units
  auto data = capnp::toAny(envelope).getDataSection();
  const auto value = static_cast<std::uint16_t>(kind);
  data[offset * 2] = static_cast<capnp::byte>(value & 0xff);
  data[offset * 2 + 1] = static_cast<capnp::byte>(value >> 8);
}

TEST(Codec, PointerOfTheWrongKindForItsFieldIsRejected) {
  {
    capnp::MallocMessageBuilder m;
    auto env = init_envelope(m, 1);
    env.getBody().setDisconnect("a text where a struct belongs");
    set_body_kind(env, Which::HEARTBEAT);
    ASSERT_EQ(env.asReader().getBody().which(), Which::HEARTBEAT);
    EXPECT_REJECTED(decode(encode(m).frames()), "non-struct pointer");
  }
  {
    capnp::MallocMessageBuilder m;
    auto env = init_envelope(m, 1);
    env.getBody().initHeartbeat().setBusySlots(1);
    set_body_kind(env, Which::DISCONNECT);
    EXPECT_REJECTED(decode(encode(m).frames()), "invalid Cap'n Proto structure");
  }
  {
    // One level down: BlobChunk.digest (a struct) read as
    // FindMissingResponse.missing (a list), both pointer 0.
    capnp::MallocMessageBuilder m;
    auto env = init_envelope(m, 1);
    env.getBody().initUploadChunk().initDigest().setSizeBytes(1);
    set_body_kind(env, Which::FIND_MISSING_RESPONSE);
    EXPECT_REJECTED(decode(encode(m).frames()), "non-list pointer");
  }
}

TEST(Codec, UnterminatedTextIsRejected) {
  capnp::MallocMessageBuilder m;
  auto text = init_envelope(m, 1).getBody().initDisconnect(3);
  text[0] = 'b';
  text[1] = 'y';
  text[2] = 'e';
  text.begin()[3] = 'x';  // overwrite the NUL terminator
  EXPECT_REJECTED(decode(encode(m).frames()), "NUL-terminated");
}

TEST(Codec, LargeMessageLeavesTheCallerABudgetToReadItTwice) {
  capnp::MallocMessageBuilder m;
  auto digests = init_envelope(m, 1).getBody().initFindMissingRequest().initDigests(10000);
  for (unsigned i = 0; i < digests.size(); ++i) digests[i].initHash(16)[0] = 1;
  const auto r = decode(encode(m).frames());
  ASSERT_TRUE(r.ok()) << r.error().message;
  for (int pass = 0; pass < 2; ++pass) {
    const auto got = (*r)->envelope().getBody().getFindMissingRequest().getDigests();
    unsigned sum = 0;
    for (const auto d : got) sum += d.getHash()[0];
    EXPECT_EQ(sum, 10000u);
  }
}

// Points `digest`'s hash at `blob` (a Data list elsewhere in the same
// segment) by rewriting its list pointer in place: two pointers sharing one
// object, which an honest sender never writes but the format allows.
void alias_hash(schema::Digest::Builder digest, capnp::Data::Builder blob) {
  // The pointer section follows the one-word data section of a Digest.
  auto* ptr = capnp::toAny(digest).getDataSection().end();
  const auto offset_words =
      (reinterpret_cast<std::intptr_t>(blob.begin()) - reinterpret_cast<std::intptr_t>(ptr + 8)) /
      8;
  // List pointer: (offset << 2) | 1; element size BYTE (2), count.
  const std::uint32_t lo = (static_cast<std::uint32_t>(offset_words) << 2) | 1u;
  const std::uint32_t hi = 2u | (static_cast<std::uint32_t>(blob.size()) << 3);
  std::memcpy(ptr, &lo, 4);
  std::memcpy(ptr + 4, &hi, 4);
  ASSERT_EQ(digest.asReader().getHash().begin(), blob.begin());
}

TEST(Codec, AmplificationBeyondTraversalLimitIsRejected) {
  // A list of many digests whose `hash` pointers all alias one large Data
  // blob: the body stays small but a full walk reads the blob every time.
  constexpr unsigned kDigests = 1000;
  constexpr unsigned kBlobBytes = 8000;
  capnp::MallocMessageBuilder m(64 * 1024);
  auto digests = init_envelope(m, 1).getBody().initFindMissingRequest().initDigests(kDigests);
  auto blob = digests[0].initHash(kBlobBytes);
  for (unsigned i = 1; i < kDigests; ++i) digests[i].initHash(0);
  ASSERT_EQ(m.getSegmentsForOutput().size(), 1u);
  const Bytes honest = to_bytes(encode(m).body_bytes());
  ASSERT_TRUE(decode_body(honest).ok());

  for (unsigned i = 1; i < kDigests; ++i) alias_hash(digests[i], blob);

  const Bytes hostile = to_bytes(encode(m).body_bytes());
  EXPECT_EQ(hostile.size(), honest.size());
  EXPECT_REJECTED(decode_body(hostile), "traversal limit");

  // A small factor also rejects an honest message; factor 4 leaves room.
  CodecLimits tight;
  tight.traversal_factor = 0;
  EXPECT_REJECTED(decode_body(honest, tight), "traversal limit");
}

TEST(Codec, SharedPointersCannotSpendTheCallersBudget) {
  // Mild sharing: one digest's hash aliases another's 8000-byte blob, so a
  // full read costs about 1.5 bodies. With one budget of 4 bodies for
  // decode()'s walks and the caller, decode() accepted it and left the
  // caller 2.5 bodies: its second read of the hashes threw. decode() must
  // refuse a message whose full read costs more than its size.
  constexpr unsigned kBlobBytes = 8000;
  capnp::MallocMessageBuilder m(64 * 1024);
  auto digests = init_envelope(m, 1).getBody().initFindMissingRequest().initDigests(3);
  auto blob = digests[0].initHash(kBlobBytes);
  digests[1].initHash(0);
  digests[2].initHash(kBlobBytes);
  ASSERT_EQ(m.getSegmentsForOutput().size(), 1u);
  const Bytes honest = to_bytes(encode(m).body_bytes());
  alias_hash(digests[1], blob);
  const Bytes hostile = to_bytes(encode(m).body_bytes());

  // Whatever decode() accepts, the caller can read every field twice.
  for (const Bytes* body : {&honest, &hostile}) {
    const auto r = decode_body(*body);
    if (!r.ok()) continue;
    for (int pass = 0; pass < 2; ++pass) {
      std::size_t bytes = 0;
      EXPECT_NO_THROW({
        for (const auto d : (*r)->envelope().getBody().getFindMissingRequest().getDigests()) {
          bytes += d.getHash().size();
        }
      }) << (body == &honest ? "honest" : "hostile")
         << " pass " << pass;
      EXPECT_EQ(bytes, body == &honest ? 2 * kBlobBytes : 3 * kBlobBytes);
    }
  }
  EXPECT_TRUE(decode_body(honest).ok());
  EXPECT_REJECTED(decode_body(hostile), "traversal limit");
}

TEST(Codec, NestingDeeperThanLimitIsRejected) {
  // The root Envelope plus 31 nested structs is the deepest accepted.
  EXPECT_TRUE(decode_body(nested_body(31)).ok());
  EXPECT_REJECTED(decode_body(nested_body(32)), "too deeply-nested");
  EXPECT_REJECTED(decode_body(nested_body(1000)), "too deeply-nested");
  CodecLimits lax;
  lax.nesting_limit = 1000;  // clamped to 32
  EXPECT_REJECTED(decode_body(nested_body(32), lax), "too deeply-nested");
  CodecLimits strict;
  strict.nesting_limit = 8;
  EXPECT_TRUE(decode_body(nested_body(7), strict).ok());
  EXPECT_REJECTED(decode_body(nested_body(8), strict), "too deeply-nested");
}

TEST(Codec, UnknownBodyKindDecodes) {
  const auto r = decode_body(nested_body(3));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto env = (*r)->envelope();
  EXPECT_EQ(env.getRequestId(), 5u);
  const auto which = static_cast<std::uint16_t>(env.getBody().which());
  EXPECT_GT(which, static_cast<std::uint16_t>(Which::LEASE_RESULT));
  EXPECT_EQ(which, static_cast<std::uint16_t>(testschema::FutureEnvelope::Body::NEST));
}

TEST(Codec, CapabilityPointerIsRejected) {
  // A newer peer's body kind (unknown here, so only the layout walk sees
  // it) whose pointer is a capability pointer. Cap'n Proto's layout walk
  // counts those without complaint, but kiln messages carry no
  // capabilities and a reader that copies the message (setRoot,
  // canonicalize) threw "invalid capability pointer". Found by
  // fuzz/codec_fuzz.
  capnp::MallocMessageBuilder m;
  auto env = m.initRoot<testschema::FutureEnvelope>();
  env.setVersion(schema::PROTOCOL_VERSION);
  env.setRequestId(5);
  env.getBody().initNest().setPayload(1);
  ASSERT_EQ(m.getSegmentsForOutput().size(), 1u);
  // The body's pointer is the first of the pointer section, right after the
  // data section. An "other" pointer (kind 3) of type 0 is a capability.
  auto* ptr = capnp::toAny(env).getDataSection().end();
  const std::uint32_t lo = 3;
  const std::uint32_t hi = 0;  // capability table index
  std::memcpy(ptr, &lo, 4);
  std::memcpy(ptr + 4, &hi, 4);
  EXPECT_REJECTED(decode(encode(m).frames()), "capability");
}

TEST(Codec, AmplifiedVoidListInAnUnknownFieldIsRejected) {
  // A newer peer's body kind whose pointer is a List(Void) of 2^28
  // elements: no bytes on the wire, but a copy of the message charges one
  // word per element. totalSize() does not, so decode() accepted it and a
  // reader copying the message (setRoot) threw "traversal limit". Found by
  // fuzz/codec_fuzz.
  capnp::MallocMessageBuilder m;
  auto env = m.initRoot<testschema::FutureEnvelope>();
  env.setVersion(schema::PROTOCOL_VERSION);
  env.setRequestId(5);
  env.getBody().initNest().setPayload(1);
  ASSERT_EQ(m.getSegmentsForOutput().size(), 1u);
  auto* ptr = capnp::toAny(env).getDataSection().end();
  const std::uint32_t lo = 1;                     // list pointer, offset 0
  const std::uint32_t hi = 0u | (1u << 28 << 3);  // element size VOID, 2^28 elements
  std::memcpy(ptr, &lo, 4);
  std::memcpy(ptr + 4, &hi, 4);
  const auto r = decode(encode(m).frames());
  if (r.ok()) {
    capnp::MallocMessageBuilder copy;
    EXPECT_NO_THROW(copy.setRoot((*r)->envelope())) << "decode() accepted what cannot be copied";
  }
  EXPECT_FALSE(r.ok());
}

// Decodes `body` and, when it is accepted, reads it the way a receiver
// would; neither may crash or throw.
bool decode_and_read(const Bytes& frame) {
  const auto r = decode_body(frame);
  if (!r.ok()) {
    (void)error_of(r);  // checks the code and a printable one-line reason
    return false;
  }
  // Typed reads of the kinds the fuzz corpus contains; an exception here
  // would escape and fail the test.
  const auto body = (*r)->envelope().getBody();
  switch (body.which()) {
    case Which::HEARTBEAT:
      (void)body.getHeartbeat().getBusySlots();
      break;
    case Which::UPLOAD_CHUNK:
      (void)body.getUploadChunk().getData().size();
      (void)body.getUploadChunk().getDigest().getHash().size();
      break;
    case Which::FIND_MISSING_REQUEST:
      for (const auto d : body.getFindMissingRequest().getDigests()) (void)d.getHash().size();
      break;
    case Which::DISCONNECT:
      (void)body.getDisconnect().size();
      break;
    case Which::ERROR:
      (void)body.getError().getMessage().size();
      break;
    default:
      break;
  }
  return true;
}

TEST(Codec, RandomFramesNeverCrash) {
  std::mt19937_64 rng(20261126);
  for (int i = 0; i < 20000; ++i) {
    const std::size_t words = rng() % 40;
    Bytes body(words * 8 + (rng() % 4 == 0 ? rng() % 8 : 0));
    for (auto& b : body) b = static_cast<std::byte>(rng());
    if (body.size() >= 8 && rng() % 2 == 0) {
      // A plausible segment table, so the structure checks get exercised.
      const std::uint32_t segments = static_cast<std::uint32_t>(rng() % 3);
      put_le32(body, 0, segments);
      if (segments == 0) put_le32(body, 4, static_cast<std::uint32_t>(words - 1));
    }
    (void)decode_and_read(body);
  }
}

TEST(Codec, BitFlipsOfValidFramesNeverCrash) {
  std::vector<Bytes> valid = {heartbeat_body(), upload_chunk_body(64), nested_body(5)};
  {
    capnp::MallocMessageBuilder m;
    init_envelope(m, 2).getBody().setDisconnect("going away");
    valid.push_back(to_bytes(encode(m).body_bytes()));
  }
  {
    capnp::MallocMessageBuilder m(8, capnp::AllocationStrategy::FIXED_SIZE);
    auto digests = init_envelope(m, 8).getBody().initFindMissingRequest().initDigests(4);
    for (unsigned i = 0; i < 4; ++i) digests[i].initHash(16)[0] = 1;
    valid.push_back(to_bytes(encode(m).body_bytes()));
  }
  std::mt19937_64 rng(42);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes body = valid[static_cast<std::size_t>(i) % valid.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const std::size_t bit = rng() % (body.size() * 8);
      body[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    }
    accepted += decode_and_read(body) ? 1 : 0;
  }
  // Most flips land in data, so many mutants stay valid messages.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace kiln::proto
