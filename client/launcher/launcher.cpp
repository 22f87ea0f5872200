// launcher.h: the compiler launcher. The pure rules live in
// compiler_args.h (what a command line means), compile_key.h (what a key
// covers) and depfile.h (the .d format); this file does the I/O around them.
#include "client/launcher/launcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "base/files.h"
#include "base/process.h"
#include "base/program_path.h"
#include "base/size.h"
#include "cas/model.h"
#include "cas/record.h"
#include "cas/store.h"
#include "client/launcher/compile_key.h"
#include "client/launcher/compiler_args.h"
#include "client/launcher/depfile.h"
#include "client/launcher/link_args.h"
#include "client/launcher/stats.h"
#include "client/local_store.h"
#include "exec/toolchain.h"

extern char** environ;  // NOLINT: POSIX's name for the process environment

namespace kiln::client::launcher {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kObjectName = "out.o";
constexpr const char* kManifestName = "manifest";
constexpr std::chrono::seconds kGridBackoff{60};

// ---------------------------------------------------------------------------
// Processes and files

using base::run_captured;

// Our stdout or stderr: what the compiler printed, passed on as it was.
void write_all(int fd, std::string_view data) { (void)base::write_all(fd, data, "output"); }

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (const std::string& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// The real compiler: PATH lookup of `name`, skipping kiln itself (so a
// symlink named gcc in front of the real one works).
std::optional<std::string> resolve_compiler(const std::string& name,
                                            const std::map<std::string, std::string>& env) {
  // kiln itself: this binary, or its sibling (kiln hands grid work to
  // kiln-grid, which must skip the `gcc -> kiln` symlink just the same).
  // Compared by device and inode (stat follows symlinks): no readlink walk
  // on every compile.
  std::vector<std::pair<dev_t, ino_t>> selves;
  struct stat st {};
  if (::stat("/proc/self/exe", &st) == 0) selves.emplace_back(st.st_dev, st.st_ino);
  std::error_code ec;
  const fs::path self_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const char* sibling : {"kiln", "kiln-grid"}) {
    if (!ec && ::stat((self_dir / sibling).c_str(), &st) == 0) {
      selves.emplace_back(st.st_dev, st.st_ino);
    }
  }
  // Executable, not a directory, and not kiln.
  base::ProgramSearch search;
  const auto it = env.find("PATH");
  search.path = it != env.end() ? std::string_view(it->second) : base::kDefaultPath;
  search.accept = [&selves](const std::string& candidate) {
    struct stat cst {};
    if (::stat(candidate.c_str(), &cst) != 0 || !S_ISREG(cst.st_mode) ||
        ::access(candidate.c_str(), X_OK) != 0) {
      return false;
    }
    return std::find(selves.begin(), selves.end(), std::pair(cst.st_dev, cst.st_ino)) ==
           selves.end();
  };
  return base::find_program(name, search);
}

[[noreturn]] void exec_compiler(const std::string& path, std::vector<std::string> argv) {
  auto args = c_argv(argv);
  ::execv(path.c_str(), args.data());
  std::cerr << "kiln: error: cannot run " << path << ": " << std::strerror(errno) << '\n';
  std::_Exit(127);
}

// The file's contents; nullopt when it cannot be read (the caller falls
// back to something that reports the problem properly).
std::optional<std::string> read_file(const std::string& path) {
  auto data = base::read_file(path);
  if (!data.ok()) return std::nullopt;
  return std::move(data).value();
}

Status write_file_atomically(const std::string& path, std::string_view data, mode_t mode = 0666) {
  return base::write_file_atomically(path, data, {.mode = mode});
}

// A temporary file name under the cache's tmp/, removed on destruction.
class TempPath {
 public:
  TempPath(const fs::path& dir, const std::string& suffix) {
    static_assert(sizeof(pid_t) <= 8);
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ =
        (dir / ("c" + std::to_string(::getpid()) + "-" + std::to_string(now) + suffix)).string();
  }
  ~TempPath() { ::unlink(path_.c_str()); }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

FileStat stat_of(const struct stat& st) {
  return FileStat{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                  static_cast<std::uint64_t>(st.st_size),
                  std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                  std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec};
}

std::string stats_category(const std::string& reason) {
  if (reason.find("linking") != std::string::npos) return "linking";
  if (reason.rfind("unreadable response file", 0) == 0) return "unreadable response file";
  return reason;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &local);
  return text;
}

// The language of a preprocessed file for `language`.
std::string preprocessed_language(const std::string& language) {
  if (language == "c") return "cpp-output";
  if (language == "c++") return "c++-cpp-output";
  if (language == "objective-c") return "objective-c-cpp-output";
  if (language == "objective-c++") return "objective-c++-cpp-output";
  if (language == "assembler-with-cpp") return "assembler";
  return language;  // already preprocessed
}

bool is_preprocessed(const std::string& language) {
  return language == "cpp-output" || language == "c++-cpp-output" || language == "assembler" ||
         language == "objective-c-cpp-output" || language == "objective-c++-cpp-output";
}

// ---------------------------------------------------------------------------
// One compile

enum class Outcome {
  kDirectHit,
  kPreprocessedHit,
  kRemoteHit,
  kMissLocal,
  kMissRemote,
  kMissRemoteFallback,
  kCompileFailed,
  kError,
  kLinkHit,
  kLinkMiss
};

const char* counter_of(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDirectHit:
      return "direct_hit";
    case Outcome::kPreprocessedHit:
      return "preprocessed_hit";
    case Outcome::kRemoteHit:
      return "remote_hit";
    case Outcome::kMissLocal:
      return "miss_local";
    case Outcome::kMissRemote:
      return "miss_remote";
    case Outcome::kMissRemoteFallback:
      return "miss_remote_fallback";
    case Outcome::kCompileFailed:
      return "compile_failed";
    case Outcome::kError:
      return "error";
    case Outcome::kLinkHit:
      return "link_hit";
    case Outcome::kLinkMiss:
      return "link_miss";
  }
  return "error";
}

