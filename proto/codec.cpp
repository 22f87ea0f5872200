// Envelope <-> frames. See codec.h for the contract and the order of checks.
//
// The flat-array format (Cap'n Proto "standard serialization"): a segment
// table of little-endian uint32s -- (segment count - 1), then each segment's
// size in words, padded to a whole word -- followed by the segments back to
// back. We validate that table before Cap'n Proto sees it, because the
// reader tolerates bytes after the last segment and we want every rejection
// to carry a precise reason.
#include "proto/codec.h"

#include <capnp/any.h>
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace kiln::proto {
namespace {

constexpr std::array<std::byte, 3> kMagic = {std::byte{'K'}, std::byte{'L'}, std::byte{'N'}};
// Cap'n Proto's own reader refuses more segments than this.
constexpr std::uint64_t kMaxSegments = 512;
constexpr int kMaxNesting = 32;
// decode()'s walks each read a message without shared pointers at most
// once, and each gets a reader of its own with one body's worth of
// traversal budget.
constexpr std::uint64_t kWalks = 2;
constexpr std::size_t kWordBytes = sizeof(capnp::word);

Error invalid(std::string reason) {
  return make_error(Errc::kInvalidArgument, "malformed kiln message: " + std::move(reason));
}

std::uint32_t load_le32(std::span<const std::byte> bytes, std::size_t offset) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v |= static_cast<std::uint32_t>(bytes[offset + i]) << (8 * i);
  }
  return v;
}

// Checks the segment table of a body whose size is a non-zero multiple of 8.
Status check_segment_table(std::span<const std::byte> body) {
  const std::uint64_t total_words = body.size() / kWordBytes;
  const std::uint64_t segments = std::uint64_t{load_le32(body, 0)} + 1;
  if (segments > kMaxSegments) {
    return invalid("segment table claims " + std::to_string(segments) + " segments (limit " +
                   std::to_string(kMaxSegments) + ")");
  }
  // 4 bytes of count + 4 per segment, rounded up to a word.
  const std::uint64_t table_words = segments / 2 + 1;
  if (table_words > total_words) {
    return invalid("segment table (" + std::to_string(table_words) + " words) longer than the " +
                   std::to_string(total_words) + "-word body");
  }
  std::uint64_t data_words = 0;
  for (std::uint64_t i = 0; i < segments; ++i) {
    data_words += load_le32(body, 4 + 4 * i);  // at most 512 * 2^32: no overflow
  }
  if (load_le32(body, 4) == 0) {
    return invalid("first segment is empty");
  }
  if (table_words + data_words > total_words) {
    return invalid("segments claim " + std::to_string(data_words) + " words but the body has " +
                   std::to_string(total_words - table_words) + " after the segment table");
  }
  if (table_words + data_words < total_words) {
    return invalid(std::to_string(total_words - table_words - data_words) +
                   " trailing words after the last segment");
  }
  return {};
}

// Reads every field this build's schema knows, recursively, so that a
// pointer of the wrong kind for its field (a list where a struct belongs,
// unterminated Text, a struct list of the wrong shape) throws here rather
// than in the caller. totalSize() alone cannot see this: it checks layout,
// not schema. Depth is bounded by the reader's nesting limit.
void read_known_fields(const capnp::DynamicValue::Reader& value);

void read_known_fields(const capnp::DynamicStruct::Reader& s) {
  for (const auto& field : s.getSchema().getNonUnionFields()) read_known_fields(s.get(field));
  KJ_IF_MAYBE (field, s.which()) {  // null for a union member this build does not know
    read_known_fields(s.get(*field));
  }
}

void read_known_fields(const capnp::DynamicValue::Reader& value) {
  switch (value.getType()) {
    case capnp::DynamicValue::STRUCT:
      read_known_fields(value.as<capnp::DynamicStruct>());
      break;
    case capnp::DynamicValue::LIST:
      for (const auto& element : value.as<capnp::DynamicList>()) read_known_fields(element);
      break;
    default:  // scalars; Text and Data were validated by DynamicStruct::get
      break;
  }
}

class FlatDecoded final : public Decoded {
 public:
  // `options` are the caller's: its reader's traversal budget is its own,
  // untouched by validate().
  FlatDecoded(kj::Array<capnp::word> words, const capnp::ReaderOptions& options)
      : words_(std::move(words)), reader_(words_.asPtr(), options) {}
  // MessageReader's destructor is noexcept(false); ours must match the base.
  ~FlatDecoded() noexcept override = default;

