// compile.h: a compile through the cache. The keys are pure (compile_key.h,
// action_key.h); this file does the lookups, the preprocessing, the grid
// request and the storing around them.
#include "client/launcher/compile.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <functional>
#include <iostream>
#include <sstream>

#include "base/files.h"
#include "client/launcher/action_key.h"
#include "client/launcher/depfile.h"
#include "client/launcher/grid_backoff.h"
#include "client/launcher/hermetic_action.h"
#include "exec/host_platform.h"
#include "exec/rooted_files.h"
#include "exec/sandbox.h"
#include "exec/toolchain.h"
#include "exec/toolchain_files.h"

namespace kiln::client::launcher {
namespace {

namespace fs = std::filesystem;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &local);
  return text;
}

// The preprocessed text of the source and what reading it involved.
struct Preprocessed {
  std::string text;
  std::vector<ManifestFile> files;  // every file the preprocessor read
  bool untrusted = false;           // not to be recorded in a manifest
};

// The locale files a compiler reads for the environment's locale settings:
// the locale's own data (GCC quotes with ‘’ under a UTF-8 locale, and
// needs its LC_CTYPE for that) and GCC's message catalogs. A hermetic
// compile ships them, so the worker's messages are this machine's.
std::vector<std::string> locale_files(const std::map<std::string, std::string>& env) {
  std::vector<std::string> files;
  const auto add_dir = [&](const fs::path& dir) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    }
  };
  const auto add_file = [&](const fs::path& file) {
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) files.push_back(file.string());
  };
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LC_CTYPE", "LANG"}) {
    const auto it = env.find(name);
    if (it == env.end() || it->second.empty() || it->second == "C" || it->second == "POSIX" ||
        it->second.find('/') != std::string::npos) {
      continue;
    }
    const std::string& value = it->second;
    add_dir(fs::path("/usr/lib/locale") / value);
    // glibc's normalized codeset: "C.UTF-8" is found as "C.utf8".
    if (const std::size_t dot = value.find('.'); dot != std::string::npos) {
      std::string codeset;
      for (char c : value.substr(dot + 1)) {
        if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
          codeset += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
      }
      add_dir(fs::path("/usr/lib/locale") / (value.substr(0, dot) + "." + codeset));
    }
    add_file("/usr/lib/locale/locale-archive");
    const std::string language = value.substr(0, value.find_first_of(".@"));
    for (const std::string& lang : {language, language.substr(0, language.find('_'))}) {
      for (const char* domain : {"gcc.mo", "cpplib.mo"}) {
        add_file(fs::path("/usr/share/locale") / lang / "LC_MESSAGES" / domain);
      }
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

class CompileJob final : public Job {
 public:
  CompileJob(Context& ctx, std::vector<std::string> argv, std::string compiler, CompileArgs args,
             const GridAccess& grid, const JobJournal& journal)
      : session_(ctx, std::move(compiler), args.source),
        grid_(grid),
        journal_(journal),
        argv_(std::move(argv)),
        args_(std::move(args)) {}

  const std::string& subject() const override { return args_.source; }
  const char* kind() const override { return "compile"; }
  Attempt attempt() override;
  RealRun prepare(const Fallback& fallback) override;
  CompileOutcome store(const Fallback& fallback, const RealRun& run,
                       const base::Captured& ran) override;
  void describe(ActionRecord& record) override;

 private:
  void note_result(const cas::Digest& key, const cas::ActionResult& result,
                   std::vector<ManifestFile> files);
  std::optional<CompileOutcome> lookup_direct();
  void hand_over();
  Attempt attempt_preprocessed();
  std::optional<Preprocessed> preprocess();
  std::optional<PreprocessedAction> put_action(const std::string& preprocessed);
  bool headers_mode() const;
  bool grid_takes_hermetic() const;
  Attempt attempt_headers();
  std::optional<Preprocessed> scan_dependencies();
  std::optional<HermeticAction> put_hermetic(const std::vector<ManifestFile>& files);
  Result<std::vector<HermeticEntry>> toolchain_entries(std::string* path_env);
  Status put_file_blob(const std::string& path, const cas::Digest& digest);
  void add_probed_headers(const std::vector<ManifestFile>& files, exec::RootedFiles& rooted);
  Attempt attempt_grid(const cas::Digest& digest, const cas::Action& action,
                       const std::vector<ManifestFile>& files,
                       const std::function<void()>& remember, bool headers);
  bool deliver(const cas::ActionResult& result, const std::vector<ManifestFile>& files);
  Status write_depfile(const std::vector<ManifestFile>& files);
  Status store_result(const cas::Digest& key, std::string_view object, const base::Captured& ran);
  bool grid_backing_off() const;
  std::string backoff_path() const;
  std::optional<GridBackoff> read_backoff() const;

  CacheSession session_;
  const GridAccess& grid_;
  JobJournal journal_;
  std::vector<std::string> argv_;  // as given; argv_[0] is the user's compiler name
  CompileArgs args_;
  cas::Digest manifest_key_;
  bool direct_ = true;  // false when the source uses __TIME__ (preprocessor mode)
  // For the journal (describe()), kept only when it records.
  bool set_up_ = false;
  std::optional<cas::Digest> action_digest_;
  std::vector<ManifestFile> inputs_;
  std::optional<cas::Digest> output_digest_;
  std::string where_ = "local";
  std::string scheduler_;
  std::int64_t grid_start_us_ = 0;  // when the grid was asked (0: it was not)
  std::string base_dir_;            // where a hermetic action's /.kiln-base is here ("": none)
  std::vector<Phase> worker_phases_;
};

Attempt CompileJob::attempt() {
  const std::optional<Handoff>& handed = grid_.handed_over;
  if (auto ready = session_.setup(handed ? std::optional(handed->identity) : std::nullopt);
      !ready.ok()) {
    if (ready.error().code == Errc::kInvalidArgument) throw_error(ready.error());
    std::cerr << "kiln: warning: cache unavailable (" << ready.error().message
              << "); compiling without it\n";
    return Fallback{.outcome = Outcome::kCacheUnused};
  }
  set_up_ = true;
  if (handed && handed->manifest_key.function == session_.fn()) {
    // kiln computed the key, missed in direct mode and handed the compile
    // over for the grid: go on from there.
    manifest_key_ = handed->manifest_key;
    direct_ = handed->direct;
    return direct_ && headers_mode() ? attempt_headers() : attempt_preprocessed();
  }

  std::string source;
  const auto source_digest = session_.file_digest(args_.source, &source);
  if (!source_digest) return Fallback{};  // let the compiler say what is wrong with the source
  const TimeMacros macros = scan_time_macros(source);
  direct_ = !macros.time;
  DirectKeyInput key;
  key.identity = session_.identity();
  key.args = &args_;
  key.rewrite = session_.rewrite();
  key.environment = &session_.ctx().environment;
  key.source_digest = *source_digest;
  if (macros.date) key.date = today();
  manifest_key_ = cas::digest_of(session_.fn(), direct_key_material(key));

  if (direct_ && !session_.recache()) {
    if (auto hit = lookup_direct()) return *hit;
  }
  const bool remote = session_.config().has_scheduler();
  if (remote && grid_backing_off()) return Fallback{.outcome = Outcome::kMissRemoteFallback};
  // With -g a preprocessed compile differs from a local one in DWARF column
  // numbers after macro expansions (docs/launcher.md): debug builds go to
  // the grid only in headers mode, and compile here otherwise.
  const bool headers = remote && direct_ && headers_mode();
  if (remote && (headers || !args_.debug) && !grid_.make_executor) hand_over();
  if (headers) return attempt_headers();
  if (!direct_ || (remote && !args_.debug)) return attempt_preprocessed();
  return Fallback{};
}

// Whether a remote compile ships the compiler and its headers (rather than
// preprocessed text): remote_mode, and auto's choice (docs/launcher.md,
// "Which mode").
bool CompileJob::headers_mode() const {
  if (is_preprocessed(args_.language)) return false;
  switch (session_.config().remote_mode()) {
    case RemoteMode::kHeaders:
      return true;
    case RemoteMode::kPreprocessed:
      return false;
    case RemoteMode::kAuto:
      break;
  }
  return grid_takes_hermetic();
}

// Whether a worker of the grid runs hermetic compiles (it advertises
// input-root=filesystem: bubblewrap), as the grid last said — asked at most
// once a minute and kept in <dir>/grid-rootfs ("<scheduler>\n<unix
// time>\n<0|1>\n"). Without an answer (kiln, which has no grid client,
// before the hand-over; a grid that does not answer) the compile goes on
// in headers mode and the grid has the last word.
bool CompileJob::grid_takes_hermetic() const {
  constexpr std::int64_t kFreshSeconds = 60;
  const std::string path = (session_.dir() / "grid-rootfs").string();
  const std::string& scheduler = session_.config().scheduler();
  const std::int64_t now = now_seconds();
  if (auto text = read_file_or_none(path)) {
    std::istringstream in(*text);
    std::string who;
    std::int64_t when = 0;
    int takes = 0;
    if (std::getline(in, who) && in >> when >> takes && who == scheduler && now >= when &&
        now - when < kFreshSeconds) {
      return takes != 0;
    }
  }
  if (!grid_.worker_platforms) return true;
  auto options = grid::grid_options(session_.config(), grid::GridUse::kCompile);
  if (!options.ok()) return true;
  auto platforms = grid_.worker_platforms(*options);
  if (!platforms.ok()) return true;
  const bool takes = std::any_of(platforms->begin(), platforms->end(), [](const auto& platform) {
    return std::any_of(platform.begin(), platform.end(), [](const cas::Property& p) {
      return p.name == exec::kInputRootProperty && p.value == exec::kInputRootFilesystem;
    });
  });
  if (!takes) {
    session_.log(
        "no worker of the grid runs shipped toolchains (input-root=filesystem): "
        "preprocessed mode");
  }
  (void)base::write_file_atomically(
      path, scheduler + "\n" + std::to_string(now) + "\n" + (takes ? "1" : "0") + "\n");
  return takes;
}

// Headers mode: scan the dependencies here (the preprocessor's -M, no
// output), ship them with the toolchain as the action's whole file system.
Attempt CompileJob::attempt_headers() {
  auto scanned = scan_dependencies();
  if (!scanned) return Fallback{};  // the real compile reports what is wrong
  auto action = put_hermetic(scanned->files);
  if (!action) return Fallback{.outcome = Outcome::kMissRemoteFallback};
  const auto remember = [&] {
    if (!scanned->untrusted && !session_.readonly()) {
      session_.store_manifest_entry(manifest_key_, ManifestEntry{scanned->files, action->digest});
    }
  };
  if (!session_.recache()) {
    if (auto hit = session_.lookup(action->digest); hit && deliver(*hit, scanned->files)) {
      remember();
      note_result(action->digest, *hit, std::move(scanned->files));
      return CompileOutcome{.outcome = Outcome::kPreprocessedHit};
    }
  }
  if (journal_.recorder.enabled()) inputs_ = scanned->files;
  return attempt_grid(action->digest, action->action, scanned->files, remember, true);
}

// Every file the compile reads, from the preprocessor's -M (the text
// itself is not written); nullopt when preprocessing fails.
std::optional<Preprocessed> CompileJob::scan_dependencies() {
  Preprocessed out;
  out.untrusted = !direct_;
  const TempPath d = session_.temp_path(".d");
  std::vector<std::string> cpp = {session_.compiler()};
  cpp.insert(cpp.end(), args_.preprocessor_args.begin(), args_.preprocessor_args.end());
  cpp.insert(cpp.end(), args_.compiler_args.begin(), args_.compiler_args.end());
  if (args_.explicit_language) cpp.insert(cpp.end(), {"-x", args_.language});
  cpp.insert(cpp.end(), {args_.source, "-M", "-MF", d.str()});
  auto ran = base::run_captured(cpp);
  if (!ran.ok() || ran->exit_code != 0) return std::nullopt;
  auto deps = read_file_or_none(d.str());
  if (!deps) return std::nullopt;
  auto hashed = session_.hash_deps(*deps, &out.untrusted);
  if (!hashed.ok()) {
    session_.log(hashed.error().message);
    return std::nullopt;
  }
  out.files = std::move(hashed).value();
  return out;
}

// The headers the compile's files ask about with __has_include where the
// compiler would find them: GCC's -M leaves them out, and the sandbox must
// answer such a question as this machine does. Every existing candidate
// in the search path is shipped (for a quoted name, the asking file's
// directory first); a name found nowhere stays absent there too.
void CompileJob::add_probed_headers(const std::vector<ManifestFile>& files,
                                    exec::RootedFiles& rooted) {
  const std::string& cwd = session_.rewrite().cwd;
  const auto absolute = [&](const std::string& path) {
    return path.empty() || path.front() == '/' ? path : cwd + "/" + path;
  };
  std::vector<std::string> dirs;
  for (const std::string& dir : include_dirs(args_.preprocessor_args)) {
    dirs.push_back(absolute(dir));
  }
  std::vector<std::string> system_dirs;
  for (const ManifestFile& file : files) {
    const std::string path =
        absolute(file.rewritten ? session_.rewrite().from_key(file.path) : file.path);
    const auto text = read_file_or_none(path);
    if (!text || text->find("__has_include") == std::string::npos) continue;
    if (system_dirs.empty()) {
      auto found = exec::system_include_dirs(session_.compiler(), session_.identity(),
                                             args_.language, session_.dir() / "toolchains");
      if (found.ok()) system_dirs = std::move(found).value();
    }
    for (const HeaderProbe& probe : scan_has_include(*text)) {
      std::vector<std::string> where;
      if (!probe.angled) where.push_back(fs::path(path).parent_path().string());
      where.insert(where.end(), dirs.begin(), dirs.end());
      where.insert(where.end(), system_dirs.begin(), system_dirs.end());
      for (const std::string& dir : where) {
        const std::string candidate = dir + "/" + probe.name;
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) (void)rooted.add_file(candidate);
      }
    }
  }
}

