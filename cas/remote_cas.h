// The client side of the CAS service: a store reached over a
// proto::Connection (the scheduler's central tier). Used by clients to
// upload inputs and fetch outputs, and by workers to fetch inputs and
// upload outputs, always between a local Store and the remote one.
//
// Transfers are chunked (kBlobChunkBytes), uploads pipelined up to a window
// of unacknowledged chunks, and every downloaded blob is verified by the
// local store when it is put (a corrupt download is an error, never kept).
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cas/digest.h"
#include "cas/model.h"
#include "cas/store.h"
#include "proto/transport.h"

namespace kiln::cas {

struct RemoteCasOptions {
  std::chrono::milliseconds timeout{30000};  // per request
  std::size_t upload_window = 8;             // unacknowledged chunks (downloads too)
  std::size_t max_find_missing = 10000;      // digests per findMissing request
};

class RemoteCas {
 public:
  RemoteCas(proto::Connection& connection, DigestFunction fn, RemoteCasOptions options = {});

  // Which of `digests` the remote store lacks (batched under the limit).
  Result<std::vector<Digest>> find_missing(std::span<const Digest> digests);
  // Uploads these blobs from `local` (which must hold them).
  Status upload(Store& local, std::span<const Digest> digests);
  // Downloads these blobs into `local`. kNotFound names the first absent one.
  Status download(Store& local, std::span<const Digest> digests);
  // Makes every blob of the tree at `root` present in `local`, downloading
  // only what it lacks (Directory blobs first, level by level).
  Status fetch_tree(Store& local, const Digest& root);
  // Every blob of the tree at `root` as held in `local` (directories and
  // files), e.g. to find_missing + upload an input root.
  static Result<std::vector<Digest>> tree_blobs(Store& local, const Digest& root);

  Result<std::optional<ActionResult>> get_action_result(const Digest& action);

 private:
  proto::Connection& connection_;
  DigestFunction fn_;
  RemoteCasOptions options_;
};

}  // namespace kiln::cas
