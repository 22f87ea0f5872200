// Write transactions of the LMDB store: every change to the databases goes
// through Store::Impl::write(), which runs the operation, then the
// bookkeeping that piggybacks on it (buffered accesses, vanished files,
// eviction), and commits all of it at once. Layout and reasoning: store.cpp.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cas/store_impl.h"

namespace kiln::cas {

using namespace store_detail;

namespace store_detail {

std::string encode_index(const IndexEntry& e) {
  std::string s;
  put_le64(s, e.atime);
  s.push_back(e.kind);
  return s;
}

std::optional<IndexEntry> decode_index(std::string_view v) {
  if (v.size() != 9) return std::nullopt;
  return IndexEntry{get_le64(v.data()), v[8]};
}

}  // namespace store_detail

namespace {

constexpr std::string_view kMagic = "kiln-cas";
constexpr std::string_view kFormatVersion = "1";

std::string lru_key(std::uint64_t atime, std::string_view key) {
  std::string k;
  put_be64(k, atime);
  k.append(key);
  return k;
}

std::uint64_t key_blob_size(std::string_view key) { return get_be64(key.data() + key.size() - 8); }

// mdb_get into a string copy (values point into the map only until the next
// write); nullopt when absent.
Result<std::optional<std::string>> get_copy(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key), v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return lmdb_error(rc, "cannot read the store");
  return std::optional<std::string>(std::string(from_val(v)));
}

int db_put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key), v = to_val(value);
  return mdb_put(txn, dbi, &k, &v, 0);
}

int db_del(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  const int rc = mdb_del(txn, dbi, &k, nullptr);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int begin_write(MDB_env* env, MDB_txn** txn) {
  int rc = mdb_txn_begin(env, nullptr, 0, txn);
  if (rc == MDB_MAP_RESIZED) {  // another process grew the map
    mdb_env_set_mapsize(env, 0);
    rc = mdb_txn_begin(env, nullptr, 0, txn);
  }
  return rc;
}

}  // namespace

Status Store::Impl::write(const std::string& what, const std::function<Status(WriteCtx&)>& body,
                          std::optional<std::uint64_t> gc_target, GcReport* report) {
  WriteCtx c;
  int rc = begin_write(env, &c.txn);
  if (rc != 0) return lmdb_error(rc, what);
  auto fail = [&](const Error& e) -> Status {
    mdb_txn_abort(c.txn);
    for (const auto& f : c.new_files) ::unlink(f.c_str());
    return e;
  };
  auto total = get_copy(c.txn, meta, "total_bytes");
  auto files = get_copy(c.txn, meta, "file_count");
  if (!total.ok()) return fail(total.error());
  if (!files.ok()) return fail(files.error());
  if (!total->has_value() || (*total)->size() != 8 || !files->has_value() ||
      (*files)->size() != 8) {
    return fail(make_error(Errc::kCorrupt, what + ": the store's meta database is damaged"));
  }
  c.total = get_le64((*total)->data());
  const std::uint64_t file_count = get_le64((*files)->data());

  Status st = body(c);
  if (st.ok()) st = apply_accesses(c);
  if (st.ok()) st = drop_vanished(c);
  if (st.ok() && gc_target) st = evict_to(c, *gc_target);
  if (st.ok() && !gc_target && opt.max_size > 0 && c.total > opt.max_size) {
    st = evict_to(c, opt.max_size / 10 * 9);
  }
  if (!st.ok()) return fail(prefixed(st.error(), what));
  std::string t, n;
  put_le64(t, c.total);
  put_le64(n, static_cast<std::uint64_t>(static_cast<std::int64_t>(file_count) + c.file_delta));
  if ((rc = db_put(c.txn, meta, "total_bytes", t)) != 0 ||
      (rc = db_put(c.txn, meta, "file_count", n)) != 0) {
    return fail(lmdb_error(rc, what));
  }
  // Under the writer lock, so no writer can rename the same blob back in
  // between; if the commit then fails, the index names a missing file,
  // which readers treat as missing.
  for (const auto& f : c.evicted_files) ::unlink(f.c_str());
  rc = mdb_txn_commit(c.txn);
  if (rc != 0) {
    for (const auto& f : c.new_files) ::unlink(f.c_str());
    return commit_error(rc, what);
  }
  accesses.clear();
  buffered_reads = 0;
  vanished.clear();
  if (report) {
    *report = c.report;
    report->total_bytes_after = c.total;
  }
  return {};
}