// The blob of `path` in the local store, under `digest` (a file that
// changed since it was hashed is an error: the action would name bytes it
// does not ship).
Status CompileJob::put_file_blob(const std::string& path, const cas::Digest& digest) {
  cas::Store& store = session_.store();
  auto has = store.contains(digest);
  if (has.ok() && *has) return {};
  auto put = store.put_file(path);
  if (!put.ok()) return put.error();
  if (*put != digest) return make_error(Errc::kCorrupt, path + " changed while it was read");
  return {};
}

// The hermetic action of this compile, with every blob it names in the
// local store (the grid executor uploads what the scheduler lacks);
// nullopt, logged, when it cannot be made.
std::optional<HermeticAction> CompileJob::put_hermetic(const std::vector<ManifestFile>& files) {
  const auto give_up = [&](const std::string& why) {
    session_.log("cannot ship this compile (" + why + "); compiling here");
    return std::nullopt;
  };
  HermeticInput input;
  auto toolchain = toolchain_entries(&input.path_env);
  if (!toolchain.ok()) return give_up("toolchain: " + toolchain.error().message);
  input.entries = std::move(toolchain).value();
  const std::string& cwd = session_.rewrite().cwd;
  exec::RootedFiles rooted;
  for (const ManifestFile& file : files) {
    std::string path = file.rewritten ? session_.rewrite().from_key(file.path) : file.path;
    if (path.empty() || path.front() != '/') path = cwd + "/" + path;
    if (auto s = rooted.add_file(path); !s.ok()) return give_up(s.error().message);
  }
  add_probed_headers(files, rooted);
  for (const std::string& path : locale_files(session_.ctx().environment)) {
    if (auto s = rooted.add_file(path); !s.ok()) return give_up(s.error().message);
  }
  if (auto s = rooted.add_directory(cwd); !s.ok()) return give_up(s.error().message);
  for (exec::RootedEntry& entry : rooted.entries()) {
    HermeticEntry out;
    out.path = std::move(entry.path);
    switch (entry.kind) {
      case exec::RootedEntry::Kind::kFile: {
        const auto digest = session_.file_digest(out.path);
        if (!digest) return give_up("cannot read " + out.path);
        if (auto s = put_file_blob(out.path, *digest); !s.ok()) return give_up(s.error().message);
        out.digest = *digest;
        out.executable = entry.executable;
        break;
      }
      case exec::RootedEntry::Kind::kDirectory:
        out.kind = HermeticEntry::Kind::kDirectory;
        break;
      case exec::RootedEntry::Kind::kSymlink:
        out.kind = HermeticEntry::Kind::kSymlink;
        out.target = std::move(entry.target);
        break;
    }
    input.entries.push_back(std::move(out));
  }
  input.compiler = session_.compiler();
  input.args = &args_;
  input.cwd = cwd;
  input.environment = &session_.ctx().environment;
  input.platform = exec::host_platform();
  input.fn = session_.fn();
  // A checkout under KILN_BASEDIR is keyed relative to it: copies of the
  // tree elsewhere share the action (and the grid's result).
  input.relocate =
      relocation_root(input, session_.rewrite().basedir,
                      args_.debug ? mapped_directory(cwd, args_.compiler_args) : std::string());
  base_dir_ = input.relocate;
  auto action = hermetic_action(input);
  if (!action.ok()) return give_up(action.error().message);
  cas::Store& store = session_.store();
  for (const auto& [digest, bytes] : action->input_root.directories) {
    if (!store.put(bytes).ok()) return give_up("cannot store the input tree");
  }
  if (!store.put(action->encoded_command).ok() || !store.put(action->encoded_action).ok()) {
    return give_up("cannot store the action");
  }
  return std::move(action).value();
}

