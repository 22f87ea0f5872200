// link.h: a link through the cache. The key is pure (action_key.h); this
// file does the lookup and the storing around it.
#include "client/launcher/link.h"

#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "base/files.h"
#include "client/launcher/action_key.h"

namespace kiln::client::launcher {
namespace {

class LinkJob final : public Job {
 public:
  LinkJob(Context& ctx, std::vector<std::string> argv, std::string compiler, LinkArgs link,
          const JobJournal& journal)
      : session_(ctx, std::move(compiler), link.output),
        journal_(journal),
        argv_(std::move(argv)),
        link_(std::move(link)) {}

  const std::string& subject() const override { return link_.output; }
  const char* kind() const override { return "link"; }
  Attempt attempt() override;
  RealRun prepare(const Fallback& fallback) override;
  CompileOutcome store(const Fallback& fallback, const RealRun& run,
                       const base::Captured& ran) override;
  void describe(ActionRecord& record) override;

 private:
  bool deliver(const cas::ActionResult& result);
  void note(const cas::Digest& key, std::vector<ManifestFile> files, const cas::Digest& output);

  CacheSession session_;
  JobJournal journal_;
  // For the journal (describe()), kept only when it records.
  bool set_up_ = false;
  std::optional<cas::Digest> action_digest_;
  std::vector<ManifestFile> inputs_;
  std::optional<cas::Digest> output_digest_;
  std::vector<std::string> argv_;  // as given; argv_[0] is the user's compiler name
  LinkArgs link_;
  cas::Digest manifest_key_;
};

Attempt LinkJob::attempt() {
  if (auto ready = session_.setup(); !ready.ok()) {
    if (ready.error().code == Errc::kInvalidArgument) throw_error(ready.error());
    std::cerr << "kiln: warning: cache unavailable (" << ready.error().message
              << "); linking without it\n";
    return Fallback{.outcome = Outcome::kCacheUnused};
  }
  set_up_ = true;
  LinkKeyInput key;
  key.identity = session_.identity();
  key.link = &link_;
  key.rewrite = session_.rewrite();
  key.environment = &session_.ctx().environment;
  manifest_key_ = cas::digest_of(session_.fn(), link_key_material(key));

  if (!session_.recache()) {
    if (auto manifest = session_.load_manifest(manifest_key_)) {
      for (ManifestEntry& entry : manifest->entries) {
        if (!session_.entry_matches(entry)) continue;
        auto result = session_.lookup(entry.result);
        if (result && deliver(*result)) {
          note(entry.result, std::move(entry.files), result->output_files[0].digest);
          return CompileOutcome{.outcome = Outcome::kLinkHit};
        }
        break;
      }
    }
  }
  return Fallback{.outcome = Outcome::kLinkMiss};
}

// Writes a cached link out: the output with the linker's mode, stdout and
// stderr. False when the entry is broken or cannot be written.
bool LinkJob::deliver(const cas::ActionResult& result) {
  if (result.output_files.size() != 1) return false;
  cas::Store& store = session_.store();
  const cas::OutputFile& file = result.output_files[0];
  auto blob = store.get(file.digest);
  auto out = store.get(result.stdout_digest);
  auto err = store.get(result.stderr_digest);
  if (!blob.ok() || !*blob || !out.ok() || !*out || !err.ok() || !*err) return false;
  if (!base::write_file_atomically(link_.output, **blob, {.mode = file.executable ? 0777u : 0666u})
           .ok()) {
    return false;
  }
  write_output(STDOUT_FILENO, **out);
  write_output(STDERR_FILENO, **err);
  return true;
}

// The user's link, asking the linker for the list of what it read.
RealRun LinkJob::prepare(const Fallback& /*fallback*/) {
  RealRun run;
  run.temp.emplace(session_.temp_path(".d"));
  run.deps_path = run.temp->str();
  run.argv = argv_;
  run.argv[0] = session_.compiler();
  run.argv.push_back("-Wl,--dependency-file=" + run.deps_path);
  return run;
}

CompileOutcome LinkJob::store(const Fallback& fallback, const RealRun& run,
                              const base::Captured& ran) {
  const CompileOutcome done{.outcome = fallback.outcome};
  const auto not_cached = [&](const std::string& why) {
    session_.log("not cached: " + why);
    return done;
  };
  if (session_.readonly()) return done;
  const auto deps_text = read_file_or_none(run.deps_path);
  if (!deps_text) return not_cached("the linker wrote no dependency file");
  bool untrusted = false;
  auto files = session_.hash_deps(*deps_text, &untrusted, /*scan_time_macros=*/false);
  if (!files.ok()) return not_cached(files.error().message);
  struct stat st {};
  if (::stat(link_.output.c_str(), &st) != 0) return not_cached("no " + link_.output);
  cas::Store& store = session_.store();
  auto output = store.put_file(link_.output);
  auto out = store.put(ran.out);
  auto err = store.put(ran.err);
  if (!output.ok() || !out.ok() || !err.ok()) return not_cached("cannot store the output");
  cas::ActionResult result;
  result.output_files.push_back({"out", *output, (st.st_mode & 0111) != 0});
  result.stdout_digest = *out;
  result.stderr_digest = *err;
  auto encoded = cas::encode_action_result(result, session_.fn());
  if (!encoded.ok()) return not_cached(encoded.error().message);
  const cas::Digest key =
      cas::digest_of(session_.fn(), depend_result_material(manifest_key_, *files));
  const std::vector<cas::Digest> referenced = {*output, *out, *err};
  if (journal_.recorder.enabled()) note(key, *files, *output);
  if (auto stored = store.put_action_result(key, *encoded, referenced); !stored.ok()) {
    return not_cached(stored.error().message);
  }
  if (!untrusted) {
    session_.store_manifest_entry(manifest_key_, ManifestEntry{std::move(files).value(), key});
  }
  return done;
}

void LinkJob::note(const cas::Digest& key, std::vector<ManifestFile> files,
                   const cas::Digest& output) {
  if (!journal_.recorder.enabled()) return;
  action_digest_ = key;
  inputs_ = std::move(files);
  output_digest_ = output;
}

void LinkJob::describe(ActionRecord& record) {
  if (!set_up_) return;
  session_.describe(record);
  if (action_digest_) record.action_digest = action_digest_->to_string();
  record.inputs = file_records(std::move(inputs_));
  if (output_digest_) record.outputs.push_back({link_.output, output_digest_->to_string()});
  record.where = "local";
}

}  // namespace

std::unique_ptr<Job> make_link_job(Context& ctx, std::vector<std::string> argv,
                                   std::string compiler, LinkArgs link, const JobJournal& journal) {
  return std::make_unique<LinkJob>(ctx, std::move(argv), std::move(compiler), std::move(link),
                                   journal);
}

}  // namespace kiln::client::launcher
