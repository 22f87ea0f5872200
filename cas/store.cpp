// The LMDB content-addressable store.
//
// One LMDB environment (MDB_NOTLS, so a read transaction is not tied to a
// thread, and normal LMDB locking between processes) with six databases.
// Every blob key is the hash bytes + the size as 8 big-endian bytes.
//   meta   "magic", "version", "function" (checked at open), "total_bytes"
//          and "file_count" (updated in every write transaction)
//   index  blob key -> last access (ms) + kind (inline | file). Presence of
//          a blob is presence here; contains/find_missing read only this.
//   blobs  blob key -> bytes, for inline blobs (below file_threshold)
//   lru    (access time BE, blob key) -> "": oldest first, for eviction
//   ac     action key -> count, referenced blob keys, encoded ActionResult
//   acref  (blob key, action key) -> "": which actions name a blob
// File blobs live in files/xx/<hex>_<size> (xx = first hex byte), read-only
// (0444). They are written to tmp/ outside any transaction (fsynced when
// durable), then renamed into place inside the write transaction that
// indexes them; eviction unlinks them inside the write transaction that
// drops them. Both hold LMDB's writer lock, so a rename and an unlink of one
// blob never interleave. A reader that finds an index entry but no file
// (evicted after its read transaction, or a crash between unlink and commit)
// answers "missing", and the next write transaction drops the entry.
// Nothing is ever hard-linked out of files/: write_blob_to copies (reflink
// where the filesystem can), so a sandbox cannot change a stored blob.
//
// Integrity: put re-hashes; get and write_blob_to re-hash what they read. A
// mismatch is reported through StoreOptions::warn (stderr if unset), the
// blob is deleted in a write transaction, and the answer is "missing".
//
// Recency without read-side writes: a read that finds a blob whose recorded
// access is older than kAccessGranularityMs buffers (key, now) in memory.
// The buffer is written by the next write transaction of this Store, after
// kAccessFlushCount buffered reads, by flush_access() and at destruction. A
// put of a present blob counts as an access.
//
// Eviction: when a write transaction leaves total_bytes above max_size, it
// deletes blobs from the front of `lru` down to 90% of max_size, in the same
// transaction; blobs written by that transaction are never its victims (so
// a blob larger than max_size is stored, and the next put evicts it). A
// deleted blob takes the action-cache entries naming it along (found through
// `acref`), so `ac` never outgrows the blobs. Action-cache entries are not
// counted in total_bytes. gc() evicts on demand to an exact target and
// removes temp files older than an hour left by killed writers.
//
// Durability: durable=true commits with LMDB's normal fsync and fsyncs file
// blobs and their directory before indexing them. durable=false opens with
// MDB_NOSYNC|MDB_NOMETASYNC and skips the file fsyncs: a process crash
// loses nothing (the page cache survives it), but a machine crash may lose
// recent commits and, on a filesystem that does not keep write order, may
// damage the environment; the store must then be deleted. Since every read
// is verified, neither mode ever serves wrong bytes.
//
// Failures: every write is one transaction, and a failed one is aborted, so
// a failed put leaves the store as it was (a temp file it wrote is
// removed; a file renamed in is unlinked if the commit fails).
#include "cas/store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "cas/file_digest.h"
#include "cas/store_impl.h"

