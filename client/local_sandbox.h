// The sandbox of the embedded default: where `kiln run` and `kiln test`
// run actions when no grid is configured, as the `sandbox` setting says
// (client/config.h). Made once per command, when the first action needs
// it, and shared by every thread that runs actions.
#pragma once

#include <memory>

#include "client/cli.h"
#include "exec/sandbox.h"

namespace kiln::client {

// sandbox=bubblewrap: a bubblewrap sandbox, or CommandError (failure) when
// it cannot work here, naming the reason and sandbox=none. sandbox=auto:
// bubblewrap where it works, else none after one "kiln: warning:" line.
// sandbox=none: none. Bad sandbox_paths are a usage error.
std::shared_ptr<const exec::Sandbox> make_local_sandbox(Context& ctx);

}  // namespace kiln::client