// The toolchain's part of the shipped file system, worked out once per
// compiler path and identity and kept in <dir>/toolchains/ (its
// files hashed and stored once; recomputed when a blob is gone).
Result<std::vector<HermeticEntry>> CompileJob::toolchain_entries(std::string* path_env) {
  const fs::path cache_dir = session_.dir() / "toolchains";
  // Per compiler path too: clang and clang++ share an identity, not their
  // symlinks.
  const fs::path list = cache_dir / (cas::digest_of(session_.fn(), session_.compiler()).hex() +
                                     "-" + session_.identity().hex() + ".hermetic");
  if (auto text = read_file_or_none(list.string())) {
    if (auto parsed = parse_toolchain_entries(*text, session_.fn())) {
      bool complete = true;
      for (const HermeticEntry& entry : parsed->entries) {
        if (entry.kind != HermeticEntry::Kind::kFile) continue;
        auto has = session_.store().contains(entry.digest);
        if (!has.ok() || !*has) complete = false;
      }
      if (complete) {
        *path_env = parsed->path_env;
        return std::move(parsed->entries);
      }
    }
  }
  auto files = exec::cached_toolchain_files(session_.compiler(), session_.identity(), cache_dir);
  if (!files.ok()) return files.error();
  exec::RootedFiles rooted;
  if (auto s = rooted.add_file(session_.compiler()); !s.ok()) return s.error();
  for (const std::string& path : files->paths) {
    if (auto s = rooted.add_file(path); !s.ok()) return s.error();
  }
  ToolchainEntries out;
  out.path_env = files->path_env;
  for (exec::RootedEntry& entry : rooted.entries()) {
    HermeticEntry e;
    e.path = std::move(entry.path);
    if (entry.kind == exec::RootedEntry::Kind::kFile) {
      auto put = session_.store().put_file(e.path);
      if (!put.ok()) return put.error();
      e.digest = *put;
      e.executable = entry.executable;
    } else if (entry.kind == exec::RootedEntry::Kind::kDirectory) {
      e.kind = HermeticEntry::Kind::kDirectory;
    } else {
      e.kind = HermeticEntry::Kind::kSymlink;
      e.target = std::move(entry.target);
    }
    out.entries.push_back(std::move(e));
  }
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  (void)base::write_file_atomically(list.string(), format_toolchain_entries(out));
  *path_env = out.path_env;
  return std::move(out.entries);
}