namespace kiln::cas {

using namespace store_detail;

namespace {

constexpr std::size_t kAccessFlushCount = 1024;
constexpr std::uint64_t kAccessGranularityMs = 1000;
constexpr std::size_t kPrefaultMin = 32u << 10;

std::string hex_of(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<std::uint8_t>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

Error wrong_function(const Digest& d, DigestFunction fn) {
  return make_error(Errc::kInvalidArgument, "digest " + d.to_string() + " is " +
                                                std::string(to_string(d.function)) +
                                                ", the store uses " + std::string(to_string(fn)));
}

Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return {};
  return os_error(errno, "cannot create " + path);
}

}  // namespace

Store::Impl::~Impl() {
  if (rtxn) mdb_txn_abort(rtxn);
  if (env) mdb_env_close(env);
}

std::string Store::Impl::file_subdir(std::string_view key) const {
  return files_dir + "/" + hex_of(key.substr(0, 1));
}

std::string Store::Impl::file_path(std::string_view key) const {
  const std::size_t hs = key.size() - 8;
  return file_subdir(key) + "/" + hex_of(key.substr(0, hs)) + "_" +
         std::to_string(get_be64(key.data() + hs));
}

void Store::Impl::warn(const std::string& message) const {
  if (opt.warn) {
    opt.warn(message);
  } else {
    std::fprintf(stderr, "kiln: warning: %s\n", message.c_str());
  }
}

Status Store::Impl::begin_read() {
  int rc = rtxn ? mdb_txn_renew(rtxn) : mdb_txn_begin(env, nullptr, MDB_RDONLY, &rtxn);
  if (rc == MDB_MAP_RESIZED) {  // another process grew the map
    if (rtxn) mdb_txn_abort(rtxn);
    rtxn = nullptr;
    mdb_env_set_mapsize(env, 0);
    rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &rtxn);
  }
  if (rc != 0) {
    if (rtxn) mdb_txn_abort(rtxn);
    rtxn = nullptr;
    return lmdb_error(rc, "cannot read store at " + dir);
  }
  return {};
}

std::optional<IndexEntry> Store::Impl::lookup(MDB_txn* txn, std::string_view key, int* rc) {
  MDB_val k = to_val(key), v;
  *rc = mdb_get(txn, index, &k, &v);
  if (*rc != 0) {
    if (*rc == MDB_NOTFOUND) *rc = 0;
    return std::nullopt;
  }
  return decode_index(from_val(v));
}

void Store::Impl::record_access(const std::string& key, std::uint64_t atime) {
  const std::uint64_t now = now_ms();
  if (now < atime + kAccessGranularityMs) return;
  accesses[key] = now;
  ++buffered_reads;
}

void Store::Impl::maybe_flush() {
  if (buffered_reads < kAccessFlushCount) return;
  Status st = write("cannot record accesses", [](WriteCtx&) { return Status(); });
  if (!st.ok()) {
    warn(st.error().message);
    accesses.clear();  // keep the buffer bounded; recency is advisory
    buffered_reads = 0;
  }
}

Status Store::Impl::put_verified(const std::string& key, std::string_view data) {
  if (data.size() >= opt.file_threshold) {
    auto there = present(key);
    if (!there.ok()) return there.error();
    if (*there) return {};
    auto tmp = write_temp(tmp_dir, data, opt.durable);
    if (!tmp.ok()) return prefixed(tmp.error(), "cannot store blob");
    return put_file_blob(key, *tmp);
  }
  return write("cannot store blob", [&](WriteCtx& c) -> Status {
    int rc = 0;
    if (lookup(c.txn, key, &rc)) {
      accesses[key] = now_ms();
      return {};
    }
    if (rc != 0) return lmdb_error(rc, "cannot read the index");
    return insert_blob(c, key, kInlineBlob, data);
  });
}

Result<bool> Store::Impl::present(const std::string& key) {
  std::optional<IndexEntry> e;
  {
    Status st = begin_read();
    if (!st.ok()) return st.error();
    ReadGuard guard{this};
    int rc = 0;
    e = lookup(rtxn, key, &rc);
    if (rc != 0) return lmdb_error(rc, "cannot read store at " + dir);
  }
  if (!e || (e->kind == kFileBlob && ::access(file_path(key).c_str(), F_OK) != 0)) return false;
  record_access(key, e->atime);
  return true;
}