// LMDB reports a short write (what a full disk or RLIMIT_FSIZE produces) as
// EIO; tell those apart from a failing device.
Error Store::Impl::commit_error(int rc, const std::string& what) const {
  if (rc != EIO) return lmdb_error(rc, what);
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) == 0 &&
      std::uint64_t{fs.f_bavail} * fs.f_frsize < (std::uint64_t{16} << 20)) {
    return make_error(Errc::kResourceExhausted,
                      "store is full: " + what + ": no space left on the disk of " + dir);
  }
  struct rlimit limit {};
  struct stat st {};
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      ::stat((dir + "/data.mdb").c_str(), &st) == 0 &&
      static_cast<std::uint64_t>(st.st_size) + (std::uint64_t{1} << 20) >= limit.rlim_cur) {
    return make_error(Errc::kResourceExhausted,
                      "store is full: " + what + ": data.mdb reached the file size limit");
  }
  return lmdb_error(rc, what);
}

Status Store::Impl::insert_blob(WriteCtx& c, const std::string& key, char kind,
                                std::string_view data) {
  const std::uint64_t now = now_ms();
  int rc = db_put(c.txn, index, key, encode_index({now, kind}));
  if (rc == 0) rc = db_put(c.txn, lru, lru_key(now, key), "");
  if (rc == 0 && kind == kInlineBlob) {
    MDB_val k = to_val(key), v{data.size(), nullptr};
    rc = mdb_put(c.txn, blobs, &k, &v, MDB_RESERVE);
    if (rc == 0 && !data.empty()) std::memcpy(v.mv_data, data.data(), data.size());
  }
  if (rc != 0) return lmdb_error(rc, "cannot add blob");
  c.total += key_blob_size(key);
  if (kind == kFileBlob) ++c.file_delta;
  c.protect.push_back(key);
  return {};
}

Status Store::Impl::delete_blob(WriteCtx& c, const std::string& key) {
  auto value = get_copy(c.txn, index, key);
  if (!value.ok()) return value.error();
  if (!value->has_value()) return {};
  const auto entry = decode_index(**value);
  if (!entry) return make_error(Errc::kCorrupt, "a blob index entry is damaged");
  int rc = db_del(c.txn, index, key);
  if (rc == 0) rc = db_del(c.txn, lru, lru_key(entry->atime, key));
  if (rc == 0 && entry->kind == kInlineBlob) rc = db_del(c.txn, blobs, key);
  if (rc != 0) return lmdb_error(rc, "cannot delete blob");
  if (entry->kind == kFileBlob) {
    c.evicted_files.push_back(file_path(key));
    --c.file_delta;
  }
  const std::uint64_t size = key_blob_size(key);
  c.total = c.total >= size ? c.total - size : 0;
  ++c.report.evicted_blobs;
  c.report.evicted_bytes += size;

  // Action-cache entries that name this blob can never hit again.
  std::vector<std::string> actions;
  MDB_cursor* cur = nullptr;
  if ((rc = mdb_cursor_open(c.txn, acref, &cur)) != 0) return lmdb_error(rc, "cannot scan");
  MDB_val k = to_val(key), v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && from_val(k).substr(0, key.size()) == key) {
    actions.emplace_back(from_val(k).substr(key.size()));
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "cannot scan");
  for (const auto& a : actions) {
    Status st = delete_action(c, a);
    if (!st.ok()) return st;
  }
  return {};
}