// What a compile produced, ready to be written out and stored.
struct Produced {
  std::string object;
  std::string out;
  std::string err;
};

class Launcher {
 public:
  Launcher(Context& ctx, std::vector<std::string> argv, std::string compiler, CompileArgs args,
           const GridAccess& grid)
      : ctx_(ctx),
        grid_(grid),
        argv_(std::move(argv)),
        compiler_(std::move(compiler)),
        args_(std::move(args)),
        subject_(args_.source),
        dir_(ctx.config.dir()) {}
  Launcher(Context& ctx, std::vector<std::string> argv, std::string compiler, LinkArgs link,
           const GridAccess& grid)
      : ctx_(ctx),
        grid_(grid),
        argv_(std::move(argv)),
        compiler_(std::move(compiler)),
        link_(std::move(link)),
        subject_(link_.output),
        dir_(ctx.config.dir()) {}

  int run();
  int run_link();

 private:
  // Logging to KILN_LOGFILE (nothing when unset).
  void log(const std::string& line) {
    const std::string& file = ctx_.config.logfile();
    if (file.empty()) return;
    std::ofstream out(file, std::ios::app);
    out << "[" << ::getpid() << "] " << subject_ << ": " << line << '\n';
  }
  int finish(Outcome outcome, int exit_code) {
    log(counter_of(outcome));
    (void)add_stats(dir_ / "stats", {{counter_of(outcome), 1}});
    return exit_code;
  }

  Result<bool> setup();
  std::optional<cas::Digest> file_digest(const std::string& path, std::string* content = nullptr);
  bool entry_matches(const ManifestEntry& entry);
  std::optional<Manifest> load_manifest();
  void store_manifest_entry(ManifestEntry entry);
  std::optional<cas::ActionResult> lookup(const cas::Digest& key);
  Result<cas::Digest> store_result(const cas::Digest& key, const Produced& produced);
  int deliver(const cas::ActionResult& result, const std::vector<ManifestFile>& files,
              Outcome outcome);
  Result<std::vector<ManifestFile>> hash_deps(const std::string& deps_text, bool* untrusted,
                                              bool scan_time_macros = true);
  Status write_depfile(const std::vector<ManifestFile>& files);
  int compile_local(const std::optional<cas::Digest>& store_as, Outcome outcome);
  int compile_preprocessed();
  // After the grid failed to answer, the compiles of the next kGridBackoff
  // go straight to this machine (one wait per build, not one per file).
  bool grid_backing_off() const {
    struct stat st {};
    if (::stat((dir_ / "grid-backoff").c_str(), &st) != 0) return false;
    const auto age = std::chrono::system_clock::now() -
                     std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
    if (age >= kGridBackoff) return false;
    return read_file((dir_ / "grid-backoff").string()).value_or("") == ctx_.config.scheduler();
  }