std::optional<CompileOutcome> CompileJob::lookup_direct() {
  auto manifest = session_.load_manifest(manifest_key_);
  if (!manifest) return std::nullopt;
  for (ManifestEntry& entry : manifest->entries) {
    if (!session_.entry_matches(entry)) continue;
    if (auto result = session_.lookup(entry.result)) {
      if (deliver(*result, entry.files)) {
        note_result(entry.result, *result, std::move(entry.files));
        return CompileOutcome{.outcome = Outcome::kDirectHit};
      }
      session_.log("cache entry " + entry.result.to_string() + " is incomplete; compiling");
    }
    break;
  }
  return std::nullopt;
}

// This binary has no grid client: hand over to one that has (nothing has
// been written yet), with what this process has worked out.
void CompileJob::hand_over() {
  session_.close_store();
  grid_.handoff(Handoff{.compiler = session_.compiler(),
                        .identity = session_.identity(),
                        .manifest_key = manifest_key_,
                        .direct = direct_,
                        .invocation = journal_.recorder.invocation().id,
                        .started_us = journal_.started_us});
  throw CommandError(kExitFailure, "the hand-over to the grid client returned");
}

// Preprocessor mode: preprocess here; the key is the digest of the action
// that compiles the preprocessed file, which the grid can run. Used with a
// scheduler (every miss) and for sources that use __TIME__.
Attempt CompileJob::attempt_preprocessed() {
  // A preprocessing failure: the real compile reports it exactly.
  auto preprocessed = preprocess();
  if (!preprocessed) return Fallback{};
  auto action = put_action(preprocessed->text);
  if (!action) return Fallback{};
  const auto remember = [&] {
    if (!preprocessed->untrusted && !session_.readonly()) {
      session_.store_manifest_entry(manifest_key_,
                                    ManifestEntry{preprocessed->files, action->digest});
    }
  };
  if (!session_.recache()) {
    if (auto hit = session_.lookup(action->digest); hit && deliver(*hit, preprocessed->files)) {
      remember();
      note_result(action->digest, *hit, std::move(preprocessed->files));
      return CompileOutcome{.outcome = Outcome::kPreprocessedHit};
    }
  }
  if (journal_.recorder.enabled()) inputs_ = preprocessed->files;
  if (session_.config().has_scheduler() && !args_.debug) {
    return attempt_grid(action->digest, action->action, preprocessed->files, remember, false);
  }
  return Fallback{.store_as = action->digest};
}

