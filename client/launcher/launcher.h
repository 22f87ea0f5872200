// The compiler launcher: `kiln g++ -c x.cc -o x.o`, a symlink named like
// the compiler, or CMAKE_<LANG>_COMPILER_LAUNCHER=kiln. docs/launcher.md is
// the user's description; client/compile_key.h says what the keys cover.
//
// One invocation, top to bottom:
//   resolve the compiler on PATH (skipping kiln itself)
//   analyze the arguments            uncacheable -> run the compiler as is
//   open the local store             cannot -> warn once, run the compiler
//   direct lookup: manifest key -> manifest -> entry whose files all match
//                  -> result -> write object, .d, replay stdout/stderr
//   miss, local:   compile with -MD to a known file, hash what it read,
//                  store result and manifest entry (depend mode)
//   miss, grid or __TIME__: preprocess here, the action "compile this
//                  preprocessed file" is the key; the grid runs it on a
//                  worker with the same toolchain; any grid failure ->
//                  compile here
// The compiler's exit code, stdout and stderr always reach the user as the
// compiler produced them; kiln's own trouble is logged (KILN_LOGFILE) and,
// only when the cache cannot be used at all, one "kiln: warning:" line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cas/store.h"
#include "client/cli.h"
#include "client/grid/options.h"
#include "exec/action_executor.h"

namespace kiln::client::launcher {

// How the launcher reaches the grid. The binary that links ZeroMQ sets
// make_executor; a binary without it sets handoff instead, which replaces
// the process with one that has it (same arguments, same environment) and
// does not return. It is called only before the launcher has written
// anything.
struct GridAccess {
  std::function<std::unique_ptr<exec::ActionExecutor>(cas::Store&, const grid::GridOptions&)>
      make_executor;
  std::function<void()> handoff;
};

// Runs the compile. `argv[0]` is the compiler as the user named it (a name
// looked up on PATH, or a path). Returns the exit code to exit with.
int run_launcher(Context& ctx, const std::vector<std::string>& argv, const GridAccess& grid);

// The ccache-style options: -s/--show-stats [--json], -z/--zero-stats,
// -C/--clear, -M/--max-size SIZE, in the order given. `args` excludes argv[0].
// Returns the exit code.
int run_cache_options(Context& ctx, const std::vector<std::string>& args,
                      const std::string& config_path);

// True when `args` (argv without argv[0]) starts with one of those options.
bool is_cache_option(const std::string& arg);

}  // namespace kiln::client::launcher