  Context& ctx_;
  const GridAccess& grid_;
  std::vector<std::string> argv_;  // as given; argv_[0] is the user's compiler name
  std::string compiler_;           // resolved absolute path
  CompileArgs args_;               // a compile's
  LinkArgs link_;                  // a link's
  std::string subject_;            // the source or the linked output, for the log
  fs::path dir_;
  std::unique_ptr<cas::Store> store_;
  cas::DigestFunction fn_ = cas::DigestFunction::kXxh3_128;
  cas::Digest identity_;
  PathRewrite rewrite_;
  cas::Digest manifest_key_;
  bool direct_ = true;  // false when the source uses __TIME__ (preprocessor mode)
  bool readonly_ = false;
  bool recache_ = false;
  std::unordered_map<std::string, std::optional<cas::Digest>> digests_;
  std::chrono::system_clock::time_point invoked_ = std::chrono::system_clock::now();
};

Result<bool> Launcher::setup() {
  readonly_ = ctx_.config.readonly();
  recache_ = ctx_.config.recache();

  std::error_code ec;
  fs::create_directories(dir_ / "tmp", ec);
  if (ec)
    return make_error(Errc::kPermissionDenied,
                      "cache directory " + dir_.string() + ": " + ec.message());
  LocalStoreOptions options;
  options.durable = false;  // a cache: reads are verified, a crash costs entries, not correctness
  options.warn = [this](std::string_view message) { log(std::string(message)); };
  auto store = try_open_local_store(ctx_, options);
  if (!store.ok()) {
    // A store that cannot be opened is a cache that is unavailable, not a
    // usage error (settings were checked above).
    return make_error(store.error().code == Errc::kInvalidArgument ? Errc::kIo : store.error().code,
                      store.error().message);
  }
  store_ = std::move(store).value();
  fn_ = store_->digest_function();

  // The identity uses XXH3 whatever the store's function, so it matches the
  // workers' advertised toolchain properties.
  auto identity =
      exec::toolchain_identity(compiler_, cas::DigestFunction::kXxh3_128, dir_ / "toolchains");
  if (!identity.ok()) return identity.error();
  identity_ = *identity;

  std::string cwd = fs::current_path(ec).string();
  if (ec) return make_error(Errc::kIo, "working directory: " + ec.message());
  rewrite_.cwd = cwd;
  if (const std::string& base = ctx_.config.basedir(); !base.empty()) {
    rewrite_.basedir = fs::absolute(base).lexically_normal().string();
    while (rewrite_.basedir.size() > 1 && rewrite_.basedir.back() == '/')
      rewrite_.basedir.pop_back();
  }
  return true;
}

std::optional<cas::Digest> Launcher::file_digest(const std::string& path, std::string* content) {
  if (content == nullptr) {
    if (auto it = digests_.find(path); it != digests_.end()) return it->second;
  }
  std::optional<cas::Digest> digest;
  if (auto data = read_file(path)) {
    digest = cas::digest_of(fn_, *data);
    if (content != nullptr) *content = std::move(*data);
  }
  digests_[path] = digest;
  return digest;
}

bool Launcher::entry_matches(const ManifestEntry& entry) {
  for (const ManifestFile& file : entry.files) {
    // A rewritten path is relative to this working directory, which is
    // exactly how open() and stat() resolve it. When the file still has
    // the stat recorded with its digest (including ctime, which no one can
    // set back), its content is the one hashed then: skip reading it.
    if (file.stat.known()) {
      struct stat st {};
      if (::stat(file.path.c_str(), &st) == 0 && stat_of(st) == file.stat) continue;
    }
    const auto digest = file_digest(file.path);
    if (!digest || *digest != file.digest) return false;
  }
  return true;
}

std::optional<cas::ActionResult> Launcher::lookup(const cas::Digest& key) {
  auto encoded = store_->get_action_result(key);
  if (!encoded.ok() || !*encoded) return std::nullopt;
  auto result = cas::decode_action_result(
      std::as_bytes(std::span((*encoded)->data(), (*encoded)->size())), fn_);
  if (!result.ok()) {
    log("undecodable cache entry " + key.to_string() + ": " + result.error().message);
    return std::nullopt;
  }
  return std::move(result).value();
}

std::optional<Manifest> Launcher::load_manifest() {
  auto text = cas::get_record(*store_, manifest_key_, kManifestName);
  if (!text.ok()) {
    log("manifest " + manifest_key_.to_string() + ": " + text.error().message);
    return std::nullopt;
  }
  if (!*text) return std::nullopt;
  auto manifest = decode_manifest(**text, fn_);
  if (!manifest) log("manifest " + manifest_key_.to_string() + " is not readable; ignored");
  return manifest;
}

