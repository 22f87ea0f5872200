// The client side of the CAS protocol (PROTOCOL.md section 4).
//
// Uploads and downloads run the same pipeline: the transfer is cut into
// chunks (kBlobChunkBytes; an empty blob is one empty chunk), up to
// upload_window requests are in flight at once across blob boundaries, and
// replies are taken oldest first (the server answers one connection in
// order; Connection keeps an early reply for its own wait anyway).
//
// Upload: the blob's bytes come from the local store (verified there) and
// stay in memory while its chunks are in flight. A committed reply to a
// non-final chunk means the server already has the blob: its remaining
// chunks are not sent, and errors for ones already sent are expected and
// ignored (the server has no session for them).
//
// Download: offsets are known in advance from the digest's size, so the
// requests are pipelined the same way; each reply must be the chunk asked
// for, and a finished blob goes through Store::put, which re-hashes it (a
// corrupt download is kCorrupt and never kept). Blobs are assembled in
// memory.
//
// fetch_tree: breadth first, one level of Directory blobs at a time: the
// level's directories absent locally are downloaded, then decoded to find
// the next level; file blobs are collected and fetched at the end, only
// those the local store lacks.
#include "cas/remote_cas.h"

#include <deque>
#include <unordered_set>
#include <utility>

#include "cas/wire_model.h"