// An `ac` value: the number of referenced blobs (8 bytes LE), their keys,
// then the encoded ActionResult. `acref` holds (blob key + action key) for
// each, so evicting a blob finds the entries that name it.
Status Store::Impl::delete_action(WriteCtx& c, std::string_view action_key) {
  auto value = get_copy(c.txn, ac, action_key);
  if (!value.ok()) return value.error();
  if (!value->has_value()) return {};
  const std::string& v = **value;
  const std::size_t ks = key_size(opt.function);
  const std::uint64_t n = v.size() >= 8 ? get_le64(v.data()) : 0;
  int rc = 0;
  for (std::uint64_t i = 0; i < n && rc == 0 && 8 + (i + 1) * ks <= v.size(); ++i) {
    rc = db_del(c.txn, acref, v.substr(8 + i * ks, ks) + std::string(action_key));
  }
  if (rc == 0) rc = db_del(c.txn, ac, action_key);
  if (rc != 0) return lmdb_error(rc, "cannot delete action result");
  ++c.report.evicted_actions;
  return {};
}

Status Store::Impl::put_action(WriteCtx& c, const std::string& action_key, std::string_view encoded,
                               std::span<const Digest> referenced) {
  Status st = delete_action(c, action_key);
  if (!st.ok()) return st;
  c.report.evicted_actions = 0;  // replacing an entry is not an eviction
  std::vector<std::string> refs;
  for (const auto& d : referenced) refs.push_back(blob_key(d));
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  std::string value;
  put_le64(value, refs.size());
  for (const auto& r : refs) value += r;
  value.append(encoded);
  int rc = db_put(c.txn, ac, action_key, value);
  for (std::size_t i = 0; i < refs.size() && rc == 0; ++i) {
    rc = db_put(c.txn, acref, refs[i] + action_key, "");
  }
  if (rc != 0) return lmdb_error(rc, "cannot store action result");
  return {};
}

Status Store::Impl::apply_accesses(WriteCtx& c) {
  for (const auto& [key, when] : accesses) {
    auto value = get_copy(c.txn, index, key);
    if (!value.ok()) return value.error();
    if (!value->has_value()) continue;  // evicted meanwhile
    auto entry = decode_index(**value);
    if (!entry || entry->atime >= when) continue;
    int rc = db_del(c.txn, lru, lru_key(entry->atime, key));
    entry->atime = when;
    if (rc == 0) rc = db_put(c.txn, lru, lru_key(when, key), "");
    if (rc == 0) rc = db_put(c.txn, index, key, encode_index(*entry));
    if (rc != 0) return lmdb_error(rc, "cannot record an access");
  }
  return {};
}

Status Store::Impl::drop_vanished(WriteCtx& c) {
  for (const auto& key : vanished) {
    auto value = get_copy(c.txn, index, key);
    if (!value.ok()) return value.error();
    if (!value->has_value()) continue;
    const auto entry = decode_index(**value);
    // Renames into files/ happen under the writer lock we hold, so a file
    // that is missing now stays missing until we commit.
    const std::string path = file_path(key);
    if (!entry || entry->kind != kFileBlob || ::access(path.c_str(), F_OK) == 0) continue;
    const GcReport saved = c.report;
    Status st = delete_blob(c, key);
    c.report = saved;
    if (!st.ok()) return st;
  }
  return {};
}

Status Store::Impl::evict_to(WriteCtx& c, std::uint64_t target) {
  if (c.total <= target) return {};
  const std::uint64_t need = c.total - target;
  std::vector<std::string> victims;
  std::uint64_t found = 0;
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(c.txn, lru, &cur);
  if (rc != 0) return lmdb_error(rc, "cannot evict");
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0 && found < need) {
    const std::string key(from_val(k).substr(8));
    if (std::find(c.protect.begin(), c.protect.end(), key) == c.protect.end()) {
      found += key_blob_size(key);
      victims.push_back(key);
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "cannot evict");
  for (const auto& key : victims) {
    Status st = delete_blob(c, key);
    if (!st.ok()) return st;
  }
  return {};
}