Status Store::Impl::put_file_blob(const std::string& key, const std::string& tmp) {
  const std::string final_path = file_path(key);
  Status st = write("cannot store blob", [&](WriteCtx& c) -> Status {
    int rc = 0;
    const auto e = lookup(c.txn, key, &rc);
    if (rc != 0) return lmdb_error(rc, "cannot read the index");
    if (e && (e->kind == kInlineBlob || ::access(final_path.c_str(), F_OK) == 0)) {
      accesses[key] = now_ms();
      return {};
    }
    if (e) {  // indexed, but the file vanished: replace the entry
      Status del = delete_blob(c, key);
      if (!del.ok()) return del;
      std::erase(c.evicted_files, final_path);
    }
    Status made = make_dir(file_subdir(key));
    if (!made.ok()) return made;
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      return os_error(errno, "cannot rename into " + final_path);
    }
    c.new_files.push_back(final_path);
    if (opt.durable) {
      Status synced = fsync_dir(file_subdir(key));
      if (!synced.ok()) return synced;
    }
    return insert_blob(c, key, kFileBlob, {});
  });
  ::unlink(tmp.c_str());  // still there unless renamed
  return st;
}

void Store::Impl::drop_corrupt(const std::string& key, const Digest& digest) {
  warn("blob " + digest.to_string() + " in store " + dir +
       " does not match its digest; it was removed");
  Status st = write("cannot remove corrupt blob", [&](WriteCtx& c) { return delete_blob(c, key); });
  if (!st.ok()) warn(st.error().message);
}

// ---------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  if (!impl_->accesses.empty() || !impl_->vanished.empty()) {
    Status st = flush_access();
    if (!st.ok()) impl_->warn(st.error().message);
  }
}

Result<std::unique_ptr<Store>> Store::open(StoreOptions options) {
  auto s = std::make_unique<Impl>();
  s->opt = std::move(options);
  s->dir = s->opt.dir.string();
  const std::string& dir = s->dir;
  if (dir.empty()) return make_error(Errc::kInvalidArgument, "no store directory given");
  std::error_code ec;
  std::filesystem::create_directories(s->opt.dir, ec);
  if (ec) return os_error(ec.value(), "cannot create store directory " + dir);
  if (!std::filesystem::is_directory(s->opt.dir, ec)) {
    return make_error(Errc::kInvalidArgument, dir + " is not a directory");
  }
  if (!std::filesystem::exists(s->opt.dir / "data.mdb", ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(s->opt.dir, ec)) {
      const auto name = entry.path().filename().string();
      // data.mdb too: another process may be creating the store right now.
      if (name != "lock.mdb" && name != "data.mdb" && name != "files" && name != "tmp") {
        return make_error(Errc::kInvalidArgument,
                          dir + " is not a kiln store (not empty, and no data.mdb)");
      }
    }
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return os_error(errno, "store directory " + dir + " is not writable");
  }
  int rc = mdb_env_create(&s->env);
  if (rc == 0) rc = mdb_env_set_maxdbs(s->env, 8);
  if (rc == 0) rc = mdb_env_set_maxreaders(s->env, 1022);
  if (rc == 0) rc = mdb_env_set_mapsize(s->env, s->opt.map_size);
  const unsigned flags = MDB_NOTLS | (s->opt.durable ? 0u : MDB_NOSYNC | MDB_NOMETASYNC);
  if (rc == 0) rc = mdb_env_open(s->env, dir.c_str(), flags, 0644);
  if (rc != 0) return lmdb_error(rc, "cannot open store at " + dir);
  int dead = 0;
  if ((rc = mdb_reader_check(s->env, &dead)) != 0) {
    return lmdb_error(rc, "cannot clear stale readers of " + dir);
  }
  Status st = s->open_databases();
  if (!st.ok()) return st.error();
  s->files_dir = dir + "/files";
  s->tmp_dir = dir + "/tmp";
  if (!(st = make_dir(s->files_dir)).ok() || !(st = make_dir(s->tmp_dir)).ok()) {
    return st.error();
  }
  return std::unique_ptr<Store>(new Store(std::move(s)));
}

