// The LMDB-backed content-addressable store: blobs, the action cache, and
// least-recently-used eviction, shared safely by many processes at once.
//
// Layout of a store directory:
//   data.mdb, lock.mdb    LMDB environment (named databases below)
//   files/xx/<hex>_<size> blobs at or above StoreOptions::file_threshold,
//                         one read-only file each, written to tmp/ and
//                         renamed in by the transaction that indexes them
//   tmp/                  temporary files of puts in progress
// Named databases:
//   meta    format version, digest function, total stored bytes, file count
//   index   digest -> last access + inline/file: what the store holds
//   blobs   digest -> bytes of blobs below file_threshold
//   lru     (last access, digest) -> "": eviction order
//   ac      action digest -> the digests it names + encoded ActionResult
//   acref   (blob digest, action digest) -> "": entries to drop on eviction
//
// Integrity: every put re-hashes the bytes; every get re-hashes what it
// read, and a blob that does not match is reported (StoreOptions::warn),
// deleted, and answered as missing. An action-cache entry is a hit only
// when every blob it names is still present; evicting a blob also deletes
// the action-cache entries that name it.
//
// Reads do not write: accesses are buffered in memory and recorded in
// batches (on the next write transaction, every 1024 buffered reads, by
// flush_access() and on destruction). A blob's access time is refreshed at
// most once a second, so the LRU order is approximate by design.
//
// Thread safety: one Store may be used from one thread at a time. Any number
// of processes may open the same directory, but at most one Store per
// directory per process (an LMDB rule), and a Store must not be used in a
// child after fork(): the child opens its own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "cas/digest.h"
#include "cas/tree.h"

namespace kiln::cas {

struct StoreOptions {
  std::filesystem::path dir;
  // Used when the store is created; opening an existing store with another
  // function fails (kInvalidArgument): functions are never mixed.
  DigestFunction function = DigestFunction::kXxh3_128;
  // Evict least-recently-used blobs once the stored bytes exceed this
  // (0 = no limit). Eviction goes down to 90% of the limit.
  std::uint64_t max_size = 0;
  // LMDB map size: address space reserved at open, not disk used. Keep it
  // well above max_size (the default is): when the map is full, puts fail
  // with kResourceExhausted until gc() frees room.
  std::uint64_t map_size = std::uint64_t{1} << 40;
  // Blobs at least this large are stored as files beside the LMDB file.
  // Measured by scripts/bench/store.sh (ext4, 2 cores, non-durable, 256 MiB
  // per size; MiB/s inline in LMDB / one file each; data.mdb / live bytes
  // after four evict-and-refill rounds), two runs at load 2.4 and 8.6:
  //   size     put inline/file        get inline/file        data.mdb/live
  //   64 KiB   1792/384   1788/628    4939/4387  4599/4447    1.36
  //   256 KiB  2636/532   2658/626    6506/5970  6182/5921    1.12
  //   1 MiB    2742/1048  2713/1076   6225/6357  6795/6419    1.05
  //   4 MiB    2353/1819  2501/529    5588/5155  6946/5308    1.03
  //   16 MiB   2080/2421  1945/2429   5460/4582  7268/4704    1.07-1.15
  //   64 MiB   1099/2665  1015/2587   1622/1566  1783/1502    1.51-1.92
  // Inline puts win clearly below 4 MiB, files win from 16 MiB, and LMDB
  // starts to fragment at 64 MiB; gets are close throughout. Between 4 and
  // 16 MiB the numbers are close, and what they do not show decides: an
  // inline blob is copied and (durable) fsynced while holding LMDB's one
  // writer lock, stalling every other writer, while a file is written and
  // fsynced outside it; data.mdb never shrinks after eviction; and files
  // can be reflinked into sandboxes. Hence 4 MiB.
  std::uint64_t file_threshold = std::uint64_t{4} << 20;
  // false: MDB_NOSYNC|MDB_NOMETASYNC and no fsync of file blobs. A process
  // crash loses nothing; a machine crash may lose recent blobs and, on a
  // filesystem that reorders writes, damage the environment (then delete
  // the store: it is a cache). Reads are verified either way, so a wrong
  // blob is never served.
  bool durable = true;
  // Receives one-line warnings (e.g. a corrupt blob was found and dropped).
  std::function<void(std::string_view)> warn;
};

struct StoreStats {
  DigestFunction function = DigestFunction::kXxh3_128;
  std::uint64_t blob_count = 0;
  std::uint64_t total_bytes = 0;      // logical bytes of all blobs
  std::uint64_t file_blob_count = 0;  // blobs stored as files
  std::uint64_t action_count = 0;
  std::uint64_t max_size = 0;
  std::uint64_t map_size = 0;
  std::uint64_t map_used_bytes = 0;
};

struct GcReport {
  std::uint64_t evicted_blobs = 0;
  std::uint64_t evicted_bytes = 0;
  std::uint64_t evicted_actions = 0;
  std::uint64_t total_bytes_after = 0;
};

class Store final : public BlobSource {
 public:
  // Opens (creating if needed) the store in options.dir. Clears reader slots
  // left by dead processes. Fails with kPermissionDenied (unwritable dir),
  // kInvalidArgument (other digest function, not a kiln store), kIo.
  static Result<std::unique_ptr<Store>> open(StoreOptions options);
  ~Store() override;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  DigestFunction digest_function() const;

