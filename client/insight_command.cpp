// `kiln explain` and the declaration of `kiln provenance`; see
// insight_command.h.
#include "client/insight_command.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>

#include "cas/file_digest.h"
#include "client/journal.h"

namespace kiln::client {
namespace {

namespace fs = std::filesystem;

struct ExplainOptions {
  std::string file;
  bool json = false;
};

}  // namespace

Explanation explain_file(Context& ctx, const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    throw CommandError(kExitFailure, file + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    throw CommandError(kExitUsage, file + " is a directory (name a file kiln built)");
  }
  // Hashed with the cache's digest function first, which also finds a file
  // that cannot be read; a record made with the other function hashes
  // again (a cache directory's store has one function, its history may not).
  std::map<std::string, std::string, std::less<>> digests;
  const auto first = cas::digest_file(ctx.config.digest_function(), file);
  if (!first.ok()) throw CommandError(kExitFailure, file + ": " + first.error().message);
  digests.emplace(cas::to_string(ctx.config.digest_function()), first->to_string());
  const DigestOf digest_of = [&](std::string_view function) -> std::string {
    if (auto known = digests.find(function); known != digests.end()) return known->second;
    std::string text;
    if (auto fn = cas::parse_digest_function(function)) {
      if (auto d = cas::digest_file(*fn, file); d.ok()) text = d->to_string();
    }
    digests.emplace(std::string(function), text);
    return text;
  };

  const std::string absolute = fs::absolute(file).lexically_normal().string();
  const Journal journal(ctx.config.dir(), ctx.config.keep_invocations(),
                        ctx.config.journal_max_size());
  for (const InvocationInfo& info : journal.list()) {
    auto records = journal.records(info.invocation.id);
    if (!records.ok()) continue;  // pruned while we looked
    const auto match = find_producer(*records, digest_of, absolute);
    if (!match) continue;
    ActionRecord& record = (*records)[match->record];
    Explanation e;
    e.file = file;
    e.file_digest = digest_of(record.digest_function);
    e.output_path = record.outputs[match->output].path;
    e.invocation = info;
    e.record = std::move(record);
    return e;
  }
  throw CommandError(kExitNotFound,
                     "kiln has no record of " + file + " (it was not built by kiln in the last " +
                         std::to_string(ctx.config.keep_invocations()) +
                         " invocations kept: keep_invocations, or it changed since)");
}

std::function<int(Context&)> add_explain_command(CLI::App& app) {
  auto opts = std::make_shared<ExplainOptions>();
  CLI::App* explain = app.add_subcommand(
      "explain", "Show the action that made a file: inputs, command, worker, cache, timings");
  explain->add_option("FILE", opts->file, "An output kiln built or served")->required();
  explain->add_flag("--json", opts->json, "One JSON object");
  return [opts](Context& ctx) {
    const Explanation e = explain_file(ctx, opts->file);
    ctx.out << (opts->json ? explain_json(e) : explain_text(e));
    return static_cast<int>(kExitOk);
  };
}

std::function<int(Context&)> add_provenance_command(CLI::App& app, ProvenanceRunner run) {
  auto opts = std::make_shared<ProvenanceOptions>();
  CLI::App* provenance = app.add_subcommand(
      "provenance",
      "SLSA v1 provenance (an in-toto Statement) of a file kiln built; signed when signing_key "
      "is set");
  provenance->add_option("FILE", opts->file, "An output kiln built or served");
  provenance->add_option("-o,--output", opts->output, "Write it to OUT instead of stdout");
  auto* verify = provenance->add_option("--verify", opts->verify,
                                        "Check the signed ENVELOPE (and, given FILE, its subject)");
  provenance->add_option("--key", opts->key, "The signer's public key file (NAME.sign.pub)")
      ->needs(verify);
  verify->excludes("--output");
  return [opts, run = std::move(run)](Context& ctx) {
    if (!opts->verify.empty() && opts->key.empty()) {
      throw CommandError(kExitUsage, "provenance --verify needs --key PUB (NAME.sign.pub)");
    }
    if (opts->verify.empty() && opts->file.empty()) {
      throw CommandError(kExitUsage, "provenance needs a FILE (see kiln provenance --help)");
    }
    return run(ctx, *opts);
  };
}

}  // namespace kiln::client