DigestFunction Store::digest_function() const { return impl_->opt.function; }

Status Store::put(const Digest& digest, std::span<const std::byte> data) {
  const DigestFunction fn = impl_->opt.function;
  if (digest.function != fn) return wrong_function(digest, fn);
  const Digest actual = digest_of(fn, data);
  if (actual != digest) {
    return make_error(Errc::kCorrupt, "blob does not match its digest " + digest.to_string() +
                                          " (it hashes to " + actual.to_string() + ")");
  }
  return impl_->put_verified(blob_key(digest),
                             {reinterpret_cast<const char*>(data.data()), data.size()});
}

Result<Digest> Store::put(std::span<const std::byte> data) {
  const Digest d = digest_of(impl_->opt.function, data);
  Status st =
      impl_->put_verified(blob_key(d), {reinterpret_cast<const char*>(data.data()), data.size()});
  if (!st.ok()) return st.error();
  return d;
}

Result<Digest> Store::put(std::string_view data) {
  return put(std::as_bytes(std::span(data.data(), data.size())));
}

Result<Digest> Store::put_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return os_error(errno, "cannot stat " + path.string());
  if (!S_ISREG(st.st_mode)) {
    return make_error(Errc::kInvalidArgument, path.string() + " is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) < impl_->opt.file_threshold) {
    auto data = read_file(path.string());
    if (!data.ok()) return data.error();
    return put(std::string_view(*data));
  }
  // Hash first: a file already stored costs a read, not a copy. The copy
  // is hashed again, and what is stored is what that hash names.
  auto first = digest_file(impl_->opt.function, path.string());
  if (!first.ok()) return first.error();
  auto there = impl_->present(blob_key(*first));
  if (!there.ok()) return there.error();
  if (*there) return *first;
  auto copy = copy_to_temp(path.string(), impl_->tmp_dir, impl_->opt.function, impl_->opt.durable);
  if (!copy.ok()) return copy.error();
  Status put_st = impl_->put_file_blob(blob_key(copy->digest), copy->path);
  if (!put_st.ok()) return put_st.error();
  return copy->digest;
}

Status Store::adopt_file(const Digest& digest, const std::filesystem::path& path) {
  Impl& s = *impl_;
  struct Unlink {
    const std::filesystem::path& path;
    ~Unlink() { ::unlink(path.c_str()); }  // a no-op once renamed into the store
  } unlink_after{path};
  if (digest.function != s.opt.function) return wrong_function(digest, s.opt.function);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return os_error(errno, "cannot stat " + path.string());
  if (!S_ISREG(st.st_mode)) {
    return make_error(Errc::kInvalidArgument, path.string() + " is not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) != digest.size) {
    return make_error(Errc::kCorrupt, path.string() + " has " + std::to_string(st.st_size) +
                                          " bytes, not the " + std::to_string(digest.size) +
                                          " of blob " + digest.to_string());
  }
  if (digest.size < s.opt.file_threshold) {
    auto data = read_file(path.string());
    if (!data.ok()) return data.error();
    return put(digest, std::as_bytes(std::span(data->data(), data->size())));
  }
  return s.put_file_blob(blob_key(digest), path.string());
}

Result<std::optional<std::string>> Store::get(const Digest& digest) {
  Impl& s = *impl_;
  if (digest.function != s.opt.function) return wrong_function(digest, s.opt.function);
  const std::string key = blob_key(digest);
  std::optional<std::string> data;
  Digest actual;
  bool is_file = false;
  {
    Status st = s.begin_read();
    if (!st.ok()) return st.error();
    Impl::ReadGuard guard{&s};
    int rc = 0;
    const auto e = s.lookup(s.rtxn, key, &rc);
    if (rc != 0) return lmdb_error(rc, "cannot read store at " + s.dir);
    if (!e) return std::optional<std::string>();
    s.record_access(key, e->atime);
    if (e->kind == kFileBlob) {
      is_file = true;
    } else {
      MDB_val k = to_val(key), v;
      rc = mdb_get(s.rtxn, s.blobs, &k, &v);
      if (rc == 0 && v.mv_size >= kPrefaultMin) {
        // Fault the blob's pages in with one call rather than one fault per
        // page during the copy: for a freshly written blob, or in a new
        // process, those faults are most of a get. Advisory: failure (an
        // old kernel) only costs the faults.
        const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
        const auto begin = reinterpret_cast<std::uintptr_t>(v.mv_data) & ~(page - 1);
        const auto end = reinterpret_cast<std::uintptr_t>(v.mv_data) + v.mv_size;
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ);
      }
      if (rc == 0) data = copy_hashed(from_val(v), s.opt.function, &actual);
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "cannot read store at " + s.dir);
    }
  }
  if (is_file) {
    auto bytes = read_file(s.file_path(key), s.opt.function, &actual);
    if (!bytes.ok() && bytes.error().code == Errc::kNotFound) {
      s.vanished.push_back(key);
    } else if (!bytes.ok()) {
      return bytes.error();
    } else {
      data = std::move(*bytes);
    }
  }
  if (data && actual != digest) {
    s.drop_corrupt(key, digest);
    data.reset();
  }
  s.maybe_flush();
  return data;
}

