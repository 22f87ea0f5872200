// The store's side of the CAS protocol (PROTOCOL.md section 4).
//
// Uploads: a session per (peer, digest) holds the bytes received so far and
// the next expected offset. A blob of at most spill_threshold bytes is
// assembled in memory, under max_pending_bytes for all such sessions
// together (charged at its full claimed size when the session opens, so a
// peer cannot grow past the cap chunk by chunk); a larger one is written to
// a temporary file in spill_dir (charged to the disk, bounded by
// max_blob_bytes) and hashed as it arrives. At the last chunk the whole blob
// is checked against its digest -- Store::put re-hashes it, and a spilled
// file's streaming hash is compared before Store::put_file hashes it again
// -- so nothing a peer sends is stored under a name it does not hash to. A
// one-chunk blob needs no session at all. Any error discards the session; a
// chunk at offset 0 for a blob in progress starts it again (a sender that
// retries after its own timeout is not refused forever).
//
// Downloads: each downloadRequest is answered from a whole, verified
// Store::get. So that a large blob is not read and hashed once per chunk,
// the blob is kept per (peer, digest) until its last chunk is served or the
// session idles out, under the same pending-bytes cap (over it, each chunk
// is read afresh: slower, still correct).
//
// Idle sessions of both kinds expire after session_idle_timeout; handle()
// runs that sweep at most once a second, and the owner may call expire().
#include "cas/cas_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <unordered_set>
#include <utility>

#include "cas/wire_model.h"
#include "proto/codec.h"

namespace kiln::cas {
namespace {

using Code = schema::Error::Code;

struct Failure {
  Code code;
  std::string message;
};

Failure failure(Code code, std::string message) { return Failure{code, std::move(message)}; }

// Store and model errors as wire codes.
Failure failure_of(const Error& e) {
  switch (e.code) {
    case Errc::kInvalidArgument:
      return failure(Code::INVALID_ARGUMENT, e.message);
    case Errc::kNotFound:
      return failure(Code::NOT_FOUND, e.message);
    case Errc::kCorrupt:
      return failure(Code::DIGEST_MISMATCH, e.message);
    case Errc::kResourceExhausted:
      return failure(Code::RESOURCE_EXHAUSTED, e.message);
    case Errc::kUnavailable:
      return failure(Code::UNAVAILABLE, e.message);
    case Errc::kPermissionDenied:
    case Errc::kIo:
    case Errc::kInternal:
      break;
  }
  return failure(Code::INTERNAL, e.message);
}

void set_failure(schema::Envelope::Builder envelope, const Failure& f) {
  auto error = envelope.getBody().initError();
  error.setCode(f.code);
  error.setMessage(capnp::Text::Reader(f.message.c_str(), f.message.size()));
}

std::span<const std::byte> as_bytes(capnp::Data::Reader data) {
  return {reinterpret_cast<const std::byte*>(data.begin()), data.size()};
}

// A temporary file, removed when this goes.
class SpillFile {
 public:
  static Result<std::unique_ptr<SpillFile>> create(const std::filesystem::path& dir) {
    std::string path = (dir / "kiln-upload-XXXXXX").string();
    const int fd = ::mkstemp(path.data());
    if (fd < 0) {
      const int err = errno;
      return make_error(
          err == ENOSPC ? Errc::kResourceExhausted : Errc::kIo,
          "cannot create a temporary file in " + dir.string() + ": " + std::strerror(err));
    }
    return std::unique_ptr<SpillFile>(new SpillFile(fd, std::move(path)));
  }
  ~SpillFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  Status write(std::span<const std::byte> data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        return make_error(err == ENOSPC || err == EDQUOT ? Errc::kResourceExhausted : Errc::kIo,
                          "cannot write " + path_ + ": " + std::strerror(err));
      }
      data = data.subspan(static_cast<std::size_t>(n));
    }
    return {};
  }
  const std::string& path() const { return path_; }

 private:
  SpillFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

struct Upload {
  std::uint64_t next_offset = 0;
  std::chrono::milliseconds last_active{0};
  std::string memory;                // in-memory assembly, or
  std::unique_ptr<SpillFile> spill;  // a temporary file
  std::optional<Hasher> hasher;      // with its streaming hash
  std::uint64_t charged = 0;         // bytes counted in pending_bytes
};

struct Download {
  std::shared_ptr<const std::string> data;
  std::chrono::milliseconds last_active{0};
};

using Key = std::pair<std::string, Digest>;

}  // namespace