// The source's preprocessed text (the source itself when it is already
// preprocessed); nullopt when preprocessing fails.
std::optional<Preprocessed> CompileJob::preprocess() {
  Preprocessed out;
  out.untrusted = !direct_;
  if (is_preprocessed(args_.language)) {
    auto data = read_file_or_none(args_.source);
    if (!data) return std::nullopt;
    out.text = std::move(*data);
    out.untrusted = true;
    return out;
  }
  const std::string language = preprocessed_language(args_.language);
  const TempPath ii = session_.temp_path(language == "cpp-output" ? ".i" : ".ii");
  const TempPath d = session_.temp_path(".d");
  std::vector<std::string> cpp = {session_.compiler()};
  cpp.insert(cpp.end(), args_.preprocessor_args.begin(), args_.preprocessor_args.end());
  cpp.insert(cpp.end(), args_.compiler_args.begin(), args_.compiler_args.end());
  if (args_.explicit_language) cpp.insert(cpp.end(), {"-x", args_.language});
  cpp.insert(cpp.end(), {args_.source, "-E", "-o", ii.str(), "-MD", "-MF", d.str()});
  auto ran = base::run_captured(cpp);
  if (!ran.ok() || ran->exit_code != 0) return std::nullopt;
  auto data = read_file_or_none(ii.str());
  auto deps = read_file_or_none(d.str());
  if (!data || !deps) return std::nullopt;
  out.text = std::move(*data);
  auto hashed = session_.hash_deps(*deps, &out.untrusted);
  if (!hashed.ok()) {
    session_.log(hashed.error().message);
    out.untrusted = true;
  } else {
    out.files = std::move(hashed).value();
  }
  return out;
}