Result<std::optional<base::UniqueFd>> Store::open_file_blob(const Digest& digest) {
  Impl& s = *impl_;
  if (digest.function != s.opt.function) return wrong_function(digest, s.opt.function);
  const std::string key = blob_key(digest);
  {
    Status st = s.begin_read();
    if (!st.ok()) return st.error();
    Impl::ReadGuard guard{&s};
    int rc = 0;
    const auto e = s.lookup(s.rtxn, key, &rc);
    if (rc != 0) return lmdb_error(rc, "cannot read store at " + s.dir);
    if (!e || e->kind != kFileBlob) return std::optional<base::UniqueFd>();
    s.record_access(key, e->atime);
  }
  base::UniqueFd fd(::open(s.file_path(key).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno != ENOENT) return os_error(errno, "cannot open " + s.file_path(key));
    s.vanished.push_back(key);
    return std::optional<base::UniqueFd>();
  }
  s.maybe_flush();
  return std::optional<base::UniqueFd>(std::move(fd));
}

void Store::drop_corrupt(const Digest& digest) { impl_->drop_corrupt(blob_key(digest), digest); }

Result<bool> Store::contains(const Digest& digest) {
  auto missing = find_missing(std::span(&digest, 1));
  if (!missing.ok()) return missing.error();
  return missing->empty();
}

Result<std::vector<Digest>> Store::find_missing(std::span<const Digest> digests) {
  Impl& s = *impl_;
  std::vector<Digest> missing;
  {
    Status st = s.begin_read();
    if (!st.ok()) return st.error();
    Impl::ReadGuard guard{&s};
    std::unordered_set<Digest, DigestHash> seen;
    std::string key;
    for (const Digest& d : digests) {
      if (d.function != s.opt.function) return wrong_function(d, s.opt.function);
      if (digests.size() > 1 && !seen.insert(d).second) continue;
      key = blob_key(d);
      int rc = 0;
      const auto e = s.lookup(s.rtxn, key, &rc);
      if (rc != 0) return lmdb_error(rc, "cannot read store at " + s.dir);
      if (e) {
        s.record_access(key, e->atime);
      } else {
        missing.push_back(d);
      }
    }
  }
  s.maybe_flush();
  return missing;
}

Status Store::put_action_result(const Digest& action, std::string_view encoded_result,
                                std::span<const Digest> referenced) {
  const DigestFunction fn = impl_->opt.function;
  if (action.function != fn) return wrong_function(action, fn);
  for (const auto& d : referenced) {
    if (d.function != fn) return wrong_function(d, fn);
  }
  const std::string key = blob_key(action);
  return impl_->write("cannot store action result", [&](WriteCtx& c) {
    return impl_->put_action(c, key, encoded_result, referenced);
  });
}

