// What the lean `kiln` passes to `kiln-grid` when it hands a compile over
// (client/grid_link.h): the work it has already done, so kiln-grid does not
// redo it. Pure: the record's text form, and its validation.
//
// kiln hands a compile over after its direct lookup missed, when the miss
// is to go to the grid. By then it has resolved the compiler on PATH,
// looked up the compiler's identity, and computed the manifest key (which
// read and hashed the source); kiln-grid receives all of it and goes on
// with the preprocessed compile.
//
// The record travels in one environment variable across the execv (same
// argv, same environment, same pid):
//
//   KILN_HANDOFF=v2;pid=<pid>;argv=<digest>;compiler=<path>;identity=<digest>;manifest=<digest>;direct=<0|1>;invocation=<id>;start=<us>
//
// Fields in that order, each once; values percent-encoded ('%', ';' and
// control characters as %XX). kiln-grid takes the variable out of its
// environment before anything reads it, so it never reaches the compiler,
// a cache key or a child process, and accepts the record only for its own
// pid and argv (a value inherited from elsewhere names another process or
// command line). An absent or invalid record means doing the work anew.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cas/digest.h"

namespace kiln::client::launcher {

inline constexpr const char* kHandoffVariable = "KILN_HANDOFF";

struct Handoff {
  std::string compiler{};      // the real compiler, resolved on PATH: an absolute path
  cas::Digest identity{};      // its toolchain identity (XXH3-128, as the workers advertise)
  cas::Digest manifest_key{};  // the direct-mode key; its direct lookup missed
  bool direct = true;          // false: the source uses __TIME__ (preprocessor mode only)
  // The invocation kiln worked out (client/invocation.h; "" = none), and
  // when kiln started (µs since the epoch), so the journal's record of the
  // compile spans both processes and the id is not derived again.
  std::string invocation{};
  std::int64_t started_us = 0;
  bool operator==(const Handoff&) const = default;
};

// The record for `handoff` from the process `pid` running `argv` (main()'s,
// as execv passes it on).
std::string encode_handoff(const Handoff& handoff, std::int64_t pid,
                           std::span<const std::string> argv);

// The handoff in `text`, if it is a well-formed v2 record made by the
// process `pid` for exactly `argv`. kInvalidArgument naming the first
// problem: another version, a missing, misplaced or malformed field, another
// pid or command line, a relative compiler path, an identity that is not
// XXH3-128.
Result<Handoff> decode_handoff(std::string_view text, std::int64_t pid,
                               std::span<const std::string> argv);

}  // namespace kiln::client::launcher
