// libFuzzer harness for the frame codec (proto/codec.h): the first 4 bytes
// of the input are the signature frame, the rest the body frame, decoded
// with the default CodecLimits.
//
// Beyond "no crash, no exception out of decode()", it checks what decode()
// promises its callers:
//   - an accepted message can be read in full twice (every known field,
//     through capnp's dynamic API) without a kj::Exception: the traversal
//     budget left to the caller is enough, whatever pointers the body
//     shares;
//   - round trip: the accepted Envelope, copied into a fresh builder and
//     encoded, decodes again, and both are the same value (equal canonical
//     forms, unknown fields included); the copy may only be refused for
//     the traversal limit (it is compact, so its budget can be smaller);
//   - a rejection is Errc::kInvalidArgument with a one-line printable reason.
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <kj/exception.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz/invariant.h"
#include "proto/codec.h"

namespace kiln::proto {
namespace {

using fuzz::require;

void read_all(const capnp::DynamicValue::Reader& value);

void read_all(const capnp::DynamicStruct::Reader& s) {
  for (const auto& field : s.getSchema().getNonUnionFields()) read_all(s.get(field));
  KJ_IF_MAYBE (field, s.which()) {
    read_all(s.get(*field));
  }
}

void read_all(const capnp::DynamicValue::Reader& value) {
  switch (value.getType()) {
    case capnp::DynamicValue::STRUCT:
      read_all(value.as<capnp::DynamicStruct>());
      break;
    case capnp::DynamicValue::LIST:
      for (const auto& element : value.as<capnp::DynamicList>()) read_all(element);
      break;
    case capnp::DynamicValue::TEXT:
      (void)value.as<capnp::Text>().size();
      break;
    case capnp::DynamicValue::DATA:
      (void)value.as<capnp::Data>().size();
      break;
    default:
      break;
  }
}

bool readable(const Decoded& decoded) {
  try {
    read_all(capnp::toDynamic(decoded.envelope()));
    return true;
  } catch (const kj::Exception&) {
    return false;
  }
}

void check_rejection(const Error& error) {
  require(error.code == Errc::kInvalidArgument, "a rejection is kInvalidArgument");
  require(!error.message.empty(), "a rejection has a reason");
  for (const char c : error.message) {
    require(c >= 0x20 && c <= 0x7e, "a rejection's reason is one printable line");
  }
}

void run(std::span<const std::byte> input) {
  const std::size_t split = input.size() < kSignatureSize ? input.size() : kSignatureSize;
  const std::span<const std::byte> frames[] = {input.first(split), input.subspan(split)};
  auto decoded = decode(frames);
  if (!decoded.ok()) {
    check_rejection(decoded.error());
    return;
  }
  require(peek_version(frames[0]) == kProtocolMajor, "an accepted signature has our version");
  const Decoded& first = **decoded;
  // The caller's budget: two full reads. The copy below is the second.
  require(readable(first), "an accepted message reads in full (first read)");
  capnp::MallocMessageBuilder copy;
  try {
    copy.setRoot(first.envelope());
  } catch (const kj::Exception&) {
    require(false, "an accepted message reads in full (second read: the copy)");
  }

  const Encoded encoded = encode(copy);
  auto again = decode(encoded.frames());
  if (!again.ok()) {
    // The copy drops unreachable words, so its budget (a multiple of its
    // size) can be smaller than the original's: a list of zero-sized
    // elements (charged one word each) that fit the slack of the original
    // may not fit the copy. Anything else is a broken round trip.
    require(again.error().message.find("traversal limit") != std::string::npos,
            "a re-encoded accepted message decodes (or is refused for its smaller budget)");
    return;
  }
  require(readable(**again), "a re-encoded accepted message reads in full");
  const auto want = capnp::canonicalize(copy.getRoot<schema::Envelope>().asReader());
  const auto got = capnp::canonicalize((*again)->envelope());
  require(want.asBytes() == got.asBytes(), "the round trip keeps the value");
}

}  // namespace
}  // namespace kiln::proto

// libFuzzer's entry point, named by libFuzzer.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::proto::run(std::as_bytes(std::span(data, size)));
  return 0;
}
