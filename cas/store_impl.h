// The private state of a Store, shared by store.cpp (opening, the public
// operations) and store_txn.cpp (write transactions: inserting, deleting,
// recording accesses, evicting). See store.cpp for the design.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cas/store.h"
#include "cas/store_util.h"

namespace kiln::cas {

namespace store_detail {

inline constexpr char kInlineBlob = 0;
inline constexpr char kFileBlob = 1;

// Value of an `index` entry: last access (ms, little-endian) + kind.
struct IndexEntry {
  std::uint64_t atime = 0;
  char kind = kInlineBlob;
};
std::string encode_index(const IndexEntry& e);
std::optional<IndexEntry> decode_index(std::string_view v);

// State of one write transaction, filled by the operation and by the
// bookkeeping that runs before its commit.
struct WriteCtx {
  MDB_txn* txn = nullptr;
  std::uint64_t total = 0;                 // stored blob bytes, from meta
  std::int64_t file_delta = 0;             // change in the number of file blobs
  std::vector<std::string> protect;        // blob keys this txn wrote: never evicted by it
  std::vector<std::string> evicted_files;  // unlinked just before the commit
  std::vector<std::string> new_files;      // renamed in by this txn; unlinked if it fails
  GcReport report;
};

}  // namespace store_detail

struct Store::Impl {
  StoreOptions opt;
  std::string dir, files_dir, tmp_dir;
  MDB_env* env = nullptr;
  MDB_dbi meta = 0, index = 0, blobs = 0, lru = 0, ac = 0, acref = 0;
  MDB_txn* rtxn = nullptr;  // the read transaction, reset between uses

  // Accesses not yet written to `index`/`lru`: blob key -> time (ms).
  std::unordered_map<std::string, std::uint64_t> accesses;
  std::size_t buffered_reads = 0;
  // File blobs whose file was found missing; their index entries are
  // dropped by the next write transaction.
  std::vector<std::string> vanished;

  Impl() = default;
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  std::string file_path(std::string_view key) const;
  std::string file_subdir(std::string_view key) const;
  void warn(const std::string& message) const;

  // Read transactions: begin_read() renews `rtxn`; the guard resets it.
  Status begin_read();
  struct ReadGuard {
    Impl* s;
    ~ReadGuard() { mdb_txn_reset(s->rtxn); }
  };
  std::optional<store_detail::IndexEntry> lookup(MDB_txn* txn, std::string_view key, int* rc);

  // Buffers an access to `key` whose recorded access time is `atime`.
  void record_access(const std::string& key, std::uint64_t atime);
  // Writes the buffer once it holds enough reads (warns on failure).
  void maybe_flush();

  // Runs `body` in a write transaction followed by the bookkeeping (buffered
  // accesses, vanished files, eviction to 90% of max_size or, with
  // `gc_target`, to exactly that), then commits. Any failure aborts
  // everything: the store is left as it was. `what` starts error messages.
  Status write(const std::string& what, const std::function<Status(store_detail::WriteCtx&)>& body,
               std::optional<std::uint64_t> gc_target = std::nullopt, GcReport* report = nullptr);

  // Pieces for `write` bodies.
  Status insert_blob(store_detail::WriteCtx& c, const std::string& key, char kind,
                     std::string_view data);
  // Deletes a blob and every action-cache entry naming it; a file blob's
  // file is unlinked just before the commit. No-op when absent.
  Status delete_blob(store_detail::WriteCtx& c, const std::string& key);
  Status delete_action(store_detail::WriteCtx& c, std::string_view action_key);
  Status put_action(store_detail::WriteCtx& c, const std::string& action_key,
                    std::string_view encoded, std::span<const Digest> referenced);

  // Stores bytes already verified against `key`.
  Status put_verified(const std::string& key, std::string_view data);
  // Whether the blob is present (for a file blob: its file too); records an
  // access when it is.
  Result<bool> present(const std::string& key);
  // Moves the finished temp file `tmp` into files/ and indexes it.
  Status put_file_blob(const std::string& key, const std::string& tmp);
  // Drops a blob found corrupt, with a warning.
  void drop_corrupt(const std::string& key, const Digest& digest);

  Status open_databases();
  // Checks magic, format version and digest function in `meta`.
  Status check_meta(MDB_txn* txn) const;
  Error commit_error(int rc, const std::string& what) const;

 private:
  Status apply_accesses(store_detail::WriteCtx& c);
  Status drop_vanished(store_detail::WriteCtx& c);
  Status evict_to(store_detail::WriteCtx& c, std::uint64_t target);
};

}  // namespace kiln::cas