struct CasService::Impl {
  Store& store;
  CasServiceOptions options;
  DigestFunction fn;
  CasServiceStats stats;
  std::map<Key, Upload> uploads;
  std::map<Key, Download> downloads;
  std::map<std::string, std::size_t> sessions_per_peer;  // uploads only
  std::uint64_t pending_bytes = 0;
  Millis last_sweep{0};

  Impl(Store& s, CasServiceOptions o) : store(s), options(std::move(o)), fn(s.digest_function()) {
    if (options.spill_dir.empty()) options.spill_dir = std::filesystem::temp_directory_path();
  }

  // The digest function named in a request, if it is the store's.
  std::optional<Failure> check_function(schema::DigestFunction wire) const {
    auto named = from_wire(wire);
    if (!named.ok()) return failure(Code::INVALID_ARGUMENT, named.error().message);
    if (*named != fn) {
      return failure(Code::INVALID_ARGUMENT, "this store holds " + std::string(to_string(fn)) +
                                                 " digests, not " + std::string(to_string(*named)));
    }
    return std::nullopt;
  }

  void drop_upload(std::map<Key, Upload>::iterator it) {
    pending_bytes -= it->second.charged;
    if (auto p = sessions_per_peer.find(it->first.first); p != sessions_per_peer.end()) {
      if (--p->second == 0) sessions_per_peer.erase(p);
    }
    uploads.erase(it);
  }
  void drop_download(std::map<Key, Download>::iterator it) {
    pending_bytes -= it->second.data->size();
    downloads.erase(it);
  }

  void find_missing(schema::FindMissingRequest::Reader request, schema::Envelope::Builder reply);
  void upload(const std::string& peer, schema::BlobChunk::Reader chunk,
              schema::Envelope::Builder reply, Millis now);
  std::optional<Failure> upload_chunk(const std::string& peer, const Digest& digest,
                                      schema::BlobChunk::Reader chunk, Millis now, bool* committed);
  std::optional<Failure> commit(const Digest& digest, Upload& upload);
  void download(const std::string& peer, schema::DownloadRequest::Reader request,
                schema::Envelope::Builder reply, Millis now);
  Result<std::optional<ActionResult>> lookup_action(const Digest& action);
  void get_action_result(schema::GetActionResultRequest::Reader request,
                         schema::Envelope::Builder reply);
};

void CasService::Impl::find_missing(schema::FindMissingRequest::Reader request,
                                    schema::Envelope::Builder reply) {
  if (auto f = check_function(request.getDigestFunction())) return set_failure(reply, *f);
  const auto list = request.getDigests();
  if (list.size() > options.max_find_missing) {
    return set_failure(
        reply, failure(Code::INVALID_ARGUMENT, std::to_string(list.size()) +
                                                   " digests in one findMissing "
                                                   "(limit " +
                                                   std::to_string(options.max_find_missing) + ")"));
  }
  auto digests = from_wire(list, fn);
  if (!digests.ok()) return set_failure(reply, failure_of(digests.error()));
  auto missing = store.find_missing(*digests);
  if (!missing.ok()) return set_failure(reply, failure_of(missing.error()));
  auto response = reply.getBody().initFindMissingResponse();
  to_wire(*missing, response.initMissing(static_cast<unsigned>(missing->size())));
}

void CasService::Impl::upload(const std::string& peer, schema::BlobChunk::Reader chunk,
                              schema::Envelope::Builder reply, Millis now) {
  if (auto f = check_function(chunk.getDigestFunction())) return set_failure(reply, *f);
  auto digest = from_wire(chunk.getDigest(), fn);
  if (!digest.ok()) return set_failure(reply, failure_of(digest.error()));
  bool committed = false;
  if (auto f = upload_chunk(peer, *digest, chunk, now, &committed)) {
    if (auto it = uploads.find(Key{peer, *digest}); it != uploads.end()) drop_upload(it);
    if (f->code == Code::DIGEST_MISMATCH) ++stats.digest_mismatches;
    return set_failure(reply, *f);
  }
  auto response = reply.getBody().initUploadResponse();
  to_wire(*digest, response.initDigest());
  response.setCommitted(committed);
}

