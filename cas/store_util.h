// Internal helpers of the LMDB store (store.cpp): key encoding, the mapping
// of LMDB and errno failures onto kiln errors, and the file operations used
// for blobs kept beside the LMDB file. Not part of the store's API.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cas/digest.h"

namespace kiln::cas::store_detail {

// Key of a blob in every database: the hash bytes, then the size as 8
// big-endian bytes. All keys of one store have the same length.
std::string blob_key(const Digest& d);
std::size_t key_size(DigestFunction fn);

// Little-endian fixed-width integers in values; big-endian in keys so that
// LMDB's bytewise order is numeric order.
void put_be64(std::string& out, std::uint64_t v);
std::uint64_t get_be64(const char* p);
void put_le64(std::string& out, std::uint64_t v);
std::uint64_t get_le64(const char* p);

inline MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};  // LMDB never writes through it
}
inline std::string_view from_val(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// `what` failed with LMDB code `rc` (which may be an errno): MDB_MAP_FULL,
// ENOSPC, EFBIG, EDQUOT -> kResourceExhausted ("store is full: ..."),
// EACCES/EPERM/EROFS -> kPermissionDenied, MDB_INVALID/MDB_VERSION_MISMATCH
// -> kInvalidArgument, anything else -> kIo.
Error lmdb_error(int rc, std::string_view what);
// The same mapping for an errno value.
Error os_error(int err, std::string_view what);

// `e` with "<what>: " in front, keeping "store is full: " first.
Error prefixed(const Error& e, std::string_view what);

// Milliseconds since the epoch (the store's access clock).
std::uint64_t now_ms();

// Writes `data` to a new temporary file in `dir`, fsyncing it if `durable`.
// Returns its path.
Result<std::string> write_temp(const std::string& dir, std::string_view data, bool durable);
// Copies the file at `src` into a new temporary file in `dir` while hashing
// it (one pass, so the stored bytes are exactly the hashed bytes even if
// `src` changes meanwhile). Returns the temp path and the digest.
struct TempCopy {
  std::string path;
  Digest digest;
};
Result<TempCopy> copy_to_temp(const std::string& src, const std::string& dir, DigestFunction fn,
                              bool durable);
// Reads the whole file at `path`. kNotFound when it does not exist. With a
// `digest`, also hashes what it read with `fn`, chunk by chunk while each
// chunk is still in the CPU cache.
Result<std::string> read_file(const std::string& path, DigestFunction fn = DigestFunction{},
                              Digest* digest = nullptr);
// A copy of `src` and its digest, computed the same cache-friendly way.
std::string copy_hashed(std::string_view src, DigestFunction fn, Digest* digest);
// `size` bytes at `offset` of `fd` and their digest, the same way.
Result<std::string> pread_hashed(int fd, std::uint64_t offset, std::size_t size, DigestFunction fn,
                                 Digest* digest);
// Digest of what `fd` holds, read with pread from offset 0.
Result<Digest> hash_file_fd(DigestFunction fn, int fd, const std::string& name);
// Copies `src` to a new file `name` in `dir_fd` (which must not exist) with
// mode 0755 or 0644: reflink (FICLONE) where the filesystem can, else
// copy_file_range, else read/write. Never a hard link: the copy must not
// share an inode with the store. Returns the new file's fd (open for
// reading) or an error; kNotFound when `src` is gone.
Result<int> copy_file_to(const std::string& src, int dir_fd, const std::string& name,
                         bool executable);
// fsync of a directory (after a rename into it).
Status fsync_dir(const std::string& dir);

}  // namespace kiln::cas::store_detail
