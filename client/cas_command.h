// `kiln cas`: the content-addressable store, for people and scripts.
//
//   kiln cas put FILE...            store files, print "<digest>  <file>"
//   kiln cas get DIGEST [-o FILE]   write a blob to FILE (default stdout)
//   kiln cas tree DIR               store a directory tree, print its root
//   kiln cas checkout DIGEST DIR    recreate a stored tree in an empty DIR
//   kiln cas stats [--json]         what the store holds
//   kiln cas gc --max-size SIZE     evict least-recently-used blobs
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "client/cli.h"

namespace kiln::client {

// Registers the `cas` subcommand on `app`. The returned function runs the
// chosen action once parsing is done, returning the exit code.
std::function<int(Context&)> add_cas_command(CLI::App& app);

}  // namespace kiln::client