  // Stores `data` under `digest` after checking that it matches (kCorrupt
  // otherwise; nothing is stored). Storing a present blob is a no-op.
  // kResourceExhausted when the map or disk is full.
  Status put(const Digest& digest, std::span<const std::byte> data);
  // Hashes and stores; returns the digest.
  Result<Digest> put(std::span<const std::byte> data);
  Result<Digest> put(std::string_view data);
  // Hashes and stores a file's contents.
  Result<Digest> put_file(const std::filesystem::path& path);
  // Stores the file at `path` under `digest` by moving it into the store:
  // no copy and no second hash, for a file the caller wrote and hashed
  // itself (e.g. an upload assembled while its digest was checked). It must
  // be a regular file on the store's file system that nobody else writes,
  // its data already synced if the store is durable. Its size must be the
  // digest's (kCorrupt otherwise); its hash is taken as given, and reads
  // verify it as always. Below file_threshold it is read and stored inline
  // (and hashed). The file is gone afterwards, stored or not.
  Status adopt_file(const Digest& digest, const std::filesystem::path& path);

  // The blob, verified; nullopt when absent or found corrupt.
  Result<std::optional<std::string>> get(const Digest& digest);
  Result<bool> contains(const Digest& digest);
  // A blob stored as a file, opened read-only, to stream one too large to
  // hold in memory; nullopt when it is absent or stored inline (get() it).
  // Its bytes are not verified here: the caller hashes what it reads and,
  // when they do not match, calls drop_corrupt() (and serves nothing as
  // good). Eviction after the open does not take the bytes away.
  Result<std::optional<base::UniqueFd>> open_file_blob(const Digest& digest);
  // Removes a blob a caller found corrupt (open_file_blob), with a warning.
  void drop_corrupt(const Digest& digest);
  // The digests of `digests` not in the store, in input order, deduplicated.
  Result<std::vector<Digest>> find_missing(std::span<const Digest> digests);

  // Action cache. `referenced` lists every blob the result needs (outputs,
  // stdout/stderr, every blob of output trees); a get is a hit only when all
  // are present.
  Status put_action_result(const Digest& action, std::string_view encoded_result,
                           std::span<const Digest> referenced);
  // Several entries in one write transaction: one commit (and, durable, one
  // fsync) for all, which is what lets a scheduler cache a thousand
  // results a second. All or nothing: an error stores none of them.
  struct ActionEntry {
    Digest action;
    std::string encoded_result;
    std::vector<Digest> referenced;
  };
  Status put_action_results(std::span<const ActionEntry> entries);
  Result<std::optional<std::string>> get_action_result(const Digest& action);

  Result<StoreStats> stats();
  // Evicts least-recently-used blobs (and the action-cache entries that name
  // them) until the store holds at most `max_size` bytes.
  Result<GcReport> gc(std::uint64_t max_size);
  // Records buffered accesses now.
  Status flush_access();

  // BlobSource
  Result<std::optional<std::string>> read_blob(const Digest& digest) override;
  Result<bool> write_blob_to(const Digest& digest, int dir_fd, const std::string& name,
                             bool executable) override;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::cas
