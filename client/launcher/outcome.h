// How one launcher invocation ends, as a value: what the cache did
// (CompileOutcome), or what it could not do and so how the real compiler
// must run (Fallback). Pure, so the table of what each ending counts in
// `kiln -s` and writes to KILN_LOGFILE is unit-tested on values.
//
// The launcher (launcher.cpp) is built on the split of ccache's
// do_cache_compilation / cache_compilation: the inner step of a job tries
// the cache and returns an Attempt, a finished CompileOutcome (a hit, a
// remote compile) or a Fallback; the outer step runs the real compiler
// exactly once for a Fallback, then counts the outcome, once, in one place.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "cas/digest.h"

namespace kiln::client::launcher {

enum class Outcome {
  // Served from the cache: no compiler ran for the user's command.
  kDirectHit,        // manifest entry whose files all match
  kPreprocessedHit,  // the preprocessed action's result, found here
  kRemoteHit,        // the grid had the result
  // A miss, compiled and stored.
  kMissLocal,           // compiled here
  kMissRemote,          // compiled by a grid worker from preprocessed text
  kMissRemoteHeaders,   // compiled by a grid worker with the shipped headers and toolchain
  kMissRemoteFallback,  // the grid failed or is backing off: compiled here
  // The compiler ran and failed (exit code passed on), or could not start.
  kCompileFailed,
  kError,  // kiln's own: the compiler could not be run (exit 127)
  // The command ran unchanged, replacing kiln.
  kUncacheable,  // counted under its reason
  kCacheUnused,  // KILN_DISABLE, or the cache is unavailable: not counted
  // Links (counted apart from compiles; a failed link is not counted).
  kLinkHit,
  kLinkMiss,
  kLinkFailed,  // the linker's exit code passed on
  kLinkError,   // the linker could not be run (exit 127)
};

struct CompileOutcome {
  Outcome outcome = Outcome::kError;
  int exit_code = 0;     // what kiln exits with (unused when the command passes through)
  std::string reason{};  // kUncacheable: why, as analyze_compile/analyze_link said
};

// The cache could not answer: the real compiler runs once, in the outer step.
struct Fallback {
  // What the invocation counts as when the compiler then succeeds:
  // kMissLocal, kMissRemoteFallback or kLinkMiss (the output is stored), or
  // kUncacheable / kCacheUnused (the command passes through unchanged).
  Outcome outcome = Outcome::kMissLocal;
  std::string reason{};  // kUncacheable: why
  // A compile's result is stored under this key (the preprocessed action's
  // digest, which any machine can compute); nullopt: the depend-mode key.
  std::optional<cas::Digest> store_as{};
};

using Attempt = std::variant<CompileOutcome, Fallback>;

// Whether `outcome` means the command runs unchanged in place of kiln
// (execv: nothing to capture or store, so it is counted before).
bool passes_through(Outcome outcome);

// The outcome of a fallback whose compiler exited non-zero, or could not be
// started: kCompileFailed / kError, kLinkFailed / kLinkError for a link.
Outcome failed_outcome(const Fallback& fallback);
Outcome unrunnable_outcome(const Fallback& fallback);

// The counter `outcome` adds one to in the stats file (stats.h's names:
// "direct_hit", …, "uncacheable:" + stats_category(reason)), or nullopt
// for outcomes that are not counted (kCacheUnused, failed links).
std::optional<std::string> outcome_counter(const CompileOutcome& outcome);

// The KILN_LOGFILE line for `outcome` (without the "[pid] " prefix the log
// adds): "<subject>: <counter>", "uncacheable: <reason>", "<subject>: link
// failed"; nullopt when nothing is logged.
std::optional<std::string> outcome_log_line(const CompileOutcome& outcome,
                                            std::string_view subject);

// What the journal (client/journal.h) calls `outcome`: its counter name,
// or "link_failed", "link_error", "cache_unused" for those not counted.
std::string journal_outcome(const CompileOutcome& outcome);
// Whether `outcome` was served from a cache: no compiler or linker ran.
bool served_from_cache(Outcome outcome);

// The counter category of an uncacheable reason: every "linking (…)"
// reason is "linking", every unreadable response file one category; other
// reasons are their own category.
std::string stats_category(const std::string& reason);

}  // namespace kiln::client::launcher
