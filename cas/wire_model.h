// Plain model values <-> the Cap'n Proto structs inside wire messages.
// (Canonical *blob* encodings are in model.h; this is for message fields.)
// Readers are untrusted: every from_wire validates as decode_* in model.h
// does (hash lengths, names, order) and returns an error, never throws
// (the message was already fully validated by proto::decode, so field
// access itself cannot throw). Property lists must be sorted by (name,
// value) and unique, as Command.platform is.
//
// to_wire leaves empty texts, data and lists unset: model.cpp builds the
// canonical encodings of Action and ActionResult with these same functions.
#pragma once

#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"
#include "proto/model.capnp.h"

namespace kiln::cas {

schema::DigestFunction to_wire(DigestFunction fn);
// kInvalidArgument for an enumerant this build does not know.
Result<DigestFunction> from_wire(schema::DigestFunction fn);

void to_wire(const Digest& digest, schema::Digest::Builder out);
Result<Digest> from_wire(schema::Digest::Reader in, DigestFunction fn);

void to_wire(const std::vector<Property>& properties, capnp::List<schema::Property>::Builder out);
Result<std::vector<Property>> from_wire(capnp::List<schema::Property>::Reader in);

void to_wire(const Action& action, DigestFunction fn, schema::Action::Builder out);
Result<Action> from_wire(schema::Action::Reader in, DigestFunction fn);

void to_wire(const ActionResult& result, schema::ActionResult::Builder out);
Result<ActionResult> from_wire(schema::ActionResult::Reader in, DigestFunction fn);

// The rules encode_action_result() checks (model.h), without encoding:
// output paths valid, sorted and unique, every digest of `fn`, no NUL in
// the worker id. Defined in model.cpp, beside the other rules.
Status check_action_result(const ActionResult& result, DigestFunction fn);

// Digest lists (FindMissing, LeaseResult.referenced).
void to_wire(const std::vector<Digest>& digests, capnp::List<schema::Digest>::Builder out);
Result<std::vector<Digest>> from_wire(capnp::List<schema::Digest>::Reader in, DigestFunction fn);

}  // namespace kiln::cas