Status Store::put_action_results(std::span<const ActionEntry> entries) {
  const DigestFunction fn = impl_->opt.function;
  for (const ActionEntry& e : entries) {
    if (e.action.function != fn) return wrong_function(e.action, fn);
    for (const auto& d : e.referenced) {
      if (d.function != fn) return wrong_function(d, fn);
    }
  }
  if (entries.empty()) return {};
  return impl_->write("cannot store action results", [&](WriteCtx& c) -> Status {
    for (const ActionEntry& e : entries) {
      if (Status s = impl_->put_action(c, blob_key(e.action), e.encoded_result, e.referenced);
          !s.ok()) {
        return s;
      }
    }
    return {};
  });
}

Result<std::optional<std::string>> Store::get_action_result(const Digest& action) {
  Impl& s = *impl_;
  if (action.function != s.opt.function) return wrong_function(action, s.opt.function);
  const std::string key = blob_key(action);
  std::optional<std::string> result;
  {
    Status st = s.begin_read();
    if (!st.ok()) return st.error();
    Impl::ReadGuard guard{&s};
    MDB_val k = to_val(key), v;
    int rc = mdb_get(s.rtxn, s.ac, &k, &v);
    if (rc == MDB_NOTFOUND) return result;
    if (rc != 0) return lmdb_error(rc, "cannot read store at " + s.dir);
    const std::string_view value = from_val(v);
    const std::size_t ks = key_size(s.opt.function);
    const std::uint64_t n = value.size() >= 8 ? get_le64(value.data()) : 0;
    if (value.size() < 8 || (value.size() - 8) / ks < n) {
      return make_error(Errc::kCorrupt, "damaged action-cache entry " + action.to_string());
    }
    std::vector<std::pair<std::string, std::uint64_t>> refs;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string ref(value.substr(8 + i * ks, ks));
      const auto e = s.lookup(s.rtxn, ref, &rc);
      if (rc != 0) return lmdb_error(rc, "cannot read store at " + s.dir);
      if (!e) return result;  // a referenced blob is gone: a miss
      refs.emplace_back(std::move(ref), e->atime);
    }
    result.emplace(value.substr(8 + n * ks));
    for (const auto& [ref, atime] : refs) s.record_access(ref, atime);
  }
  s.maybe_flush();
  return result;
}

Result<StoreStats> Store::stats() {
  Impl& s = *impl_;
  StoreStats out;
  out.function = s.opt.function;
  out.max_size = s.opt.max_size;
  Status st = s.begin_read();
  if (!st.ok()) return st.error();
  Impl::ReadGuard guard{&s};
  MDB_stat index_stat, ac_stat, env_stat;
  MDB_envinfo info;
  int rc = mdb_stat(s.rtxn, s.index, &index_stat);
  if (rc == 0) rc = mdb_stat(s.rtxn, s.ac, &ac_stat);
  if (rc == 0) rc = mdb_env_stat(s.env, &env_stat);
  if (rc == 0) rc = mdb_env_info(s.env, &info);
  if (rc != 0) return lmdb_error(rc, "cannot read stats of " + s.dir);
  for (const char* name : {"total_bytes", "file_count"}) {
    MDB_val k = to_val(name), v;
    if ((rc = mdb_get(s.rtxn, s.meta, &k, &v)) != 0 || v.mv_size != 8) {
      return make_error(Errc::kCorrupt, "the meta database of " + s.dir + " is damaged");
    }
    (name[0] == 't' ? out.total_bytes : out.file_blob_count) =
        get_le64(static_cast<const char*>(v.mv_data));
  }
  out.blob_count = index_stat.ms_entries;
  out.action_count = ac_stat.ms_entries;
  out.map_size = info.me_mapsize;
  out.map_used_bytes = (info.me_last_pgno + 1) * std::uint64_t{env_stat.ms_psize};
  return out;
}