// The preprocessed action, with the blobs it names in the store; nullopt
// when they cannot be stored.
std::optional<PreprocessedAction> CompileJob::put_action(const std::string& preprocessed) {
  cas::Store& store = session_.store();
  auto blob = store.put(preprocessed);
  if (!blob.ok()) return std::nullopt;
  PreprocessedActionInput input;
  input.compiler = session_.compiler();
  input.toolchain_property = exec::toolchain_property(session_.compiler());
  input.identity = session_.identity();
  input.args = &args_;
  input.environment = &session_.ctx().environment;
  input.preprocessed = *blob;
  input.fn = session_.fn();
  auto action = preprocessed_action(input);
  if (!action.ok()) return std::nullopt;
  if (!store.put(action->encoded_command).ok() || !store.put(action->encoded_input_root).ok()) {
    return std::nullopt;
  }
  (void)store.put(action->encoded_action);
  return std::move(action).value();
}

// The grid runs the action; its failures fall back to compiling here.
Attempt CompileJob::attempt_grid(const cas::Digest& digest, const cas::Action& action,
                                 const std::vector<ManifestFile>& files,
                                 const std::function<void()>& remember, bool headers) {
  // Keys that cannot be found are a grid this compile cannot use: it
  // compiles here, and the log says why.
  auto options = grid::grid_options(session_.ctx().config, grid::GridUse::kCompile);
  // The scheduler groups the invocation's actions (its /invocations page).
  if (options.ok()) {
    const Invocation& invocation = journal_.recorder.invocation();
    options->tag = grid::ActionTag{invocation.id, invocation.labels, "compile", args_.source};
    options->base_dir = base_dir_;
    options->skip_cache_lookup = session_.recache();
    options->record_locally = !session_.readonly();
  }
  action_digest_ = digest;
  scheduler_ = session_.config().scheduler();
  grid_start_us_ = wall_clock_us();
  Result<exec::ExecutedAction> executed =
      options.ok() ? grid_.make_executor(session_.store(), *options)->execute(digest, action)
                   : Result<exec::ExecutedAction>(options.error());
  const bool succeeded = executed.ok() && executed->result.exit_code == 0 && !executed->timed_out &&
                         executed->missing_outputs.empty();
  if (headers && executed.ok() && !executed->timed_out && executed->result.exit_code != 0) {
    // The worker's compiler read the same files at the same paths: its
    // error is the one this machine's would print. Replay it (not cached,
    // as a local failure is not).
    auto out = session_.store().get(executed->result.stdout_digest);
    auto err = session_.store().get(executed->result.stderr_digest);
    if (out.ok() && *out && err.ok() && *err) {
      (void)::unlink(backoff_path().c_str());
      write_output(STDOUT_FILENO, **out);
      write_output(STDERR_FILENO, **err);
      session_.log("the grid's compile failed; its messages replayed");
      return CompileOutcome{.outcome = Outcome::kCompileFailed,
                            .exit_code = executed->result.exit_code};
    }
  }
  if (succeeded && !headers && executed->result.stderr_digest.size != 0) {
    // Diagnostics from a worker's compile of preprocessed text lack the
    // source excerpts (the worker has no sources) and can differ in
    // macro-sensitive warnings: recompile here for the exact messages.
    // (In headers mode the worker read the same files at the same paths:
    // its messages are the local compiler's, and are replayed.)
    session_.log("the grid's compile printed diagnostics; compiling here for the exact messages");
    return Fallback{.store_as = digest};
  }
  // The grid answered: whatever backoff there was is over.
  if (executed.ok()) (void)::unlink(backoff_path().c_str());
  // The grid executor has recorded the result in the local tier.
  if (succeeded && deliver(executed->result, files)) {
    if (journal_.recorder.enabled()) note_result(digest, executed->result, files);
    // A result the grid had already (its action cache) ran nowhere now.
    if (!executed->cached) worker_phases_ = executed_phases(executed->result.metadata);
    remember();
    if (executed->cached) return CompileOutcome{.outcome = Outcome::kRemoteHit};
    return CompileOutcome{.outcome = headers ? Outcome::kMissRemoteHeaders : Outcome::kMissRemote};
  }
  if (executed.ok()) {
    session_.log("the grid's compile failed or is incomplete; compiling here");
  } else {
    const GridBackoff backoff =
        after_failure(read_backoff(), session_.config().scheduler(), now_seconds());
    session_.log("grid unavailable (" + executed.error().message + "); compiling here for " +
                 std::to_string(backoff_window(backoff.failures).count()) + " s");
    (void)base::write_file_atomically(backoff_path(), format_backoff(backoff) + "\n");
  }
  return Fallback{.outcome = Outcome::kMissRemoteFallback, .store_as = digest};
}

