// stats_command.h: kiln -s, -z, -C, -M.
#include "client/launcher/stats_command.h"

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "base/files.h"
#include "base/size.h"
#include "client/launcher/stats.h"
#include "client/local_store.h"

namespace kiln::client::launcher {

namespace fs = std::filesystem;

bool is_cache_option(const std::string& arg) {
  return arg == "-s" || arg == "--show-stats" || arg == "-z" || arg == "--zero-stats" ||
         arg == "-C" || arg == "--clear" || arg == "-M" || arg == "--max-size" ||
         arg.rfind("--max-size=", 0) == 0;
}

int run_cache_options(Context& ctx, const std::vector<std::string>& args,
                      const std::string& config_path) {
  const fs::path dir = ctx.config.dir();
  bool json = std::find(args.begin(), args.end(), "--json") != args.end();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") continue;
    if (a == "-s" || a == "--show-stats") {
      auto counters = read_stats(dir / "stats");
      if (!counters.ok()) throw_error(counters.error(), "statistics");
      StatsView view;
      view.cache_dir = dir.string();
      view.max_size = ctx.config.max_size();
      std::error_code ec;
      if (fs::exists(dir / "store" / "data.mdb", ec)) {
        auto store = check(try_open_local_store(ctx, LocalStoreOptions{}), "local cache");
        auto stats = check(store->stats(), "local cache");
        view.cache_size = stats.total_bytes;
      }
      ctx.out << (json ? render_stats_json(*counters, view) : render_stats_text(*counters, view));
      if (json && !ctx.out.good()) return kExitFailure;
    } else if (a == "-z" || a == "--zero-stats") {
      check(zero_stats(dir / "stats"), "statistics");
      ctx.out << "Statistics zeroed\n";
    } else if (a == "-C" || a == "--clear") {
      std::error_code ec;
      if (fs::exists(dir / "store" / "data.mdb", ec)) {
        auto store = check(try_open_local_store(ctx, LocalStoreOptions{}), "local cache");
        auto report = check(store->gc(0), "clearing the cache");
        ctx.out << "Cleared " << report.evicted_blobs << " blobs ("
                << base::format_size(report.evicted_bytes) << ")\n";
      } else {
        ctx.out << "Cache is empty\n";
      }
    } else if (a == "-M" || a == "--max-size" || a.rfind("--max-size=", 0) == 0) {
      std::string value;
      if (a.rfind("--max-size=", 0) == 0) {
        value = a.substr(11);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        throw CommandError(kExitUsage, a + " wants a size, e.g. 10G");
      }
      check(base::parse_size(value), a);
      std::error_code ec;
      fs::create_directories(fs::path(config_path).parent_path(), ec);
      auto old_file = base::read_file(config_path);  // unreadable or missing: a new file
      const std::string old_text = old_file.ok() ? std::move(old_file).value() : std::string();
      check(
          base::write_file_atomically(config_path, with_config_value(old_text, "max_size", value)),
          "config file");
      ctx.out << "Set cache size limit to " << value << " in " << config_path << '\n';
    } else {
      throw CommandError(kExitUsage, "unknown option " + a + " (see kiln --help)");
    }
  }
  return kExitOk;
}

}  // namespace kiln::client::launcher
