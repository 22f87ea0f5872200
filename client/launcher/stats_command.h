// The ccache-style cache options of `kiln`: -s/--show-stats [--json],
// -z/--zero-stats, -C/--clear, -M/--max-size SIZE. They read and reset the
// counters file (stats.h), the local store's size and the config file.
#pragma once

#include <string>
#include <vector>

#include "client/cli.h"

namespace kiln::client::launcher {

// Runs the options in the order given. `args` excludes argv[0]. Returns the
// exit code; throws CommandError on an unknown option (usage), a bad size,
// or a store or file that cannot be read or written.
int run_cache_options(Context& ctx, const std::vector<std::string>& args,
                      const std::string& config_path);

// True when `arg` (argv[1]) is one of those options.
bool is_cache_option(const std::string& arg);

}  // namespace kiln::client::launcher