void Launcher::store_manifest_entry(ManifestEntry entry) {
  Manifest manifest = load_manifest().value_or(Manifest{});
  add_manifest_entry(manifest, std::move(entry));
  if (auto s = cas::put_record(*store_, manifest_key_, kManifestName, encode_manifest(manifest));
      !s.ok()) {
    log("cannot store manifest entry: " + s.error().message);
  }
}

Result<cas::Digest> Launcher::store_result(const cas::Digest& key, const Produced& produced) {
  cas::ActionResult result;
  auto object = store_->put(produced.object);
  if (!object.ok()) return object.error();
  auto out = store_->put(produced.out);
  if (!out.ok()) return out.error();
  auto err = store_->put(produced.err);
  if (!err.ok()) return err.error();
  result.output_files.push_back({kObjectName, *object, false});
  result.stdout_digest = *out;
  result.stderr_digest = *err;
  auto encoded = cas::encode_action_result(result, fn_);
  if (!encoded.ok()) return encoded.error();
  const std::vector<cas::Digest> referenced = {*object, *out, *err};
  if (auto s = store_->put_action_result(key, *encoded, referenced); !s.ok()) return s.error();
  return key;
}

Status Launcher::write_depfile(const std::vector<ManifestFile>& files) {
  if (!args_.generate_deps) return {};
  std::vector<std::string> system_dirs;
  if (args_.deps_skip_system) {
    auto dirs =
        exec::system_include_dirs(compiler_, identity_, args_.language, dir_ / "toolchains");
    if (!dirs.ok()) return dirs.error();
    system_dirs = std::move(dirs).value();
    for (std::size_t i = 0; i + 1 < args_.preprocessor_args.size(); ++i) {
      const std::string& a = args_.preprocessor_args[i];
      if (a == "-isystem" || a == "-idirafter")
        system_dirs.push_back(args_.preprocessor_args[i + 1]);
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
    std::string path = files[i].rewritten ? rewrite_.from_key(files[i].path) : files[i].path;
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
      fs::canonical(compiler_, ec).filename().string().find("clang") != std::string::npos;
  return write_file_atomically(args_.deps_file,
                               render_depfile(targets, deps, args_.deps_phony_targets,
                                              clang ? DepfileStyle::kClang : DepfileStyle::kGcc));
}

int Launcher::deliver(const cas::ActionResult& result, const std::vector<ManifestFile>& files,
                      Outcome outcome) {
  std::optional<std::string> object;
  for (const cas::OutputFile& file : result.output_files) {
    if (file.path != kObjectName) continue;
    auto blob = store_->get(file.digest);
    if (blob.ok() && *blob) object = std::move(**blob);
  }
  auto out = store_->get(result.stdout_digest);
  auto err = store_->get(result.stderr_digest);
  if (!object || !out.ok() || !*out || !err.ok() || !*err) return -1;  // a broken entry: compile
  if (auto s = write_file_atomically(args_.output, *object); !s.ok()) {
    log(s.error().message);
    return -1;
  }
  if (auto s = write_depfile(files); !s.ok()) {
    log(s.error().message);
    return -1;
  }
  write_all(STDOUT_FILENO, **out);
  write_all(STDERR_FILENO, **err);
  return finish(outcome, 0);
}

// Hashes every file a compile read (the prerequisites of its .d), in order.
// Sets *untrusted when one uses __TIME__/__DATE__/__TIMESTAMP__ (the
// output depends on more than the text) or was modified after this kiln
// started (it may have changed while the compiler read it; as ccache's
// "file too new"): such a compile is not recorded in a manifest.
Result<std::vector<ManifestFile>> Launcher::hash_deps(const std::string& deps_text, bool* untrusted,
                                                      bool scan) {
  auto paths = parse_depfile(deps_text);
  if (!paths || paths->empty()) {
    return make_error(Errc::kInvalidArgument, "unreadable dependency file");
  }
  std::vector<ManifestFile> files;
  files.reserve(paths->size());
  for (const std::string& path : *paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return make_error(Errc::kIo, "cannot read dependency " + path + ": " + std::strerror(errno));
    }
    const auto mtime = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec) +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           std::chrono::nanoseconds(st.st_mtim.tv_nsec));
    if (mtime >= invoked_) {
      log("dependency " + path + " changed during the compile; not recorded in a manifest");
      *untrusted = true;
    }
    // Its stat can stand for its content only if a later change is sure to
    // show in it: mtime and ctime at least a second older than this run
    // (coarse filesystem clocks cannot then give a change the same times).
    FileStat recorded = stat_of(st);
    const auto ctime = std::chrono::system_clock::from_time_t(st.st_ctim.tv_sec);
    if (mtime + std::chrono::seconds(2) > invoked_ || ctime + std::chrono::seconds(2) > invoked_) {
      recorded = FileStat{};
    }
    std::string content;
    const auto digest = file_digest(path, &content);
    if (!digest) return make_error(Errc::kIo, "cannot read dependency " + path);
    if (scan) {
      const TimeMacros macros = scan_time_macros(content);
      if (macros.time || macros.date) *untrusted = true;
    }
    bool rewritten = false;
    std::string key_path = rewrite_.to_key(path, &rewritten);
    files.push_back(ManifestFile{std::move(key_path), rewritten, *digest, recorded});
  }
  return files;
}

