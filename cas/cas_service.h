// The CAS service: the store's side of the CAS and action-cache messages in
// wire.capnp (findMissing, uploadChunk, downloadRequest,
// getActionResultRequest). Transport-free: a request Envelope in, a reply
// Envelope out; the scheduler's poll loop moves them over ZeroMQ.
//
// Everything arriving is untrusted. Uploads are assembled per (peer,
// digest) in order (a chunk at the wrong offset is refused), bounded in
// size and count, expire when idle, and the whole blob is re-hashed before
// it is stored (digestMismatch otherwise). A digest of another function than
// the store's is refused.
#pragma once

#include <capnp/message.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cas/store.h"
#include "proto/wire.capnp.h"

namespace kiln::cas {

struct CasServiceOptions {
  std::size_t max_find_missing = 10000;  // digests per request
  std::uint64_t max_blob_bytes = 16ull << 30;
  // Memory held by partial uploads (each charged its whole size when it
  // starts) and by blobs kept between the chunks of a download.
  std::uint64_t max_pending_bytes = 2ull << 30;
  std::size_t max_sessions_per_peer = 64;
  std::chrono::milliseconds session_idle_timeout{60000};
  // Uploads of larger blobs are assembled in a temporary file in spill_dir
  // (empty: the system's temporary directory; best on the store's file
  // system) instead of memory, and do not count against max_pending_bytes.
  std::uint64_t spill_threshold = 64ull << 20;
  std::filesystem::path spill_dir;
};

struct CasServiceStats {
  std::uint64_t uploads_committed = 0;
  std::uint64_t upload_bytes = 0;
  std::uint64_t downloads = 0;
  std::uint64_t download_bytes = 0;
  std::uint64_t digest_mismatches = 0;
  std::uint64_t action_cache_hits = 0;
  std::uint64_t action_cache_misses = 0;
};

class CasService {
 public:
  using Millis = std::chrono::milliseconds;

  CasService(Store& store, CasServiceOptions options = {});
  ~CasService();
  CasService(const CasService&) = delete;
  CasService& operator=(const CasService&) = delete;

  // True when `request`'s body is a kind this service serves; then `reply`
  // holds the complete reply (version and requestId set, body filled: the
  // answer or an Error). False for any other kind (reply untouched).
  // Errors: invalidArgument (another digest function, bad hash length, a
  // chunk at the wrong offset or with a wrong `last`, too many digests,
  // download offset past the end), digestMismatch (the assembled blob does
  // not hash to its digest; nothing is stored), notFound (download of a
  // blob absent or found corrupt), resourceExhausted (blob, session or
  // pending-bytes limits; a full store), internal (I/O). `now` is any
  // monotonic clock in ms, the same for every call.
  bool handle(const std::string& peer, schema::Envelope::Reader request,
              capnp::MessageBuilder& reply, Millis now);

  // Writes an action-cache entry on a worker's behalf (the scheduler calls
  // this for a cacheable LeaseResult). Fails if a referenced blob is absent.
  Status put_action_result(const Digest& action, const ActionResult& result,
                           const std::vector<Digest>& referenced);
  // Several entries in one store transaction (one commit, one fsync): a
  // scheduler collects a poll turn's results and writes them together. An
  // entry naming a blob the store lacks is left out, and its index
  // returned; the others are stored. A store error stores none.
  struct ActionResultEntry {
    Digest action;
    ActionResult result;
    std::vector<Digest> referenced;
  };
  Result<std::vector<std::size_t>> put_action_results(std::span<const ActionResultEntry> entries);
  Result<std::optional<ActionResult>> get_action_result(const Digest& action);

  // Forgets a peer's partial uploads.
  void peer_gone(const std::string& peer);
  // Drops upload sessions idle for longer than the timeout. handle() also
  // does this, at most once a second.
  void expire(Millis now);
  // Partial uploads in progress (all peers).
  std::size_t pending_uploads() const;

  const CasServiceStats& stats() const;
  Store& store();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::cas
