// The link path of the launcher: one cacheable link (link_args.h) as a Job
// (job.h), with the same manifest scheme as a compile. The key
// (action_key.h) covers the compiler identity, the arguments, the compile
// environment and LIBRARY_PATH; the manifest lists every file the linker
// read, from its own --dependency-file (objects, archives, shared
// libraries, start files, linker scripts). Links always run here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/cli.h"
#include "client/launcher/job.h"
#include "client/launcher/link_args.h"

namespace kiln::client::launcher {

// `argv` as the user gave it, `compiler` resolved, `link` its analysis.
std::unique_ptr<Job> make_link_job(Context& ctx, std::vector<std::string> argv,
                                   std::string compiler, LinkArgs link, const JobJournal& journal);

}  // namespace kiln::client::launcher