// A miss compiled here: the user's command with -MD to a known file.
// `store_as` set: the result is stored under that key (the preprocessed
// action's digest); else under the depend-mode result key.
int Launcher::compile_local(const std::optional<cas::Digest>& store_as, Outcome outcome) {
  std::vector<std::string> run = argv_;
  run[0] = compiler_;
  std::optional<TempPath> temp_deps;
  std::string deps_path;
  bool incomplete_deps = false;
  if (!args_.generate_deps) {
    temp_deps.emplace(dir_ / "tmp", ".d");
    deps_path = temp_deps->str();
    run.insert(run.end(), {"-MD", "-MF", deps_path});
  } else {
    deps_path = args_.deps_file;
    // -MMD leaves out system headers, which the manifest needs: ask for
    // all of them instead and write the user's -MMD file ourselves
    // afterwards. (Inside a response file it stays; the manifest entry is
    // then incomplete and not recorded.)
    if (args_.deps_skip_system) {
      auto mmd = std::find(run.begin() + 1, run.end(), "-MMD");
      if (mmd != run.end()) {
        *mmd = "-MD";
      } else {
        incomplete_deps = true;
      }
    }
  }
  auto compiled = run_captured(run);
  if (!compiled.ok()) {
    std::cerr << "kiln: error: " << compiled.error().message << '\n';
    return finish(Outcome::kError, 127);
  }
  write_all(STDOUT_FILENO, compiled->out);
  write_all(STDERR_FILENO, compiled->err);
  if (compiled->exit_code != 0) return finish(Outcome::kCompileFailed, compiled->exit_code);

  const auto fail_quietly = [&](const std::string& why) {
    log("not cached: " + why);
    return finish(outcome, 0);
  };
  const auto deps_text = read_file(deps_path);
  if (!deps_text) return fail_quietly("no dependency file from the compiler");
  bool untrusted = !direct_ || incomplete_deps;
  auto files = hash_deps(*deps_text, &untrusted);
  if (!files.ok()) return fail_quietly(files.error().message);
  if (args_.deps_skip_system && !incomplete_deps) {
    if (auto s = write_depfile(*files); !s.ok()) log(s.error().message);
  }
  if (readonly_) return finish(outcome, 0);
  auto object = read_file(args_.output);
  if (!object) return fail_quietly("the compiler wrote no " + args_.output);
  const cas::Digest key =
      store_as ? *store_as : cas::digest_of(fn_, depend_result_material(manifest_key_, *files));
  if (auto stored = store_result(key, Produced{std::move(*object), compiled->out, compiled->err});
      !stored.ok()) {
    return fail_quietly(stored.error().message);
  }
  if (!untrusted) store_manifest_entry(ManifestEntry{std::move(files).value(), key});
  return finish(outcome, 0);
}

