// Opening this machine's store (<dir>/store) as the configuration says.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "cas/store.h"
#include "client/cli.h"

namespace kiln::client {

// Throws CommandError (usage: bad max_size or digest_function; failure:
// the store cannot be opened). Warnings go to ctx.err as "kiln: warning:".
std::unique_ptr<cas::Store> open_local_store(Context& ctx);

struct LocalStoreOptions {
  bool durable = true;
  // Where the store's warnings go; default: "kiln: warning: …" on ctx.err.
  std::function<void(std::string_view)> warn;
};
// The same store, as a Result instead of a CommandError.
Result<std::unique_ptr<cas::Store>> try_open_local_store(Context& ctx,
                                                         const LocalStoreOptions& local);

}  // namespace kiln::client
