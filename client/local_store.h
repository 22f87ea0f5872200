// Opening this machine's store (<dir>/store) as the configuration says.
#pragma once

#include <memory>

#include "cas/store.h"
#include "client/cli.h"

namespace kiln::client {

// Throws CommandError (usage: bad max_size or digest_function; failure:
// the store cannot be opened). Warnings go to ctx.err as "kiln: warning:".
std::unique_ptr<cas::Store> open_local_store(Context& ctx);

}  // namespace kiln::client
