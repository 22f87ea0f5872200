// `kiln cas`: see cas_command.h. Each action opens the local store from the
// configuration, does one thing, and reports failures as CommandError.
#include "client/cas_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "base/size.h"
#include "cas/put_tree.h"
#include "cas/store.h"
#include "cas/tree.h"
#include "client/local_store.h"

namespace kiln::client {
namespace {

namespace fs = std::filesystem;

struct CasOptions {
  std::vector<std::string> files;
  std::string digest;
  std::string output;
  std::string dir;
  std::string max_size;
  bool json = false;
};

cas::Digest parse_digest_arg(const std::string& text) {
  auto digest = cas::parse_digest(text);
  if (!digest.ok()) throw CommandError(kExitUsage, digest.error().message);
  return *digest;
}

int run_put(Context& ctx, const CasOptions& opts) {
  auto store = open_local_store(ctx);
  for (const auto& file : opts.files) {
    const cas::Digest digest = check(store->put_file(file));
    ctx.out << digest.to_string() << "  " << file << '\n';
  }
  return kExitOk;
}

// Writes the blob to `output` atomically: a temporary file beside it, then
// rename, so an interrupted get never leaves a half-written file.
int run_get(Context& ctx, const CasOptions& opts) {
  const cas::Digest digest = parse_digest_arg(opts.digest);
  auto store = open_local_store(ctx);
  if (opts.output.empty() || opts.output == "-") {
    auto blob = check(store->get(digest));
    if (!blob)
      throw CommandError(kExitNotFound, "blob " + digest.to_string() + " is not in the store");
    ctx.out.write(blob->data(), static_cast<std::streamsize>(blob->size()));
    ctx.out.flush();
    return kExitOk;
  }
  const fs::path output = fs::absolute(opts.output);
  const fs::path parent = output.parent_path();
  const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    throw CommandError(kExitFailure,
                       "cannot open directory " + parent.string() + ": " + std::strerror(errno));
  }
  const std::string temp =
      "." + output.filename().string() + ".kiln-tmp." + std::to_string(::getpid());
  ::unlinkat(dir_fd, temp.c_str(), 0);
  auto written = store->write_blob_to(digest, dir_fd, temp, false);
  if (!written.ok() || !*written) {
    ::unlinkat(dir_fd, temp.c_str(), 0);
    ::close(dir_fd);
    if (!written.ok()) throw_error(written.error());
    throw CommandError(kExitNotFound, "blob " + digest.to_string() + " is not in the store");
  }
  const int renamed = ::renameat(dir_fd, temp.c_str(), dir_fd, output.filename().c_str());
  const int err = errno;
  if (renamed != 0) ::unlinkat(dir_fd, temp.c_str(), 0);
  ::close(dir_fd);
  if (renamed != 0) {
    throw CommandError(kExitFailure, "cannot write " + output.string() + ": " + std::strerror(err));
  }
  return kExitOk;
}

int run_tree(Context& ctx, const CasOptions& opts) {
  auto store = open_local_store(ctx);
  const cas::BuiltTree tree = check(cas::build_tree(opts.dir, store->digest_function()));

  const cas::PutTreeReport report = check(cas::put_tree(*store, tree));
  ctx.out << tree.root.to_string() << '\n';
  ctx.err << "kiln: stored " << report.added << " new of " << report.blobs.size() << " blobs ("
          << base::format_size(report.added_bytes) << " new)\n";
  return kExitOk;
}

int run_checkout(Context& ctx, const CasOptions& opts) {
  const cas::Digest root = parse_digest_arg(opts.digest);
  auto store = open_local_store(ctx);
  std::error_code ec;
  fs::create_directories(opts.dir, ec);
  if (ec) throw CommandError(kExitFailure, "cannot create " + opts.dir + ": " + ec.message());
  check(cas::materialize_tree(*store, root, opts.dir), "checkout of " + root.to_string());
  return kExitOk;
}

int run_stats(Context& ctx, const CasOptions& opts) {
  auto store = open_local_store(ctx);
  const cas::StoreStats stats = check(store->stats());
  const std::string dir = (ctx.config.dir() / "store").string();
  if (opts.json) {
    nlohmann::json j = {
        {"store", dir},
        {"digest_function", std::string(cas::to_string(stats.function))},
        {"blobs", stats.blob_count},
        {"file_blobs", stats.file_blob_count},
        {"bytes", stats.total_bytes},
        {"max_size", stats.max_size},
        {"actions", stats.action_count},
        {"map_size", stats.map_size},
        {"map_used_bytes", stats.map_used_bytes},
    };
    ctx.out << j.dump(2) << '\n';
    return kExitOk;
  }
  ctx.out << "store            " << dir << '\n'
          << "digest function  " << cas::to_string(stats.function) << '\n'
          << "blobs            " << stats.blob_count << " (" << stats.file_blob_count
          << " as files)\n"
          << "size             " << base::format_size(stats.total_bytes);
  if (stats.max_size != 0) {
    ctx.out << " of " << base::format_size(stats.max_size) << " ("
            << (100 * stats.total_bytes / stats.max_size) << "%)";
  }
  ctx.out << '\n'
          << "actions cached   " << stats.action_count << '\n'
          << "lmdb map         " << base::format_size(stats.map_used_bytes) << " used of "
          << base::format_size(stats.map_size) << " reserved\n";
  return kExitOk;
}

int run_gc(Context& ctx, const CasOptions& opts) {
  const auto max_size = base::parse_size(opts.max_size);
  if (!max_size.ok()) throw CommandError(kExitUsage, "--max-size: " + max_size.error().message);
  auto store = open_local_store(ctx);
  const cas::GcReport report = check(store->gc(*max_size));
  ctx.out << "evicted " << report.evicted_blobs << " blobs ("
          << base::format_size(report.evicted_bytes) << ") and " << report.evicted_actions
          << " action results; " << base::format_size(report.total_bytes_after) << " remain\n";
  return kExitOk;
}

}  // namespace