Status Store::Impl::check_meta(MDB_txn* txn) const {
  const std::string what = "cannot open store at " + dir;
  auto magic = get_copy(txn, meta, "magic");
  auto version = get_copy(txn, meta, "version");
  auto function = get_copy(txn, meta, "function");
  if (!magic.ok()) return magic.error();
  if (!version.ok()) return version.error();
  if (!function.ok()) return function.error();
  if (!magic->has_value() || **magic != kMagic || !function->has_value()) {
    return make_error(Errc::kInvalidArgument, dir + " is not a kiln store");
  }
  if (!version->has_value() || **version != kFormatVersion) {
    return make_error(Errc::kInvalidArgument,
                      what + ": unsupported store format " + version->value_or("?"));
  }
  if (**function != to_string(opt.function)) {
    return make_error(Errc::kInvalidArgument, what + ": the store uses digest function " +
                                                  **function + ", not " +
                                                  std::string(to_string(opt.function)));
  }
  return {};
}

Status Store::Impl::open_databases() {
  const std::string what = "cannot open store at " + dir;
  struct Db {
    const char* name;
    MDB_dbi* dbi;
  };
  const Db dbs[] = {{"meta", &meta}, {"index", &index}, {"blobs", &blobs},
                    {"lru", &lru},   {"ac", &ac},       {"acref", &acref}};
  auto open_all = [&](MDB_txn* txn, unsigned flags) {
    for (const auto& db : dbs) {
      const int rc = mdb_dbi_open(txn, db.name, flags, db.dbi);
      if (rc != 0) return rc;
    }
    return 0;
  };
  // Fast path: an existing store needs only a read transaction.
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return lmdb_error(rc, what);
  if (open_all(txn, 0) == 0) {
    Status st = check_meta(txn);
    if (!st.ok()) {
      mdb_txn_abort(txn);
      return st;
    }
    rc = mdb_txn_commit(txn);  // makes the handles usable by later transactions
    return rc == 0 ? Status() : lmdb_error(rc, what);
  }
  mdb_txn_abort(txn);

  if ((rc = begin_write(env, &txn)) != 0) return lmdb_error(rc, what);
  auto fail = [&](const Error& e) -> Status {
    mdb_txn_abort(txn);
    return e;
  };
  MDB_dbi main_dbi;
  MDB_stat main_stat;
  MDB_dbi probe;
  if ((rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi)) != 0 ||
      (rc = mdb_stat(txn, main_dbi, &main_stat)) != 0) {
    return fail(lmdb_error(rc, what));
  }
  if (main_stat.ms_entries > 0 && mdb_dbi_open(txn, "meta", 0, &probe) != 0) {
    return fail(make_error(Errc::kInvalidArgument,
                           dir + " is not a kiln store (an LMDB environment of something else)"));
  }
  if ((rc = open_all(txn, MDB_CREATE)) != 0) return fail(lmdb_error(rc, what));
  auto magic = get_copy(txn, meta, "magic");
  if (!magic.ok()) return fail(magic.error());
  if (!magic->has_value()) {
    std::string zero;
    put_le64(zero, 0);
    if ((rc = db_put(txn, meta, "magic", kMagic)) != 0 ||
        (rc = db_put(txn, meta, "version", kFormatVersion)) != 0 ||
        (rc = db_put(txn, meta, "function", to_string(opt.function))) != 0 ||
        (rc = db_put(txn, meta, "total_bytes", zero)) != 0 ||
        (rc = db_put(txn, meta, "file_count", zero)) != 0) {
      return fail(lmdb_error(rc, what));
    }
  }
  Status st = check_meta(txn);
  if (!st.ok()) return fail(st.error());
  rc = mdb_txn_commit(txn);
  return rc == 0 ? Status() : lmdb_error(rc, what);
}

}  // namespace kiln::cas
