// `kiln explain` and `kiln provenance`: where a file kiln made came from.
//
//   kiln explain FILE [--json]
//       the action that made FILE (client/explain.h): what it was, whether
//       it was a cache hit, where it ran, its command, inputs, toolchain,
//       timings and invocation
//   kiln provenance FILE [-o OUT]
//       the same as an in-toto Statement with an SLSA v1 predicate
//       (client/provenance.h), in a DSSE envelope signed with signing_key
//       when one is configured (client/signing.h)
//   kiln provenance --verify ENVELOPE --key PUB [FILE]
//       checks the envelope's signature and, given FILE, that FILE's
//       SHA-256 is one of its subjects: "verified", or exit 1 and why
//
// Exit codes: 1 FILE cannot be read (or a verification fails), 2 usage
// (FILE is a directory; a key file that is missing, unreadable, malformed
// or readable by others), 3 the journal has no record of FILE.
//
// Both executables declare both commands and run `explain`; `provenance`
// runs in kiln-grid only (provenance_command.cpp), so the lean kiln that
// starts for every compile does not load libsodium (client/grid_link.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "client/cli.h"
#include "client/explain.h"

namespace kiln::client {

struct ProvenanceOptions {
  std::string file;    // the output to describe (or to check, with verify)
  std::string output;  // -o: write here (atomically) instead of stdout
  std::string verify;  // --verify ENVELOPE
  std::string key;     // --key PUB, with --verify
};

using ProvenanceRunner = std::function<int(Context&, const ProvenanceOptions&)>;

std::function<int(Context&)> add_explain_command(CLI::App& app);
std::function<int(Context&)> add_provenance_command(CLI::App& app, ProvenanceRunner run);

// The record of the action that made `file`. Throws CommandError: failure
// when `file` cannot be read (naming the OS's reason), usage when it is a
// directory, not found when the journal has no record of its contents.
Explanation explain_file(Context& ctx, const std::string& file);

// What `kiln provenance` does (kiln-grid only).
int run_provenance(Context& ctx, const ProvenanceOptions& opts);

}  // namespace kiln::client