namespace kiln::cas {
namespace {

using Which = schema::Envelope::Body::Which;
using Reply = std::unique_ptr<proto::Decoded>;

constexpr std::size_t kMaxTreeDepth = 256;

// The reply if it is of kind `expected`; its Error body as an error; any
// other kind as kInternal.
Result<Reply> expect(Result<Reply> reply, Which expected, std::string_view what) {
  if (!reply.ok()) return reply;
  if (auto e = proto::error_of(**reply)) {
    return make_error(e->code, std::string(what) + ": " + e->message);
  }
  if ((*reply)->envelope().getBody().which() != expected) {
    return make_error(
        Errc::kInternal,
        std::string(what) + ": unexpected reply kind " +
            std::to_string(static_cast<unsigned>((*reply)->envelope().getBody().which())));
  }
  return reply;
}

// One chunk of a transfer: blob `blob` of the list, at `offset`.
struct Chunk {
  std::size_t blob;
  std::uint64_t offset;
  std::uint64_t id = 0;
};

// The chunks of blob `index`, in order.
void append_chunks(std::deque<Chunk>& out, std::size_t index, std::uint64_t size) {
  std::uint64_t offset = 0;
  do {
    out.push_back(Chunk{index, offset});
    offset += proto::kBlobChunkBytes;
  } while (offset < size);
}

std::size_t chunk_length(std::uint64_t size, std::uint64_t offset) {
  return static_cast<std::size_t>(std::min<std::uint64_t>(proto::kBlobChunkBytes, size - offset));
}

// A Directory blob of the local store, decoded.
Result<Directory> read_directory(Store& local, const Digest& digest) {
  auto blob = local.get(digest);
  if (!blob.ok()) return blob.error();
  if (!blob->has_value()) {
    return make_error(Errc::kNotFound, "directory " + digest.to_string() + " is not stored");
  }
  const std::string& bytes = **blob;
  auto dir =
      decode_directory(std::as_bytes(std::span(bytes.data(), bytes.size())), digest.function);
  if (!dir.ok()) return Error{dir.error().code, digest.to_string() + ": " + dir.error().message};
  return dir;
}

}  // namespace

RemoteCas::RemoteCas(proto::Connection& connection, DigestFunction fn, RemoteCasOptions options)
    : connection_(connection), fn_(fn), options_(options) {
  if (options_.upload_window == 0) options_.upload_window = 1;
}

Result<std::vector<Digest>> RemoteCas::find_missing(std::span<const Digest> digests) {
  std::vector<Digest> missing;
  for (std::size_t start = 0; start < digests.size(); start += options_.max_find_missing) {
    const auto batch =
        digests.subspan(start, std::min(options_.max_find_missing, digests.size() - start));
    auto reply = expect(connection_.call(
                            [&](schema::Envelope::Builder e) {
                              auto request = e.getBody().initFindMissingRequest();
                              request.setDigestFunction(to_wire(fn_));
                              auto list = request.initDigests(static_cast<unsigned>(batch.size()));
                              for (unsigned i = 0; i < batch.size(); ++i)
                                to_wire(batch[i], list[i]);
                            },
                            options_.timeout),
                        Which::FIND_MISSING_RESPONSE, "findMissing");
    if (!reply.ok()) return reply.error();
    auto part =
        from_wire((*reply)->envelope().getBody().getFindMissingResponse().getMissing(), fn_);
    if (!part.ok())
      return make_error(Errc::kInternal, "findMissing reply: " + part.error().message);
    missing.insert(missing.end(), part->begin(), part->end());
  }
  return missing;
}

Status RemoteCas::upload(Store& local, std::span<const Digest> digests) {
  struct Blob {
    std::string data;
    bool loaded = false;
    bool done = false;
  };
  std::vector<Blob> blobs(digests.size());
  std::deque<Chunk> unsent;
  for (std::size_t i = 0; i < digests.size(); ++i) append_chunks(unsent, i, digests[i].size);
  std::deque<Chunk> inflight;
  const auto give_up = [&](Error e) -> Status {
    for (const Chunk& c : inflight) connection_.forget(c.id);
    return e;
  };

  while (!unsent.empty() || !inflight.empty()) {
    while (!unsent.empty() && inflight.size() < options_.upload_window) {
      Chunk chunk = unsent.front();
      unsent.pop_front();
      Blob& blob = blobs[chunk.blob];
      const Digest& digest = digests[chunk.blob];
      if (blob.done) continue;
      if (!blob.loaded) {
        auto got = local.get(digest);
        if (!got.ok()) return give_up(got.error());
        if (!*got) {
          return give_up(make_error(
              Errc::kNotFound, "cannot upload " + digest.to_string() + ": not in the local store"));
        }
        blob.data = std::move(**got);
        blob.loaded = true;
      }
      const std::size_t n = chunk_length(digest.size, chunk.offset);
      auto id = connection_.send([&](schema::Envelope::Builder e) {
        auto c = e.getBody().initUploadChunk();
        c.setDigestFunction(to_wire(fn_));
        to_wire(digest, c.initDigest());
        c.setOffset(chunk.offset);
        if (n > 0) {
          c.setData(capnp::Data::Reader(
              reinterpret_cast<const capnp::byte*>(blob.data.data()) + chunk.offset, n));
        }
        c.setLast(chunk.offset + n == digest.size);
      });
      if (!id.ok()) return give_up(id.error());
      chunk.id = *id;
      inflight.push_back(chunk);
    }

    const Chunk chunk = inflight.front();
    inflight.pop_front();
    Blob& blob = blobs[chunk.blob];
    const Digest& digest = digests[chunk.blob];
    auto reply = expect(connection_.wait(chunk.id, options_.timeout), Which::UPLOAD_RESPONSE,
                        "upload of " + digest.to_string());
    if (blob.done) continue;  // already committed: whatever this says is moot
    if (!reply.ok()) return give_up(reply.error());
    const bool last = chunk.offset + chunk_length(digest.size, chunk.offset) == digest.size;
    const bool committed = (*reply)->envelope().getBody().getUploadResponse().getCommitted();
    if (last && !committed) {
      return give_up(make_error(Errc::kInternal,
                                "upload of " + digest.to_string() + ": last chunk not committed"));
    }
    if (committed) {
      blob.done = true;
      blob.data = std::string();
    }
  }
  return {};
}

Status RemoteCas::download(Store& local, std::span<const Digest> digests) {
  std::vector<std::string> data(digests.size());
  std::deque<Chunk> unsent;
  for (std::size_t i = 0; i < digests.size(); ++i) {
    if (digests[i].function != fn_) {
      return make_error(Errc::kInvalidArgument,
                        digests[i].to_string() + " is not " + std::string(to_string(fn_)));
    }
    append_chunks(unsent, i, digests[i].size);
  }
  std::deque<Chunk> inflight;
  const auto give_up = [&](Error e) -> Status {
    for (const Chunk& c : inflight) connection_.forget(c.id);
    return e;
  };

  while (!unsent.empty() || !inflight.empty()) {
    while (!unsent.empty() && inflight.size() < options_.upload_window) {
      Chunk chunk = unsent.front();
      unsent.pop_front();
      const Digest& digest = digests[chunk.blob];
      auto id = connection_.send([&](schema::Envelope::Builder e) {
        auto r = e.getBody().initDownloadRequest();
        r.setDigestFunction(to_wire(fn_));
        to_wire(digest, r.initDigest());
        r.setOffset(chunk.offset);
        r.setMaxBytes(proto::kBlobChunkBytes);
      });
      if (!id.ok()) return give_up(id.error());
      chunk.id = *id;
      inflight.push_back(chunk);
    }

    const Chunk chunk = inflight.front();
    inflight.pop_front();
    const Digest& digest = digests[chunk.blob];
    const std::string what = "download of " + digest.to_string();
    auto reply = expect(connection_.wait(chunk.id, options_.timeout), Which::DOWNLOAD_CHUNK, what);
    if (!reply.ok()) return give_up(reply.error());
    const auto got = (*reply)->envelope().getBody().getDownloadChunk();
    const auto bytes = got.getData();
    const std::size_t n = chunk_length(digest.size, chunk.offset);
    const bool last = chunk.offset + n == digest.size;
    if (got.getOffset() != chunk.offset || bytes.size() != n || got.getLast() != last) {
      return give_up(make_error(
          Errc::kCorrupt, what + ": the server sent " + std::to_string(bytes.size()) +
                              " bytes at " + std::to_string(got.getOffset()) + ", asked for " +
                              std::to_string(n) + " at " + std::to_string(chunk.offset)));
    }
    std::string& blob = data[chunk.blob];
    blob.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
    if (last) {
      Status st = local.put(digest, std::as_bytes(std::span(blob)));
      if (!st.ok()) return give_up(Error{st.error().code, what + ": " + st.error().message});
      blob = std::string();
    }
  }
  return {};
}

Status RemoteCas::fetch_tree(Store& local, const Digest& root) {
  std::vector<Digest> level = {root};
  std::unordered_set<Digest, DigestHash> seen = {root};
  std::unordered_set<Digest, DigestHash> files;
  for (std::size_t depth = 0; !level.empty(); ++depth) {
    if (depth > kMaxTreeDepth) {
      return make_error(Errc::kInvalidArgument, "tree " + root.to_string() + " is more than " +
                                                    std::to_string(kMaxTreeDepth) + " levels deep");
    }
    auto missing = local.find_missing(level);
    if (!missing.ok()) return missing.error();
    if (Status st = download(local, *missing); !st.ok()) return st;
    std::vector<Digest> next;
    for (const Digest& d : level) {
      auto dir = read_directory(local, d);
      if (!dir.ok()) return dir.error();
      for (const auto& sub : dir->directories) {
        if (seen.insert(sub.digest).second) next.push_back(sub.digest);
      }
      for (const auto& f : dir->files) files.insert(f.digest);
    }
    level = std::move(next);
  }
  const std::vector<Digest> wanted(files.begin(), files.end());
  auto missing = local.find_missing(wanted);
  if (!missing.ok()) return missing.error();
  return download(local, *missing);
}

Result<std::vector<Digest>> RemoteCas::tree_blobs(Store& local, const Digest& root) {
  std::vector<Digest> out = {root};
  std::unordered_set<Digest, DigestHash> seen = {root};
  std::vector<Digest> level = {root};
  for (std::size_t depth = 0; !level.empty(); ++depth) {
    if (depth > kMaxTreeDepth) {
      return make_error(Errc::kInvalidArgument, "tree " + root.to_string() + " is more than " +
                                                    std::to_string(kMaxTreeDepth) + " levels deep");
    }
    std::vector<Digest> next;
    for (const Digest& d : level) {
      auto dir = read_directory(local, d);
      if (!dir.ok()) return dir.error();
      for (const auto& sub : dir->directories) {
        if (seen.insert(sub.digest).second) {
          next.push_back(sub.digest);
          out.push_back(sub.digest);
        }
      }
      for (const auto& f : dir->files) {
        if (seen.insert(f.digest).second) out.push_back(f.digest);
      }
    }
    level = std::move(next);
  }
  return out;
}

Result<std::optional<ActionResult>> RemoteCas::get_action_result(const Digest& action) {
  auto reply = expect(connection_.call(
                          [&](schema::Envelope::Builder e) {
                            auto r = e.getBody().initGetActionResultRequest();
                            r.setDigestFunction(to_wire(fn_));
                            to_wire(action, r.initActionDigest());
                          },
                          options_.timeout),
                      Which::GET_ACTION_RESULT_RESPONSE, "getActionResult");
  if (!reply.ok()) return reply.error();
  const auto response = (*reply)->envelope().getBody().getGetActionResultResponse();
  if (!response.getFound()) return std::optional<ActionResult>();
  auto result = from_wire(response.getResult(), fn_);
  if (!result.ok()) {
    return make_error(Errc::kInternal, "getActionResult reply: " + result.error().message);
  }
  return std::optional<ActionResult>(std::move(result).value());
}

}  // namespace kiln::cas