// Takes one chunk; on an error the caller discards the session.
std::optional<Failure> CasService::Impl::upload_chunk(const std::string& peer, const Digest& digest,
                                                      schema::BlobChunk::Reader chunk, Millis now,
                                                      bool* committed) {
  const std::uint64_t offset = chunk.getOffset();
  const auto data = as_bytes(chunk.getData());
  const bool last = chunk.getLast();
  const std::string name = digest.to_string();
  if (offset > digest.size || data.size() > digest.size - offset) {
    return failure(Code::INVALID_ARGUMENT, "chunk at " + std::to_string(offset) + " of " +
                                               std::to_string(data.size()) +
                                               " bytes runs past the end of " + name);
  }
  const bool reaches_end = offset + data.size() == digest.size;
  if (last != reaches_end) {
    return failure(Code::INVALID_ARGUMENT,
                   std::string(last ? "last chunk ends before" : "chunk reaches the end of") + " " +
                       name + (last ? "" : " but is not marked last"));
  }
  if (!last && data.empty()) {
    return failure(Code::INVALID_ARGUMENT, "empty chunk that is not the last of " + name);
  }

  const Key key{peer, digest};
  auto it = uploads.find(key);
  if (it != uploads.end() && offset == 0 && it->second.next_offset != 0) {
    drop_upload(it);  // the sender starts again (e.g. a retry after its timeout)
    it = uploads.end();
  }
  if (it == uploads.end()) {
    if (offset != 0) {
      return failure(Code::INVALID_ARGUMENT, "no upload of " + name + " in progress at offset " +
                                                 std::to_string(offset) +
                                                 " (gap, or the upload expired)");
    }
    if (digest.size > options.max_blob_bytes) {
      return failure(Code::RESOURCE_EXHAUSTED, name + " is larger than the limit of " +
                                                   std::to_string(options.max_blob_bytes) +
                                                   " bytes");
    }
    auto present = store.contains(digest);
    if (!present.ok()) return failure_of(present.error());
    if (*present) {  // the sender may stop here
      *committed = true;
      return std::nullopt;
    }
    if (last) {  // the whole blob in one chunk
      if (Status st = store.put(digest, data); !st.ok()) return failure_of(st.error());
      ++stats.uploads_committed;
      stats.upload_bytes += digest.size;
      *committed = true;
      return std::nullopt;
    }
    if (sessions_per_peer[peer] >= options.max_sessions_per_peer) {
      if (sessions_per_peer[peer] == 0) sessions_per_peer.erase(peer);
      return failure(Code::RESOURCE_EXHAUSTED,
                     "too many uploads in progress from this peer (limit " +
                         std::to_string(options.max_sessions_per_peer) + ")");
    }
    Upload upload;
    if (digest.size > options.spill_threshold) {
      auto spill = SpillFile::create(options.spill_dir);
      if (!spill.ok()) return failure_of(spill.error());
      upload.spill = std::move(spill).value();
      upload.hasher.emplace(fn);
    } else {
      if (pending_bytes + digest.size > options.max_pending_bytes) {
        return failure(Code::RESOURCE_EXHAUSTED, "too many bytes of uploads in progress (limit " +
                                                     std::to_string(options.max_pending_bytes) +
                                                     ")");
      }
      upload.charged = digest.size;
      pending_bytes += digest.size;
    }
    ++sessions_per_peer[peer];
    it = uploads.emplace(key, std::move(upload)).first;
  }

  Upload& upload = it->second;
  if (offset != upload.next_offset) {
    return failure(Code::INVALID_ARGUMENT, "chunk of " + name + " at offset " +
                                               std::to_string(offset) + ", expected " +
                                               std::to_string(upload.next_offset));
  }
  if (upload.spill) {
    if (Status st = upload.spill->write(data); !st.ok()) return failure_of(st.error());
    upload.hasher->update(data);
  } else {
    upload.memory.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  upload.next_offset += data.size();
  upload.last_active = now;
  if (!last) return std::nullopt;

  auto f = commit(digest, upload);
  if (!f) {
    ++stats.uploads_committed;
    stats.upload_bytes += digest.size;
    *committed = true;
    drop_upload(it);
  }
  return f;
}

std::optional<Failure> CasService::Impl::commit(const Digest& digest, Upload& upload) {
  if (!upload.spill) {
    Status st = store.put(digest, std::as_bytes(std::span(upload.memory)));
    if (!st.ok()) return failure_of(st.error());
    return std::nullopt;
  }
  const Digest actual = upload.hasher->finish();
  upload.hasher.reset();
  if (actual != digest) {
    return failure(Code::DIGEST_MISMATCH,
                   "uploaded bytes hash to " + actual.to_string() + ", not " + digest.to_string());
  }
  auto stored = store.put_file(upload.spill->path());
  if (!stored.ok()) return failure_of(stored.error());
  if (*stored != digest) {  // the file changed under us
    return failure(Code::INTERNAL, "spilled upload of " + digest.to_string() + " changed on disk");
  }
  return std::nullopt;
}

void CasService::Impl::download(const std::string& peer, schema::DownloadRequest::Reader request,
                                schema::Envelope::Builder reply, Millis now) {
  if (auto f = check_function(request.getDigestFunction())) return set_failure(reply, *f);
  auto digest = from_wire(request.getDigest(), fn);
  if (!digest.ok()) return set_failure(reply, failure_of(digest.error()));
  const std::uint64_t offset = request.getOffset();
  if (offset > digest->size) {
    return set_failure(
        reply, failure(Code::INVALID_ARGUMENT,
                       "offset " + std::to_string(offset) + " is beyond " + digest->to_string()));
  }
  const Key key{peer, *digest};
  std::shared_ptr<const std::string> blob;
  if (auto it = downloads.find(key); it != downloads.end()) {
    blob = it->second.data;
    it->second.last_active = now;
  } else {
    auto got = store.get(*digest);
    if (!got.ok()) return set_failure(reply, failure_of(got.error()));
    if (!*got) {
      return set_failure(reply, failure(Code::NOT_FOUND, digest->to_string() + " is not stored"));
    }
    blob = std::make_shared<const std::string>(std::move(**got));
  }
  const std::uint64_t max_bytes = request.getMaxBytes();
  const std::size_t limit = max_bytes == 0 || max_bytes > proto::kBlobChunkBytes
                                ? proto::kBlobChunkBytes
                                : static_cast<std::size_t>(max_bytes);
  const std::size_t n = std::min<std::uint64_t>(limit, blob->size() - offset);
  const bool last = offset + n == blob->size();

  auto chunk = reply.getBody().initDownloadChunk();
  chunk.setDigestFunction(to_wire(fn));
  to_wire(*digest, chunk.initDigest());
  chunk.setOffset(offset);
  if (n > 0) {
    chunk.setData(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(blob->data()) + offset, n));
  }
  chunk.setLast(last);
  stats.download_bytes += n;

  auto it = downloads.find(key);
  if (last) {
    ++stats.downloads;
    if (it != downloads.end()) drop_download(it);
  } else if (it == downloads.end() && pending_bytes + blob->size() <= options.max_pending_bytes) {
    pending_bytes += blob->size();
    downloads.emplace(key, Download{std::move(blob), now});
  }
}