  // Walks the message once by layout and once by schema (every known
  // field), each through a reader of its own whose budget is
  // `walk_options`, then takes the caller's root. The layout walk is a copy
  // of the whole message into a scratch builder: it visits every pointer,
  // known to this build or not, and is charged exactly what a reader's copy
  // would be, lists of zero-sized elements included (a List(Void) claims up
  // to 2^29 elements in no bytes; totalSize() does not charge those), and
  // it refuses capability pointers, which kiln messages never carry. Throws
  // kj::Exception on structural damage, a schema mismatch, a capability, or
  // exceeded limits.
  void validate(const capnp::ReaderOptions& walk_options) {
    {
      capnp::FlatArrayMessageReader layout(words_.asPtr(), walk_options);
      capnp::MallocMessageBuilder scratch(static_cast<unsigned>(words_.size()));
      scratch.setRoot(layout.getRoot<capnp::AnyPointer>());
    }
    {
      capnp::FlatArrayMessageReader fields(words_.asPtr(), walk_options);
      read_known_fields(capnp::toDynamic(fields.getRoot<schema::Envelope>()));
    }
    envelope_ = reader_.getRoot<schema::Envelope>();
  }

  schema::Envelope::Reader envelope() const override { return envelope_; }
  std::size_t body_words() const override { return words_.size(); }

 private:
  kj::Array<capnp::word> words_;  // before reader_: the reader points into it
  capnp::FlatArrayMessageReader reader_;
  schema::Envelope::Reader envelope_;
};

// kj exception descriptions can span lines and quote bytes from the message
// (even NULs); a log line gets printable ASCII only, and not too much of it.
std::string one_line(kj::StringPtr text) {
  constexpr std::size_t kMaxReason = 200;
  std::string s(text.begin(), std::min(text.size(), kMaxReason));
  for (char& c : s) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return s;
}

}  // namespace

schema::Envelope::Builder init_envelope(capnp::MessageBuilder& message, std::uint64_t request_id) {
  auto envelope = message.initRoot<schema::Envelope>();
  envelope.setVersion(kProtocolMajor);
  envelope.setRequestId(request_id);
  return envelope;
}

Encoded encode(capnp::MessageBuilder& message) {
  Encoded out;
  std::copy(kMagic.begin(), kMagic.end(), out.signature.begin());
  out.signature[3] = std::byte{kProtocolMajor};
  out.body = capnp::messageToFlatArray(message);
  return out;
}

std::optional<std::uint8_t> peek_version(std::span<const std::byte> frame) {
  if (frame.size() != kSignatureSize || !std::equal(kMagic.begin(), kMagic.end(), frame.begin())) {
    return std::nullopt;
  }
  return static_cast<std::uint8_t>(frame[3]);
}

Result<std::unique_ptr<Decoded>> decode(std::span<const std::span<const std::byte>> frames,
                                        const CodecLimits& limits) {
  if (frames.size() != 2) {
    return invalid("expected 2 frames, got " + std::to_string(frames.size()));
  }
  const auto version = peek_version(frames[0]);
  if (!version) {
    return invalid("bad signature frame (" + std::to_string(frames[0].size()) + " bytes)");
  }
  if (*version != kProtocolMajor) {
    return invalid("protocol version " + std::to_string(*version) + " not supported (expected " +
                   std::to_string(kProtocolMajor) + ")");
  }

  const auto body = frames[1];
  if (body.empty()) return invalid("empty body");
  if (body.size() > limits.max_body_bytes) {
    return invalid("body of " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                   std::to_string(limits.max_body_bytes));
  }
  if (body.size() % kWordBytes != 0) {
    return invalid("body length " + std::to_string(body.size()) + " is not a multiple of 8");
  }
  if (auto table = check_segment_table(body); !table) return table.error();

  // Always copy: TCP frames are rarely 8-byte aligned, and an owned copy
  // keeps the Decoded independent of the caller's frame buffers.
  const std::size_t words = body.size() / kWordBytes;
  auto aligned = kj::heapArray<capnp::word>(words);
  std::memcpy(aligned.begin(), body.data(), body.size());

  // Separate budgets: each of decode()'s walks gets one body's worth (a
  // full read that costs more means shared pointers: amplification,
  // refused), the caller's reader the rest. With one shared budget, a
  // message whose full read cost up to 2.5 bodies passed and left the
  // caller too little to read it twice.
  capnp::ReaderOptions walk_options;
  walk_options.traversalLimitInWords = std::min<std::uint64_t>(limits.traversal_factor, 1) * words;
  walk_options.nestingLimit = std::min(limits.nesting_limit, kMaxNesting);
  capnp::ReaderOptions options = walk_options;
  options.traversalLimitInWords =
      (limits.traversal_factor > kWalks ? limits.traversal_factor - kWalks : 0) * words;

  std::unique_ptr<FlatDecoded> decoded;
  try {
    decoded = std::make_unique<FlatDecoded>(std::move(aligned), options);
    decoded->validate(walk_options);
  } catch (const kj::Exception& e) {
    return invalid("invalid Cap'n Proto structure: " + one_line(e.getDescription()));
  }

  const auto got = decoded->envelope().getVersion();
  if (got != schema::PROTOCOL_VERSION) {
    return invalid("Envelope.version " + std::to_string(got) +
                   " does not match signature version " + std::to_string(schema::PROTOCOL_VERSION));
  }
  return std::unique_ptr<Decoded>(std::move(decoded));
}

}  // namespace kiln::proto
