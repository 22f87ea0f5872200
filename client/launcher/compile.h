// The compile path of the launcher: one cacheable compile (compiler_args.h)
// as a Job (job.h).
//
// attempt():
//   direct mode   the manifest key (compile_key.h) -> manifest -> the first
//                 entry whose files all still match -> its result: write
//                 the object and the .d, replay stdout and stderr
//   grid or __TIME__ (preprocessor mode): preprocess here; the key is the
//                 preprocessed action (action_key.h): a local hit, else with
//                 a scheduler the grid runs it on a worker with the same
//                 toolchain (a result with diagnostics, a failure or no
//                 answer: compile here)
//   the lean kiln hands a miss meant for the grid over to kiln-grid, with
//   the compiler, its identity and the manifest key (handoff.h); kiln-grid
//   goes on from there
// prepare() / store(): a miss compiled here runs the user's command with
// -MD into a file kiln reads (the user's own -MF file when there is one;
// -MMD becomes -MD and kiln writes the user's -MMD file itself), hashes
// every file it lists, and stores the result and a manifest entry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/cli.h"
#include "client/launcher/compiler_args.h"
#include "client/launcher/job.h"
#include "client/launcher/launcher.h"

namespace kiln::client::launcher {

// `argv` as the user gave it, `compiler` resolved, `args` its analysis.
// `grid` must outlive the job.
std::unique_ptr<Job> make_compile_job(Context& ctx, std::vector<std::string> argv,
                                      std::string compiler, CompileArgs args,
                                      const GridAccess& grid, const JobJournal& journal);

}  // namespace kiln::client::launcher