// Preprocessor mode: preprocess here; the key is the digest of the action
// that compiles the preprocessed file, which the grid can run. Used with a
// scheduler (every miss) and for sources that use __TIME__.
int Launcher::compile_preprocessed() {
  const bool remote = ctx_.config.has_scheduler() && !args_.debug;
  std::string preprocessed;
  std::vector<ManifestFile> files;
  bool untrusted = !direct_;
  const std::string ppl = preprocessed_language(args_.language);
  if (is_preprocessed(args_.language)) {
    auto data = read_file(args_.source);
    if (!data) return compile_local(std::nullopt, Outcome::kMissLocal);
    preprocessed = std::move(*data);
    untrusted = true;
  } else {
    TempPath ii(dir_ / "tmp", ppl == "cpp-output" ? ".i" : ".ii");
    TempPath d(dir_ / "tmp", ".d");
    std::vector<std::string> cpp = {compiler_};
    cpp.insert(cpp.end(), args_.preprocessor_args.begin(), args_.preprocessor_args.end());
    cpp.insert(cpp.end(), args_.compiler_args.begin(), args_.compiler_args.end());
    if (args_.explicit_language) cpp.insert(cpp.end(), {"-x", args_.language});
    cpp.insert(cpp.end(), {args_.source, "-E", "-o", ii.str(), "-MD", "-MF", d.str()});
    auto ran = run_captured(cpp);
    // A preprocessing failure: the real compile reports it exactly.
    if (!ran.ok() || ran->exit_code != 0) return compile_local(std::nullopt, Outcome::kMissLocal);
    auto data = read_file(ii.str());
    auto deps = read_file(d.str());
    if (!data || !deps) return compile_local(std::nullopt, Outcome::kMissLocal);
    preprocessed = std::move(*data);
    auto hashed = hash_deps(*deps, &untrusted);
    if (!hashed.ok()) {
      log(hashed.error().message);
      untrusted = true;
    } else {
      files = std::move(hashed).value();
    }
  }

  // The action: compile the preprocessed file on a machine with this
  // compiler at this path.
  const std::string input_name = ppl == "cpp-output"  ? "in.i"
                                 : ppl == "assembler" ? "in.s"
                                                      : "in.ii";
  cas::Command command;
  command.arguments.push_back(compiler_);
  command.arguments.insert(command.arguments.end(), args_.compiler_args.begin(),
                           args_.compiler_args.end());
  command.arguments.insert(command.arguments.end(),
                           {"-x", ppl, "-c", input_name, "-o", kObjectName});
  command.environment.push_back({"PATH", "/usr/local/bin:/usr/bin:/bin"});
  for (std::string_view name : compile_environment_names()) {
    if (auto it = ctx_.environment.find(std::string(name)); it != ctx_.environment.end()) {
      command.environment.push_back({std::string(name), it->second});
    }
  }
  std::sort(command.environment.begin(), command.environment.end(),
            [](const cas::Property& a, const cas::Property& b) { return a.name < b.name; });
  command.output_files = {kObjectName};
  command.platform = {{exec::toolchain_property(compiler_), identity_.to_string()}};

  auto source_blob = store_->put(preprocessed);
  auto encoded_command = cas::encode_command(command);
  if (!source_blob.ok() || !encoded_command.ok())
    return compile_local(std::nullopt, Outcome::kMissLocal);
  cas::Directory root;
  root.files.push_back({input_name, *source_blob, false});
  auto encoded_root = cas::encode_directory(root, fn_);
  if (!encoded_root.ok()) return compile_local(std::nullopt, Outcome::kMissLocal);
  auto command_digest = store_->put(*encoded_command);
  auto root_digest = store_->put(*encoded_root);
  if (!command_digest.ok() || !root_digest.ok())
    return compile_local(std::nullopt, Outcome::kMissLocal);
  cas::Action action;
  action.command_digest = *command_digest;
  action.input_root_digest = *root_digest;
  auto encoded_action = cas::encode_action(action, fn_);
  if (!encoded_action.ok()) return compile_local(std::nullopt, Outcome::kMissLocal);
  const cas::Digest action_digest = cas::digest_of(fn_, *encoded_action);
  (void)store_->put(*encoded_action);

  const auto remember = [&]() {
    if (!untrusted && !readonly_) store_manifest_entry(ManifestEntry{files, action_digest});
  };
  if (!recache_) {
    if (auto hit = lookup(action_digest)) {
      const int code = deliver(*hit, files, Outcome::kPreprocessedHit);
      if (code >= 0) {
        remember();
        return code;
      }
    }
  }
  if (remote) {
    const grid::GridOptions options = grid::grid_options(ctx_.config, grid::GridUse::kCompile);
    auto grid = grid_.make_executor(*store_, options);
    auto executed = grid->execute(action_digest, action);
    if (executed.ok() && executed->result.exit_code == 0 && !executed->timed_out &&
        executed->missing_outputs.empty() && executed->result.stderr_digest.size != 0) {
      // Diagnostics from a worker's compile of preprocessed text lack the
      // source excerpts (the worker has no sources) and can differ in
      // macro-sensitive warnings: recompile here for the exact messages.
      log("the grid's compile printed diagnostics; compiling here for the exact messages");
      return compile_local(action_digest, Outcome::kMissLocal);
    }
    if (executed.ok() && executed->result.exit_code == 0 && !executed->timed_out &&
        executed->missing_outputs.empty()) {
      // The grid executor has recorded the result in the local tier.
      const int code = deliver(executed->result, files,
                               executed->cached ? Outcome::kRemoteHit : Outcome::kMissRemote);
      if (code >= 0) {
        remember();
        return code;
      }
    }
    if (executed.ok()) {
      log("the grid's compile failed or is incomplete; compiling here");
    } else {
      log("grid unavailable (" + executed.error().message + "); compiling here for " +
          std::to_string(kGridBackoff.count()) + " s");
      (void)write_file_atomically((dir_ / "grid-backoff").string(), ctx_.config.scheduler());
    }
    return compile_local(action_digest, Outcome::kMissRemoteFallback);
  }
  return compile_local(action_digest, Outcome::kMissLocal);
}