// An entry that does not decode (written by another build?) is a miss.
Result<std::optional<ActionResult>> CasService::Impl::lookup_action(const Digest& action) {
  auto encoded = store.get_action_result(action);
  if (!encoded.ok()) return encoded.error();
  if (!encoded->has_value()) return std::optional<ActionResult>();
  const std::string& bytes = **encoded;
  auto decoded = decode_action_result(std::as_bytes(std::span(bytes.data(), bytes.size())), fn);
  if (!decoded.ok()) return std::optional<ActionResult>();
  return std::optional<ActionResult>(std::move(decoded).value());
}

void CasService::Impl::get_action_result(schema::GetActionResultRequest::Reader request,
                                         schema::Envelope::Builder reply) {
  if (auto f = check_function(request.getDigestFunction())) return set_failure(reply, *f);
  auto action = from_wire(request.getActionDigest(), fn);
  if (!action.ok()) return set_failure(reply, failure_of(action.error()));
  auto found = lookup_action(*action);
  if (!found.ok()) return set_failure(reply, failure_of(found.error()));
  auto response = reply.getBody().initGetActionResultResponse();
  if (*found) {
    ++stats.action_cache_hits;
    response.setFound(true);
    to_wire(**found, response.initResult());
  } else {
    ++stats.action_cache_misses;
  }
}

// ---- CasService -------------------------------------------------------------

CasService::CasService(Store& store, CasServiceOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}
CasService::~CasService() = default;

