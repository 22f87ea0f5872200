#include "client/local_store.h"

#include <filesystem>
#include <ostream>

#include "base/size.h"

namespace kiln::client {

void throw_error(const Error& error, const std::string& context) {
  int code = kExitFailure;
  if (error.code == Errc::kInvalidArgument) code = kExitUsage;
  if (error.code == Errc::kNotFound) code = kExitNotFound;
  throw CommandError(code, context.empty() ? error.message : context + ": " + error.message);
}

std::unique_ptr<cas::Store> open_local_store(Context& ctx) {
  return check(try_open_local_store(ctx, LocalStoreOptions{}));
}

Result<std::unique_ptr<cas::Store>> try_open_local_store(Context& ctx,
                                                         const LocalStoreOptions& local) {
  cas::StoreOptions options;
  options.dir = ctx.config.dir() / "store";
  options.max_size = ctx.config.max_size();
  options.function = ctx.config.digest_function();
  options.durable = local.durable;
  if (local.warn) {
    options.warn = local.warn;
  } else {
    std::ostream& err = ctx.err;
    options.warn = [&err](std::string_view message) {
      err << "kiln: warning: " << message << '\n';
    };
  }
  return cas::Store::open(std::move(options));
}

}  // namespace kiln::client