int Launcher::run() {
  if (auto ready = setup(); !ready.ok()) {
    if (ready.error().code == Errc::kInvalidArgument) throw_error(ready.error());
    std::cerr << "kiln: warning: cache unavailable (" << ready.error().message
              << "); compiling without it\n";
    exec_compiler(compiler_, [&] {
      auto run = argv_;
      run[0] = compiler_;
      return run;
    }());
  }

  std::string source;
  const auto source_digest = file_digest(args_.source, &source);
  if (!source_digest) {
    // Let the compiler say what is wrong with the source.
    return compile_local(std::nullopt, Outcome::kMissLocal);
  }
  const TimeMacros macros = scan_time_macros(source);
  direct_ = !macros.time;
  DirectKeyInput key;
  key.identity = identity_;
  key.args = &args_;
  key.rewrite = rewrite_;
  key.environment = ctx_.environment;
  key.source_digest = *source_digest;
  if (macros.date) key.date = today();
  manifest_key_ = cas::digest_of(fn_, direct_key_material(key));

  if (direct_ && !recache_) {
    if (auto manifest = load_manifest()) {
      for (const ManifestEntry& entry : manifest->entries) {
        if (!entry_matches(entry)) continue;
        if (auto result = lookup(entry.result)) {
          const int code = deliver(*result, entry.files, Outcome::kDirectHit);
          if (code >= 0) return code;
          log("cache entry " + entry.result.to_string() + " is incomplete; compiling");
        }
        break;
      }
    }
  }
  const bool remote = ctx_.config.has_scheduler();
  if (remote && grid_backing_off()) {
    return compile_local(std::nullopt, Outcome::kMissRemoteFallback);
  }
  // With -g a preprocessed compile differs from a local one in DWARF column
  // numbers after macro expansions (docs/launcher.md), so debug builds
  // compile here even with a grid.
  if (remote && !args_.debug && !grid_.make_executor) {
    // This binary has no grid client: hand over to one that has (nothing
    // has been written yet).
    store_.reset();
    grid_.handoff();
  }
  if (!direct_ || (remote && !args_.debug)) return compile_preprocessed();
  return compile_local(std::nullopt, Outcome::kMissLocal);
}

