// The compiler launcher: `kiln g++ -c x.cc -o x.o`, a symlink named like
// the compiler, or CMAKE_<LANG>_COMPILER_LAUNCHER=kiln. docs/launcher.md is
// the user's description; compile_key.h and action_key.h say what the keys
// cover.
//
// One invocation, top to bottom (launcher.cpp):
//   resolve the compiler on PATH (skipping kiln itself)
//   analyze the arguments            uncacheable -> run the compiler as is
//   a compile (compile.h) or a link (link.h) tries the cache:
//     open the local store           cannot -> warn once, run the compiler
//     direct lookup: manifest key -> manifest -> entry whose files all match
//                    -> result -> write object, .d, replay stdout/stderr
//     grid or __TIME__: preprocess here, the action "compile this
//                    preprocessed file" is the key; the grid runs it on a
//                    worker with the same toolchain
//   anything the cache could not answer falls back to the real compiler,
//   run once (a miss compiles with -MD to a known file, then kiln hashes
//   what it read and stores the result and a manifest entry: depend mode)
//   the outcome is counted once: the stats file and one KILN_LOGFILE line
// The compiler's exit code, stdout and stderr always reach the user as the
// compiler produced them; kiln's own trouble is logged (KILN_LOGFILE) and,
// only when the cache cannot be used at all, one "kiln: warning:" line.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cas/store.h"
#include "client/cli.h"
#include "client/grid/options.h"
#include "client/launcher/handoff.h"
#include "exec/action_executor.h"

namespace kiln::client::launcher {

// How the launcher reaches the grid. The binary that links ZeroMQ
// (kiln-grid) sets make_executor, and handed_over when the lean kiln handed
// it this compile; the binary without it (kiln) sets handoff instead.
struct GridAccess {
  std::function<std::unique_ptr<exec::ActionExecutor>(cas::Store&, const grid::GridOptions&)>
      make_executor;
  // Replaces the process with one that has the grid client (same
  // arguments, same environment, plus `handoff` as KILN_HANDOFF when
  // given); does not return (throws CommandError when it cannot). Called
  // only before anything has been written.
  std::function<void(const std::optional<Handoff>& handoff)> handoff;
  // What kiln worked out before handing this compile over (take_handoff).
  std::optional<Handoff> handed_over;
  // The platforms of the grid's workers (kiln-grid only; empty in kiln).
  std::function<Result<std::vector<std::vector<cas::Property>>>(const grid::GridOptions&)>
      worker_platforms;
};

// Runs the compile. `argv[0]` is the compiler as the user named it (a name
// looked up on PATH, or a path). Returns the exit code to exit with, or
// does not return (the real compiler replaces this process when the command
// passes through: uncacheable, KILN_DISABLE, the cache unavailable).
// Throws CommandError when the compiler is not found (127) or a setting is
// bad (2).
int run_launcher(Context& ctx, const std::vector<std::string>& argv, const GridAccess& grid);

// Takes KILN_HANDOFF out of this process's environment (so it reaches
// neither the configuration nor the compiler nor a child) and returns the
// handoff in it when the record is valid for this process: made by this pid
// for exactly `argv` (main()'s). Call first thing in main(), in both
// binaries: kiln discards the result.
std::optional<Handoff> take_handoff(char** argv);

}  // namespace kiln::client::launcher