std::function<int(Context&)> add_cas_command(CLI::App& app) {
  auto opts = std::make_shared<CasOptions>();
  auto action = std::make_shared<std::function<int(Context&, const CasOptions&)>>();

  CLI::App* cas = app.add_subcommand("cas", "Use the local content-addressable store directly");
  cas->require_subcommand(1);

  CLI::App* put = cas->add_subcommand("put", "Store files; print '<digest>  <file>' for each");
  put->add_option("files", opts->files, "Files to store")->required()->check(CLI::ExistingFile);
  put->callback([action] { *action = run_put; });

  CLI::App* get = cas->add_subcommand("get", "Write a blob to a file (or stdout)");
  get->add_option("digest", opts->digest, "<hex>/<size>")->required();
  get->add_option("-o,--output", opts->output, "Output file (default: stdout)");
  get->callback([action] { *action = run_get; });

  CLI::App* tree = cas->add_subcommand("tree", "Store a directory tree; print its root digest");
  tree->add_option("dir", opts->dir, "Directory")->required()->check(CLI::ExistingDirectory);
  tree->callback([action] { *action = run_tree; });

  CLI::App* checkout =
      cas->add_subcommand("checkout", "Recreate a stored tree in an empty directory");
  checkout->add_option("digest", opts->digest, "Root digest printed by 'kiln cas tree'")
      ->required();
  checkout->add_option("dir", opts->dir, "Destination (created if missing; must be empty)")
      ->required();
  checkout->callback([action] { *action = run_checkout; });

  CLI::App* stats = cas->add_subcommand("stats", "Show what the store holds");
  stats->add_flag("--json", opts->json, "Machine-readable output");
  stats->callback([action] { *action = run_stats; });

  CLI::App* gc = cas->add_subcommand("gc", "Evict least-recently-used blobs down to a size");
  gc->add_option("--max-size", opts->max_size, "Target size, e.g. 500M or 2G")->required();
  gc->callback([action] { *action = run_gc; });

  return [opts, action](Context& ctx) { return (*action)(ctx, *opts); };
}

}  // namespace kiln::client