// A link: the same manifest scheme as a compile, with the linker's own
// --dependency-file listing everything it read (objects, archives, shared
// libraries, start files, scripts). Links always run here.
int Launcher::run_link() {
  if (auto ready = setup(); !ready.ok()) {
    if (ready.error().code == Errc::kInvalidArgument) throw_error(ready.error());
    std::cerr << "kiln: warning: cache unavailable (" << ready.error().message
              << "); linking without it\n";
    auto run = argv_;
    run[0] = compiler_;
    exec_compiler(compiler_, run);
  }
  std::string material = "kiln-link-v1\n" + identity_.to_string() + "\n";
  for (const std::string& arg : link_.args) material += rewrite_.arg_to_key(arg) + "\n";
  for (std::string_view name : compile_environment_names()) {
    if (auto it = ctx_.environment.find(std::string(name)); it != ctx_.environment.end()) {
      material += std::string(name) + "=" + it->second + "\n";
    }
  }
  if (auto it = ctx_.environment.find("LIBRARY_PATH"); it != ctx_.environment.end()) {
    material += "LIBRARY_PATH=" + it->second + "\n";
  }
  manifest_key_ = cas::digest_of(fn_, material);

  if (!recache_) {
    if (auto manifest = load_manifest()) {
      for (const ManifestEntry& entry : manifest->entries) {
        if (!entry_matches(entry)) continue;
        auto result = lookup(entry.result);
        if (!result || result->output_files.size() != 1) break;
        const cas::OutputFile& file = result->output_files[0];
        auto blob = store_->get(file.digest);
        auto out = store_->get(result->stdout_digest);
        auto err = store_->get(result->stderr_digest);
        if (!blob.ok() || !*blob || !out.ok() || !*out || !err.ok() || !*err) break;
        if (!write_file_atomically(link_.output, **blob, file.executable ? 0777 : 0666).ok()) break;
        write_all(STDOUT_FILENO, **out);
        write_all(STDERR_FILENO, **err);
        return finish(Outcome::kLinkHit, 0);
      }
    }
  }

  TempPath deps(dir_ / "tmp", ".d");
  std::vector<std::string> run = argv_;
  run[0] = compiler_;
  run.push_back("-Wl,--dependency-file=" + deps.str());
  auto linked = run_captured(run);
  if (!linked.ok()) {
    std::cerr << "kiln: error: " << linked.error().message << '\n';
    return 127;
  }
  write_all(STDOUT_FILENO, linked->out);
  write_all(STDERR_FILENO, linked->err);
  if (linked->exit_code != 0) {
    log("link failed");
    return linked->exit_code;
  }
  const auto fail_quietly = [&](const std::string& why) {
    log("not cached: " + why);
    return finish(Outcome::kLinkMiss, 0);
  };
  if (readonly_) return finish(Outcome::kLinkMiss, 0);
  const auto deps_text = read_file(deps.str());
  if (!deps_text) return fail_quietly("the linker wrote no dependency file");
  bool untrusted = false;
  auto files = hash_deps(*deps_text, &untrusted, /*scan_time_macros=*/false);
  if (!files.ok()) return fail_quietly(files.error().message);
  struct stat st {};
  if (::stat(link_.output.c_str(), &st) != 0) return fail_quietly("no " + link_.output);
  auto output = store_->put_file(link_.output);
  auto out = store_->put(linked->out);
  auto err = store_->put(linked->err);
  if (!output.ok() || !out.ok() || !err.ok()) return fail_quietly("cannot store the output");
  cas::ActionResult result;
  result.output_files.push_back({"out", *output, (st.st_mode & 0111) != 0});
  result.stdout_digest = *out;
  result.stderr_digest = *err;
  auto encoded = cas::encode_action_result(result, fn_);
  if (!encoded.ok()) return fail_quietly(encoded.error().message);
  const cas::Digest key = cas::digest_of(fn_, depend_result_material(manifest_key_, *files));
  const std::vector<cas::Digest> referenced = {*output, *out, *err};
  if (auto stored = store_->put_action_result(key, *encoded, referenced); !stored.ok()) {
    return fail_quietly(stored.error().message);
  }
  if (!untrusted) store_manifest_entry(ManifestEntry{std::move(files).value(), key});
  return finish(Outcome::kLinkMiss, 0);
}

}  // namespace

int run_launcher(Context& ctx, const std::vector<std::string>& argv, const GridAccess& grid) {
  auto compiler = resolve_compiler(argv[0], ctx.environment);
  if (!compiler) throw CommandError(127, "compiler '" + argv[0] + "' not found on PATH");
  std::vector<std::string> run = argv;
  run[0] = *compiler;
  if (ctx.config.disable()) exec_compiler(*compiler, run);
  const auto read = [](const std::string& path) { return read_file(path); };
  auto analysis = analyze_compile(argv, read);
  if (auto* why = std::get_if<Uncacheable>(&analysis)) {
    // Not a compile; perhaps a link kiln can cache.
    auto link = analyze_link(argv, read);
    if (auto* args = std::get_if<LinkArgs>(&link)) {
      Launcher launcher(ctx, argv, *compiler, std::move(*args), grid);
      return launcher.run_link();
    }
    if (stats_category(why->reason) == "linking") {
      why->reason = "linking (" + std::get<Uncacheable>(link).reason + ")";
    }
  }
  if (auto* why = std::get_if<Uncacheable>(&analysis)) {
    const fs::path dir = ctx.config.dir();
    (void)add_stats(dir / "stats", {{"uncacheable:" + stats_category(why->reason), 1}});
    if (const std::string& file = ctx.config.logfile(); !file.empty()) {
      std::ofstream(file, std::ios::app)
          << "[" << ::getpid() << "] uncacheable: " << why->reason << '\n';
    }
    exec_compiler(*compiler, run);
  }
  Launcher launcher(ctx, argv, *compiler, std::get<CompileArgs>(std::move(analysis)), grid);
  return launcher.run();
}

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
      const std::string old_text = read_file(config_path).value_or("");
      check(write_file_atomically(config_path, with_config_value(old_text, "max_size", value)),
            "config file");
      ctx.out << "Set cache size limit to " << value << " in " << config_path << '\n';
    } else {
      throw CommandError(kExitUsage, "unknown option " + a + " (see kiln --help)");
    }
  }
  return kExitOk;
}

}  // namespace kiln::client::launcher