bool CasService::handle(const std::string& peer, schema::Envelope::Reader request,
                        capnp::MessageBuilder& reply, Millis now) {
  using Which = schema::Envelope::Body::Which;
  const auto body = request.getBody();
  const Which which = body.which();
  switch (which) {
    case Which::FIND_MISSING_REQUEST:
    case Which::UPLOAD_CHUNK:
    case Which::DOWNLOAD_REQUEST:
    case Which::GET_ACTION_RESULT_REQUEST:
      break;
    default:
      return false;
  }
  if (now - impl_->last_sweep >= Millis(1000)) {
    expire(now);
    impl_->last_sweep = now;
  }
  auto envelope = proto::init_envelope(reply, request.getRequestId());
  switch (which) {
    case Which::FIND_MISSING_REQUEST:
      impl_->find_missing(body.getFindMissingRequest(), envelope);
      break;
    case Which::UPLOAD_CHUNK:
      impl_->upload(peer, body.getUploadChunk(), envelope, now);
      break;
    case Which::DOWNLOAD_REQUEST:
      impl_->download(peer, body.getDownloadRequest(), envelope, now);
      break;
    default:  // GET_ACTION_RESULT_REQUEST
      impl_->get_action_result(body.getGetActionResultRequest(), envelope);
      break;
  }
  return true;
}

Status CasService::put_action_result(const Digest& action, const ActionResult& result,
                                     const std::vector<Digest>& referenced) {
  auto encoded = encode_action_result(result, impl_->fn);
  if (!encoded.ok()) return encoded.error();
  auto missing = impl_->store.find_missing(referenced);
  if (!missing.ok()) return missing.error();
  if (!missing->empty()) {
    return make_error(Errc::kNotFound, "the result of " + action.to_string() + " names " +
                                           missing->front().to_string() + ", which is not stored");
  }
  return impl_->store.put_action_result(action, *encoded, referenced);
}

Result<std::vector<std::size_t>> CasService::put_action_results(
    std::span<const ActionResultEntry> entries) {
  std::vector<Digest> all;
  for (const auto& e : entries) all.insert(all.end(), e.referenced.begin(), e.referenced.end());
  auto missing = impl_->store.find_missing(all);
  if (!missing.ok()) return missing.error();
  const std::unordered_set<Digest, DigestHash> absent(missing->begin(), missing->end());
  std::vector<std::size_t> left_out;
  std::vector<Store::ActionEntry> batch;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    auto encoded = encode_action_result(e.result, impl_->fn);
    const bool complete = std::none_of(e.referenced.begin(), e.referenced.end(),
                                       [&](const Digest& d) { return absent.count(d) != 0; });
    if (!encoded.ok() || !complete) {
      left_out.push_back(i);
      continue;
    }
    batch.push_back(Store::ActionEntry{e.action, std::move(*encoded), e.referenced});
  }
  if (Status s = impl_->store.put_action_results(batch); !s.ok()) return s.error();
  return left_out;
}

Result<std::optional<ActionResult>> CasService::get_action_result(const Digest& action) {
  return impl_->lookup_action(action);
}

void CasService::peer_gone(const std::string& peer) {
  for (auto it = impl_->uploads.lower_bound(Key{peer, Digest{}});
       it != impl_->uploads.end() && it->first.first == peer;) {
    impl_->drop_upload(it++);
  }
  for (auto it = impl_->downloads.lower_bound(Key{peer, Digest{}});
       it != impl_->downloads.end() && it->first.first == peer;) {
    impl_->drop_download(it++);
  }
}

void CasService::expire(Millis now) {
  const Millis timeout = impl_->options.session_idle_timeout;
  for (auto it = impl_->uploads.begin(); it != impl_->uploads.end();) {
    if (now - it->second.last_active > timeout) {
      impl_->drop_upload(it++);
    } else {
      ++it;
    }
  }
  for (auto it = impl_->downloads.begin(); it != impl_->downloads.end();) {
    if (now - it->second.last_active > timeout) {
      impl_->drop_download(it++);
    } else {
      ++it;
    }
  }
}

std::size_t CasService::pending_uploads() const { return impl_->uploads.size(); }
const CasServiceStats& CasService::stats() const { return impl_->stats; }
Store& CasService::store() { return impl_->store; }

}  // namespace kiln::cas
