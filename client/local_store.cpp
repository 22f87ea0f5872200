#include "client/local_store.h"

#include <filesystem>
#include <ostream>

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
  options.dir = std::filesystem::path(ctx.config.get("dir")) / "store";
  auto max_size = cas::parse_size(ctx.config.get("max_size"));
  if (!max_size.ok()) {
    return make_error(Errc::kInvalidArgument, "max_size: " + max_size.error().message);
  }
  options.max_size = *max_size;
  const auto function = cas::parse_digest_function(ctx.config.get("digest_function"));
  if (!function) {
    return make_error(
        Errc::kInvalidArgument,
        "digest_function: '" + ctx.config.get("digest_function") + "' is not xxh3-128 or sha256");
  }
  options.function = *function;
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