// After the grid failed to answer, the compiles of a short window go
// straight to this machine (grid_backoff.h).
bool CompileJob::grid_backing_off() const {
  const auto backoff = read_backoff();
  return backoff && backing_off(*backoff, session_.config().scheduler(), now_seconds());
}

std::string CompileJob::backoff_path() const { return (session_.dir() / "grid-backoff").string(); }

std::optional<GridBackoff> CompileJob::read_backoff() const {
  const auto text = read_file_or_none(backoff_path());
  return text ? parse_backoff(*text) : std::nullopt;
}

// Writes a cached result out as the compiler would have: the object, the
// .d, stdout and stderr. False when the entry is broken or cannot be
// written (then the caller compiles).
bool CompileJob::deliver(const cas::ActionResult& result, const std::vector<ManifestFile>& files) {
  cas::Store& store = session_.store();
  std::optional<std::string> object;
  for (const cas::OutputFile& file : result.output_files) {
    if (file.path != kObjectName && file.path != kHermeticObject) continue;
    auto blob = store.get(file.digest);
    if (blob.ok() && *blob) object = std::move(**blob);
  }
  auto out = store.get(result.stdout_digest);
  auto err = store.get(result.stderr_digest);
  if (!object || !out.ok() || !*out || !err.ok() || !*err) return false;
  if (auto s = base::write_file_atomically(args_.output, *object); !s.ok()) {
    session_.log(s.error().message);
    return false;
  }
  if (auto s = write_depfile(files); !s.ok()) {
    session_.log(s.error().message);
    return false;
  }
  write_output(STDOUT_FILENO, **out);
  write_output(STDERR_FILENO, **err);
  return true;
}

// The user's .d from the manifest's file list, with this command's targets;
// with -MMD without the system headers (the compiler's own directories and
// -isystem/-idirafter ones), as GCC writes it.
Status CompileJob::write_depfile(const std::vector<ManifestFile>& files) {
  if (!args_.generate_deps) return {};
  std::vector<std::string> system_dirs;
  if (args_.deps_skip_system) {
    auto dirs = exec::system_include_dirs(session_.compiler(), session_.identity(), args_.language,
                                          session_.dir() / "toolchains");
    if (!dirs.ok()) return dirs.error();
    system_dirs = std::move(dirs).value();
    for (std::size_t i = 0; i + 1 < args_.preprocessor_args.size(); ++i) {
      const std::string& a = args_.preprocessor_args[i];
      if (a == "-isystem" || a == "-idirafter") {
        system_dirs.push_back(args_.preprocessor_args[i + 1]);
      }
    }
    for (const std::string& a : args_.preprocessor_args) {
      for (std::string_view prefix :
           {std::string_view("-isystem"), std::string_view("-idirafter")}) {
        if (a.size() > prefix.size() && a.compare(0, prefix.size(), prefix) == 0) {
          system_dirs.push_back(a.substr(prefix.size()));
        }
      }
    }
  }
  std::vector<std::string> deps;
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::string path =
        files[i].rewritten ? session_.rewrite().from_key(files[i].path) : files[i].path;
    if (i > 0 && std::any_of(system_dirs.begin(), system_dirs.end(), [&](const std::string& d) {
          return path.size() > d.size() && path.compare(0, d.size(), d) == 0 &&
                 path[d.size()] == '/';
        })) {
      continue;
    }
    deps.push_back(std::move(path));
  }
  std::vector<DepfileTarget> targets;
  for (const DepsTarget& t : args_.deps_targets) targets.push_back({t.name, t.quote});
  if (targets.empty()) targets.push_back({args_.output, true});
  std::error_code ec;
  const bool clang =
      fs::canonical(session_.compiler(), ec).filename().string().find("clang") != std::string::npos;
  return base::write_file_atomically(
      args_.deps_file, render_depfile(targets, deps, args_.deps_phony_targets,
                                      clang ? DepfileStyle::kClang : DepfileStyle::kGcc));
}