Result<GcReport> Store::gc(std::uint64_t max_size) {
  Impl& s = *impl_;
  GcReport report;
  const auto cutoff = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
  // Files of writers killed between renaming a blob in and committing its
  // index entry: unindexed and an hour old. Under the writer lock, so no
  // put can be renaming the same blob in meanwhile.
  auto sweep = [&](WriteCtx& c) -> Status {
    std::error_code ec;
    for (const auto& sub : std::filesystem::directory_iterator(s.files_dir, ec)) {
      for (const auto& f : std::filesystem::directory_iterator(sub.path(), ec)) {
        std::string name = f.path().filename().string();
        std::error_code ec2;
        if (f.last_write_time(ec2) >= cutoff || ec2) continue;
        const auto sep = name.find('_');
        if (sep == std::string::npos) continue;
        name[sep] = '/';
        auto d = parse_digest(name);
        if (!d.ok() || d->function != s.opt.function) continue;
        int rc = 0;
        if (!s.lookup(c.txn, blob_key(*d), &rc) && rc == 0) std::filesystem::remove(f.path(), ec2);
      }
    }
    return {};
  };
  Status st = s.write("cannot collect garbage", sweep, max_size, &report);
  if (!st.ok()) return st.error();
  // LMDB reuses pages freed by transaction N only from N+2 on: commit one
  // more (tiny) transaction so that the very next put can use them, which
  // matters when gc was run because the map was full.
  st = s.write("cannot collect garbage", [&s](WriteCtx& c) -> Status {
    std::string now;
    put_le64(now, now_ms());
    MDB_val k = to_val("last_gc"), v = to_val(now);
    const int rc = mdb_put(c.txn, s.meta, &k, &v, 0);
    return rc == 0 ? Status() : lmdb_error(rc, "cannot record the gc");
  });
  if (!st.ok()) return st.error();
  // Temp files of writers that were killed mid-put.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(s.tmp_dir, ec)) {
    std::error_code ec2;
    if (entry.last_write_time(ec2) < cutoff && !ec2) std::filesystem::remove(entry.path(), ec2);
  }
  return report;
}

Status Store::flush_access() {
  return impl_->write("cannot record accesses", [](WriteCtx&) { return Status(); });
}

Result<std::optional<std::string>> Store::read_blob(const Digest& digest) { return get(digest); }

Result<bool> Store::write_blob_to(const Digest& digest, int dir_fd, const std::string& name,
                                  bool executable) {
  Impl& s = *impl_;
  if (digest.function != s.opt.function) return wrong_function(digest, s.opt.function);
  const std::string key = blob_key(digest);
  bool is_file = false;
  {
    Status st = s.begin_read();
    if (!st.ok()) return st.error();
    Impl::ReadGuard guard{&s};
    int rc = 0;
    const auto e = s.lookup(s.rtxn, key, &rc);
    if (rc != 0) return lmdb_error(rc, "cannot read store at " + s.dir);
    if (!e) return false;
    is_file = e->kind == kFileBlob;
    if (is_file) s.record_access(key, e->atime);
  }
  // Inline blobs: get() (verified) and write.
  if (!is_file) return BlobSource::write_blob_to(digest, dir_fd, name, executable);
  auto fd = copy_file_to(s.file_path(key), dir_fd, name, executable);
  if (!fd.ok() && fd.error().code == Errc::kNotFound) {
    s.vanished.push_back(key);
    return false;
  }
  if (!fd.ok()) return fd.error();
  auto copied = hash_file_fd(s.opt.function, *fd, name);
  ::close(*fd);
  if (!copied.ok() || *copied != digest) {
    ::unlinkat(dir_fd, name.c_str(), 0);
    if (!copied.ok()) return copied.error();
    s.drop_corrupt(key, digest);
    return false;
  }
  s.maybe_flush();
  return true;
}

}  // namespace kiln::cas
