// cache_session.h: the local cache as one launcher invocation uses it.
#include "client/launcher/cache_session.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <span>

#include "base/files.h"
#include "cas/record.h"
#include "client/launcher/depfile.h"
#include "client/launcher/job.h"
#include "client/local_store.h"
#include "client/recorder.h"
#include "exec/toolchain.h"

namespace kiln::client::launcher {
namespace {

namespace fs = std::filesystem;

constexpr const char* kManifestName = "manifest";

FileStat stat_of(const struct stat& st) {
  return FileStat{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                  static_cast<std::uint64_t>(st.st_size),
                  std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                  std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec};
}

}  // namespace

void append_log(const Config& config, std::string_view line) {
  const std::string& file = config.logfile();
  if (file.empty()) return;
  // "2026-12-07T06:12:20.637 [pid] line": local time to the millisecond,
  // so a build's log lines up with other logs (ccache's has it too).
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  ::localtime_r(&seconds, &local);
  std::array<char, 32> stamp{};
  const std::size_t n = std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%S", &local);
  std::ofstream out(file, std::ios::app);
  out << std::string_view(stamp.data(), n) << '.' << std::setfill('0') << std::setw(3) << millis
      << " [" << ::getpid() << "] " << line << '\n';
}

void CacheSession::describe(ActionRecord& record) const {
  record.digest_function = std::string(cas::to_string(fn_));
  record.toolchain = digest_text(identity_);
  record.toolchain_path = compiler_;
  record.cwd = rewrite_.cwd;
}

std::vector<FileRecord> file_records(std::vector<ManifestFile>&& files) {
  std::vector<FileRecord> out;
  out.reserve(files.size());
  for (ManifestFile& f : files) out.push_back({std::move(f.path), f.digest.to_string()});
  return out;
}

void write_output(int fd, std::string_view data) { (void)base::write_all(fd, data, "output"); }

std::optional<std::string> read_file_or_none(const std::string& path) {
  auto data = base::read_file(path);
  if (!data.ok()) return std::nullopt;
  return std::move(data).value();
}

TempPath::TempPath(const fs::path& dir, const std::string& suffix) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  path_ = (dir / ("c" + std::to_string(::getpid()) + "-" + std::to_string(now) + suffix)).string();
}

TempPath::~TempPath() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

TempPath::TempPath(TempPath&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

CacheSession::CacheSession(Context& ctx, std::string compiler, std::string subject)
    : ctx_(ctx),
      compiler_(std::move(compiler)),
      subject_(std::move(subject)),
      dir_(ctx.config.dir()) {}

Status CacheSession::setup(const std::optional<cas::Digest>& known_identity) {
  readonly_ = ctx_.config.readonly();
  recache_ = ctx_.config.recache();

  std::error_code ec;
  fs::create_directories(dir_ / "tmp", ec);
  if (ec) {
    return make_error(Errc::kPermissionDenied,
                      "cache directory " + dir_.string() + ": " + ec.message());
  }
  LocalStoreOptions options;
  options.durable = false;  // a cache: reads are verified, a crash costs entries, not correctness
  options.warn = [this](std::string_view message) { log(std::string(message)); };
  auto store = try_open_local_store(ctx_, options);
  if (!store.ok()) {
    // A store that cannot be opened is a cache that is unavailable, not a
    // usage error (settings were checked when the configuration loaded).
    return make_error(store.error().code == Errc::kInvalidArgument ? Errc::kIo : store.error().code,
                      store.error().message);
  }
  store_ = std::move(store).value();
  fn_ = store_->digest_function();

  if (known_identity) {
    identity_ = *known_identity;
  } else {
    // XXH3 whatever the store's function, so it matches the workers'
    // advertised toolchain properties.
    auto identity =
        exec::toolchain_identity(compiler_, cas::DigestFunction::kXxh3_128, dir_ / "toolchains");
    if (!identity.ok()) return identity.error();
    identity_ = *identity;
  }

  std::string cwd = fs::current_path(ec).string();
  if (ec) return make_error(Errc::kIo, "working directory: " + ec.message());
  rewrite_.cwd = cwd;
  if (const std::string& base = ctx_.config.basedir(); !base.empty()) {
    rewrite_.basedir = fs::absolute(base).lexically_normal().string();
    while (rewrite_.basedir.size() > 1 && rewrite_.basedir.back() == '/') {
      rewrite_.basedir.pop_back();
    }
  }
  return {};
}

void CacheSession::log(const std::string& line) const {
  if (ctx_.config.logfile().empty()) return;
  append_log(ctx_.config, subject_ + ": " + line);
}

std::optional<cas::Digest> CacheSession::file_digest(const std::string& path,
                                                     std::string* content) {
  if (content == nullptr) {
    if (auto it = digests_.find(path); it != digests_.end()) return it->second;
  }
  std::optional<cas::Digest> digest;
  if (auto data = read_file_or_none(path)) {
    digest = cas::digest_of(fn_, *data);
    if (content != nullptr) *content = std::move(*data);
  }
  digests_[path] = digest;
  return digest;
}

bool CacheSession::entry_matches(const ManifestEntry& entry) {
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

std::optional<cas::ActionResult> CacheSession::lookup(const cas::Digest& key) {
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

std::optional<Manifest> CacheSession::load_manifest(const cas::Digest& key) {
  auto text = cas::get_record(*store_, key, kManifestName);
  if (!text.ok()) {
    log("manifest " + key.to_string() + ": " + text.error().message);
    return std::nullopt;
  }
  if (!*text) return std::nullopt;
  auto manifest = decode_manifest(**text, fn_);
  if (!manifest) log("manifest " + key.to_string() + " is not readable; ignored");
  return manifest;
}

void CacheSession::store_manifest_entry(const cas::Digest& key, ManifestEntry entry) {
  Manifest manifest = load_manifest(key).value_or(Manifest{});
  add_manifest_entry(manifest, std::move(entry));
  if (auto s = cas::put_record(*store_, key, kManifestName, encode_manifest(manifest)); !s.ok()) {
    log("cannot store manifest entry: " + s.error().message);
  }
}

Result<std::vector<ManifestFile>> CacheSession::hash_deps(const std::string& deps_text,
                                                          bool* untrusted, bool scan) {
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

}  // namespace kiln::client::launcher
