// `kiln provenance`'s document: an in-toto Statement v1 whose predicate is
// SLSA Provenance v1, built from the journal record of the action that
// made a file (client/journal.h). docs/insight.md is the user's copy of
// this mapping:
//
//   subject[0]            {name: the output's path, digest: {sha256: …,
//                          "kiln-<digest function>": kiln's own hash}}
//   buildDefinition
//     buildType           kBuildType: one kiln action (compile, link, test)
//     externalParameters  {kind, command, cwd, labels {name: value}}: what
//                          the user controls; labels (ticket, commit) are
//                          set by the user (KILN_LABELS), so they are here
//     internalParameters  {actionDigest, digestFunction, toolchain {path,
//                          identity}, outcome, cached}: what kiln set
//     resolvedDependencies one ResourceDescriptor per input {name: path,
//                          digest}, and the toolchain {name: "toolchain",
//                          uri: file://PATH, digest: {kiln-toolchain: …}}
//   runDetails
//     builder.id          kiln + where the action ran (urn:kiln:builder:…)
//     metadata            {invocationId, startedOn, finishedOn} (RFC 3339,
//                          the record's start and end, UTC, microseconds)
//     byproducts          the action's other outputs {name, digest}
// An input's digest is kiln's own: "sha256" when the store's function is
// SHA-256, else "kiln-xxh3-128" (in-toto's DigestSet allows other
// algorithms; a consumer ignores the ones it does not know).
//
// Pure: values in, JSON text out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "client/invocation.h"
#include "client/journal.h"

namespace kiln::client {

inline constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kSlsaPredicateType = "https://slsa.dev/provenance/v1";
// The buildType: one kiln action, whose parameters are the fields above.
inline constexpr std::string_view kBuildType = "urn:kiln:buildType:action:v1";

struct ProvenanceInput {
  const ActionRecord& record;
  const Invocation& invocation;
  std::string subject_name;  // the output's path, as the record names it
  std::string sha256_hex;    // SHA-256 of the subject's bytes
  std::string kiln_digest;   // "<hex>/<size>" in record.digest_function
};

// The Statement, as pretty-printed JSON (ends in a newline).
std::string provenance_statement(const ProvenanceInput& input);

// "2024-05-01T12:34:56.123456Z" for microseconds since the Unix epoch.
std::string rfc3339_utc(std::int64_t unix_us);

// The builder id for an action made at `where` ("local" or a worker id)
// through `scheduler` ("" = none): urn:kiln:builder:local, or
// urn:kiln:builder:worker:<id>@<scheduler>, percent-encoded.
std::string builder_id(std::string_view where, std::string_view scheduler);

// The DigestSet key for a digest of kiln's `function` ("sha256" or
// "xxh3-128"): "sha256" itself, or "kiln-xxh3-128".
std::string digest_set_key(std::string_view function);

}  // namespace kiln::client