// The user's command with -MD to a known file.
RealRun CompileJob::prepare(const Fallback& /*fallback*/) {
  RealRun run;
  run.argv = argv_;
  run.argv[0] = session_.compiler();
  if (!args_.generate_deps) {
    run.temp.emplace(session_.temp_path(".d"));
    run.deps_path = run.temp->str();
    run.argv.insert(run.argv.end(), {"-MD", "-MF", run.deps_path});
    return run;
  }
  run.deps_path = args_.deps_file;
  // -MMD leaves out system headers, which the manifest needs: ask for all
  // of them instead and write the user's -MMD file ourselves afterwards.
  // (Inside a response file it stays; the manifest entry is then
  // incomplete and not recorded.)
  if (args_.deps_skip_system) {
    auto mmd = std::find(run.argv.begin() + 1, run.argv.end(), "-MMD");
    if (mmd != run.argv.end()) {
      *mmd = "-MD";
    } else {
      run.incomplete_deps = true;
    }
  }
  return run;
}

// A miss compiled here: hash what it read, store the result under the
// fallback's key (the preprocessed action's digest) or the depend-mode
// result key, and record it in the manifest.
CompileOutcome CompileJob::store(const Fallback& fallback, const RealRun& run,
                                 const base::Captured& ran) {
  const CompileOutcome done{.outcome = fallback.outcome};
  const auto not_cached = [&](const std::string& why) {
    session_.log("not cached: " + why);
    return done;
  };
  const auto deps_text = read_file_or_none(run.deps_path);
  if (!deps_text) return not_cached("no dependency file from the compiler");
  bool untrusted = !direct_ || run.incomplete_deps;
  auto files = session_.hash_deps(*deps_text, &untrusted);
  if (!files.ok()) return not_cached(files.error().message);
  if (args_.deps_skip_system && !run.incomplete_deps) {
    if (auto s = write_depfile(*files); !s.ok()) session_.log(s.error().message);
  }
  if (session_.readonly()) return done;
  auto object = read_file_or_none(args_.output);
  if (!object) return not_cached("the compiler wrote no " + args_.output);
  const cas::Digest key =
      fallback.store_as
          ? *fallback.store_as
          : cas::digest_of(session_.fn(), depend_result_material(manifest_key_, *files));
  action_digest_ = key;
  if (journal_.recorder.enabled()) inputs_ = *files;
  if (auto stored = store_result(key, *object, ran); !stored.ok()) {
    return not_cached(stored.error().message);
  }
  if (!untrusted) {
    session_.store_manifest_entry(manifest_key_, ManifestEntry{std::move(files).value(), key});
  }
  return done;
}

Status CompileJob::store_result(const cas::Digest& key, std::string_view object,
                                const base::Captured& ran) {
  cas::Store& store = session_.store();
  auto object_digest = store.put(object);
  if (!object_digest.ok()) return object_digest.error();
  output_digest_ = *object_digest;
  auto out = store.put(ran.out);
  if (!out.ok()) return out.error();
  auto err = store.put(ran.err);
  if (!err.ok()) return err.error();
  cas::ActionResult result;
  result.output_files.push_back({kObjectName, *object_digest, false});
  result.stdout_digest = *out;
  result.stderr_digest = *err;
  auto encoded = cas::encode_action_result(result, session_.fn());
  if (!encoded.ok()) return encoded.error();
  const std::vector<cas::Digest> referenced = {*object_digest, *out, *err};
  return store.put_action_result(key, *encoded, referenced);
}

// A result delivered from the cache or the grid, as the journal records it.
void CompileJob::note_result(const cas::Digest& key, const cas::ActionResult& result,
                             std::vector<ManifestFile> files) {
  if (!journal_.recorder.enabled()) return;
  action_digest_ = key;
  inputs_ = std::move(files);
  for (const cas::OutputFile& file : result.output_files) {
    if (file.path == kObjectName || file.path == kHermeticObject) output_digest_ = file.digest;
  }
  if (!result.metadata.worker_id.empty()) where_ = result.metadata.worker_id;
}

void CompileJob::describe(ActionRecord& record) {
  if (!set_up_) return;
  session_.describe(record);
  if (action_digest_) record.action_digest = action_digest_->to_string();
  record.inputs = file_records(std::move(inputs_));
  if (output_digest_) record.outputs.push_back({args_.output, output_digest_->to_string()});
  record.where = where_;
  record.scheduler = scheduler_;
  if (grid_start_us_ != 0) {
    record.phases.push_back({"lookup", journal_.started_us, grid_start_us_});
    record.phases.insert(record.phases.end(), worker_phases_.begin(), worker_phases_.end());
  }
}

}  // namespace

std::unique_ptr<Job> make_compile_job(Context& ctx, std::vector<std::string> argv,
                                      std::string compiler, CompileArgs args,
                                      const GridAccess& grid, const JobJournal& journal) {
  return std::make_unique<CompileJob>(ctx, std::move(argv), std::move(compiler), std::move(args),
                                      grid, journal);
}

}  // namespace kiln::client::launcher
