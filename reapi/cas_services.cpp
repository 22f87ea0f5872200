// The API's storage services (cas_services.h) on the shared central store.
// Every handler admits the caller through the Gate, checks what the client
// sent, and holds the store's lock only for single store calls: bytes are
// hashed, compressed and streamed outside it. (Over 600 lines: the three
// services of cas_services.h, kept together as the header declares them.)
#include "reapi/cas_services.h"

#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/files.h"
#include "base/os_error.h"
#include "base/unique_fd.h"
#include "reapi/digests.h"

namespace kiln::reapi {
namespace {

using Uploads = std::map<std::string, std::pair<std::uint64_t, std::int64_t>>;

// GetTree walks at most this many directories for one request (every page
// walks again from the root), so a hostile or cyclic tree cannot keep a
// thread busy without end.
constexpr std::uint64_t kMaxTreeWalk = 1000000;
// A GetTree page is sent as several messages of about this many bytes, below
// the 4 MiB a gRPC client receives by default.
constexpr std::size_t kTreeMessageBytes = std::size_t{2} << 20;
// zstd level of compressed-blobs reads: 1, zstd's fastest regular level.
// The server's cores are shared by every reader and by the store; a client
// on the grid's network gains less from the few percent of ratio a higher
// level adds than it loses when the server compresses more slowly.
constexpr int kZstdReadLevel = 1;

void set_rpc_status(google::rpc::Status* out, grpc::StatusCode code, const std::string& message) {
  out->set_code(static_cast<int>(code));
  out->set_message(message);
}

// The blob (verified by the store), nullopt when absent; the empty blob
// without asking the store.
Result<std::optional<std::string>> get_blob(SharedStore& store, const cas::Digest& digest) {
  if (is_empty_blob(digest)) return std::optional<std::string>(std::string());
  return store.with([&](cas::Store& s) { return s.get(digest); });
}

Result<bool> has_blob(SharedStore& store, const cas::Digest& digest) {
  if (is_empty_blob(digest)) return true;
  return store.with([&](cas::Store& s) { return s.contains(digest); });
}

std::string compressor_name(v2::Compressor::Value value) {
  return v2::Compressor::Value_IsValid(value) ? v2::Compressor::Value_Name(value)
                                              : std::to_string(static_cast<int>(value));
}

std::string not_found_message(const cas::Digest& digest) {
  return "blob " + digest.to_string() + " is not in the CAS";
}

std::string mismatch_message(const cas::Digest& digest) {
  return "the data sent for blob " + digest.to_string() + " does not match its digest";
}

// Parses every digest of a request; INVALID_ARGUMENT naming the first bad
// one and its index.
template <typename Digests>
Result<std::vector<cas::Digest>> parse_digests(const Digests& digests, std::string_view field) {
  if (digests.size() > kMaxDigestsPerRequest) {
    return make_error(Errc::kInvalidArgument,
                      std::string(field) + " names " + std::to_string(digests.size()) +
                          " digests; at most " + std::to_string(kMaxDigestsPerRequest) +
                          " are allowed in one request");
  }
  std::vector<cas::Digest> parsed;
  parsed.reserve(static_cast<std::size_t>(digests.size()));
  for (int i = 0; i < digests.size(); ++i) {
    auto digest = from_proto(digests.Get(i));
    if (!digest.ok()) {
      return make_error(Errc::kInvalidArgument, std::string(field) + "[" + std::to_string(i) +
                                                    "] (" + to_text(digests.Get(i)) +
                                                    "): " + digest.error().message);
    }
    parsed.push_back(*digest);
  }
  return parsed;
}

using ZstdCCtx = std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)>;
using ZstdDCtx = std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)>;

// Sends bytes [offset, offset + limit) of a blob (limit 0: to its end),
// plain in kByteStreamChunk messages or as one zstd frame, from the
// blob's pieces given in order from its first byte (add), so a blob
// stored as a file is streamed, never held whole.
class BlobSender {
 public:
  BlobSender(grpc::ServerWriter<google::bytestream::ReadResponse>* writer, bool zstd,
             std::uint64_t offset, std::uint64_t limit, std::uint64_t size)
      : writer_(writer),
        zstd_(zstd),
        begin_(offset),
        end_(limit == 0 ? size : std::min(size, offset + limit)),
        cctx_(nullptr, &ZSTD_freeCCtx),
        chunk_(kByteStreamChunk, '\0') {}

  grpc::Status start() {
    if (!zstd_) return grpc::Status::OK;
    cctx_.reset(ZSTD_createCCtx());
    if (!cctx_) return {grpc::StatusCode::RESOURCE_EXHAUSTED, "cannot allocate a zstd context"};
    std::size_t rc = ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, kZstdReadLevel);
    if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setPledgedSrcSize(cctx_.get(), end_ - begin_);
    if (ZSTD_isError(rc)) {
      return {grpc::StatusCode::INTERNAL,
              std::string("cannot set up zstd compression: ") + ZSTD_getErrorName(rc)};
    }
    return grpc::Status::OK;
  }

  // The blob's next bytes.
  grpc::Status add(std::string_view piece) {
    const std::uint64_t at = seen_;
    seen_ += piece.size();
    if (seen_ <= begin_ || at >= end_) return grpc::Status::OK;
    const std::uint64_t from = std::max(at, begin_) - at;
    const std::uint64_t to = std::min(seen_, end_) - at;
    piece = piece.substr(from, to - from);
    if (zstd_) return compress(piece, ZSTD_e_continue);
    for (std::size_t i = 0; i < piece.size(); i += kByteStreamChunk) {
      const auto part = piece.substr(i, kByteStreamChunk);
      response_.set_data(part.data(), part.size());
      if (!writer_->Write(response_)) return gone();
    }
    return grpc::Status::OK;
  }

  // After the last piece: the end of the zstd frame.
  grpc::Status finish() { return zstd_ ? compress({}, ZSTD_e_end) : grpc::Status::OK; }

 private:
  static grpc::Status gone() { return {grpc::StatusCode::CANCELLED, "the reader went away"}; }

  grpc::Status compress(std::string_view piece, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{piece.data(), piece.size(), 0};
    while (true) {
      ZSTD_outBuffer out{chunk_.data(), chunk_.size(), used_};
      const std::size_t remaining = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
      if (ZSTD_isError(remaining)) {
        return {grpc::StatusCode::INTERNAL,
                std::string("zstd compression failed: ") + ZSTD_getErrorName(remaining)};
      }
      used_ = out.pos;
      const bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
      // A full message goes out; the frame's last bytes go out at its end.
      if (used_ == chunk_.size() || (done && mode == ZSTD_e_end && used_ > 0)) {
        response_.set_data(chunk_.data(), used_);
        if (!writer_->Write(response_)) return gone();
        used_ = 0;
      }
      if (done) return grpc::Status::OK;
    }
  }

  grpc::ServerWriter<google::bytestream::ReadResponse>* writer_;
  bool zstd_;
  std::uint64_t begin_;
  std::uint64_t end_;
  std::uint64_t seen_ = 0;
  ZstdCCtx cctx_;
  std::string chunk_;
  std::size_t used_ = 0;  // bytes of chunk_ filled
  google::bytestream::ReadResponse response_;
};

// One upload's bytes on their way to the store: a private file in the
// upload directory (removed when this goes, stored or not), hashed as it
// is written, decompressed first for compressed-blobs/zstd. Refuses a byte
// beyond the digest's size as soon as it arrives.
class UploadFile {
 public:
  static Result<std::unique_ptr<UploadFile>> create(const std::filesystem::path& dir,
                                                    const cas::Digest& digest, bool zstd) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);  // a failure shows in mkstemp
    std::string path = (dir / "upload-XXXXXX").string();
    // mkstemp: O_CREAT|O_EXCL, mode 0600.
    base::UniqueFd fd(::mkstemp(path.data()));
    if (!fd.valid())
      return base::os_error(errno, "cannot create an upload file in " + dir.string());
    std::unique_ptr<UploadFile> file(new UploadFile(std::move(fd), std::move(path), digest));
    if (zstd) {
      file->dctx_.reset(ZSTD_createDCtx());
      if (!file->dctx_)
        return make_error(Errc::kResourceExhausted, "cannot allocate a zstd context");
      file->frame_complete_ = false;
    }
    return file;
  }
  ~UploadFile() { ::unlink(path_.c_str()); }
  UploadFile(const UploadFile&) = delete;
  UploadFile& operator=(const UploadFile&) = delete;

  const std::string& path() const { return path_; }

  // The next bytes the client sent (compressed for zstd).
  Status append(std::string_view data) {
    if (!dctx_) return take(data);
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (in.pos < in.size || !buffer_drained_) {
      ZSTD_outBuffer out{buffer_.data(), buffer_.size(), 0};
      const std::size_t used = in.pos;
      const std::size_t rc = ZSTD_decompressStream(dctx_.get(), &out, &in);
      if (ZSTD_isError(rc)) {
        return make_error(Errc::kInvalidArgument,
                          "the data sent for blob " + digest_.to_string() +
                              " is not valid zstd: " + ZSTD_getErrorName(rc));
      }
      // A call that moved nothing (zstd waiting for a next frame) says
      // nothing about the last one.
      if (in.pos != used || out.pos > 0) frame_complete_ = rc == 0;
      // A full output buffer may leave decoded bytes inside zstd.
      buffer_drained_ = out.pos < out.size;
      Status took = take(std::string_view(buffer_.data(), out.pos));
      if (!took.ok()) return took;
    }
    return {};
  }

  // After the last byte: checks that what arrived is the blob and closes
  // the file (which stays until this object goes).
  Status finish() {
    if (!buffer_drained_ || !frame_complete_) {
      return make_error(Errc::kInvalidArgument, "the zstd data sent for blob " +
                                                    digest_.to_string() + " ends inside a frame");
    }
    if (size_ != digest_.size || hasher_.finish() != digest_)
      return make_error(Errc::kInvalidArgument, mismatch_message(digest_));
    // On disk before the store takes it (Store::adopt_file), and outside
    // the store's lock.
    if (::fdatasync(fd_.get()) != 0) return base::os_error(errno, "cannot write " + path_);
    if (::close(fd_.release()) != 0) return base::os_error(errno, "cannot write " + path_);
    return {};
  }

 private:
  UploadFile(base::UniqueFd fd, std::string path, const cas::Digest& digest)
      : fd_(std::move(fd)),
        path_(std::move(path)),
        digest_(digest),
        hasher_(cas::DigestFunction::kSha256),
        dctx_(nullptr, &ZSTD_freeDCtx),
        buffer_(ZSTD_DStreamOutSize(), '\0') {}

  // Uncompressed bytes: the bound that stops an endless stream or a zip
  // bomb is checked before they are written.
  Status take(std::string_view plain) {
    if (plain.size() > digest_.size - size_) {
      return make_error(Errc::kInvalidArgument, "more than the " + std::to_string(digest_.size) +
                                                    " bytes of blob " + digest_.to_string() +
                                                    " were sent");
    }
    size_ += plain.size();
    hasher_.update(plain);
    return base::write_all(fd_.get(), plain, path_);
  }

  base::UniqueFd fd_;
  std::string path_;
  cas::Digest digest_;
  cas::Hasher hasher_;
  std::uint64_t size_ = 0;
  ZstdDCtx dctx_;
  bool frame_complete_ = true;
  bool buffer_drained_ = true;
  std::string buffer_;
};

// An upload's entry in the service's table of uploads in progress, removed
// when the Write ends (unless a newer Write of the same name took it over).
class UploadEntry {
 public:
  UploadEntry(std::mutex& mutex, Uploads& uploads, std::uint64_t& next_id, std::string name)
      : mutex_(mutex), uploads_(uploads), name_(std::move(name)) {
    std::lock_guard lock(mutex_);
    id_ = next_id++;
    uploads_[name_] = {id_, 0};
  }
  ~UploadEntry() {
    std::lock_guard lock(mutex_);
    const auto it = uploads_.find(name_);
    if (it != uploads_.end() && it->second.first == id_) uploads_.erase(it);
  }
  UploadEntry(const UploadEntry&) = delete;
  UploadEntry& operator=(const UploadEntry&) = delete;

  void set_committed(std::int64_t committed) {
    std::lock_guard lock(mutex_);
    const auto it = uploads_.find(name_);
    if (it != uploads_.end() && it->second.first == id_) it->second.second = committed;
  }

 private:
  std::mutex& mutex_;
  Uploads& uploads_;
  std::string name_;
  std::uint64_t id_ = 0;
};

// Where a GetTree page starts: "" (the first page) or a decimal index into
// the walk's order, as next_page_token gave it.
Result<std::uint64_t> parse_page_token(const std::string& token) {
  if (token.empty()) return std::uint64_t{0};
  std::uint64_t index = 0;
  const char* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, index);
  if (ec != std::errc{} || ptr != end || index > kMaxTreeWalk) {
    return make_error(Errc::kInvalidArgument,
                      "page_token '" + token.substr(0, 40) + "' is not one this server gave");
  }
  return index;
}

// Streams a page of directories, several messages of at most about
// kTreeMessageBytes each; next_page_token goes on the last one.
class TreePageWriter {
 public:
  explicit TreePageWriter(grpc::ServerWriter<v2::GetTreeResponse>* writer) : writer_(writer) {}
  bool add(v2::Directory&& directory, std::size_t bytes) {
    if (bytes_ > 0 && bytes_ + bytes > kTreeMessageBytes) {
      if (!writer_->Write(message_)) return false;
      message_.Clear();
      bytes_ = 0;
    }
    *message_.add_directories() = std::move(directory);
    bytes_ += bytes;
    return true;
  }
  bool finish(const std::string& next_page_token) {
    message_.set_next_page_token(next_page_token);
    return writer_->Write(message_);
  }

 private:
  grpc::ServerWriter<v2::GetTreeResponse>* writer_;
  v2::GetTreeResponse message_;
  std::size_t bytes_ = 0;
};

}  // namespace

// ---- Capabilities ----

grpc::Status CapabilitiesService::GetCapabilities(grpc::ServerContext* context,
                                                  const v2::GetCapabilitiesRequest* /*request*/,
                                                  v2::ServerCapabilities* response) {
  if (auto admitted = gate_.admit(*context, Method::kGetCapabilities); !admitted.ok()) {
    return admitted;
  }
  auto* cache = response->mutable_cache_capabilities();
  cache->add_digest_functions(v2::DigestFunction::SHA256);
  // Whether this caller may write the action cache: its role's answer
  // (Bazel uploads the results of local actions only when told it may).
  cache->mutable_action_cache_update_capabilities()->set_update_enabled(
      gate_.admit(*context, Method::kUpdateActionResult).ok());
  auto* cache_range = cache->mutable_cache_priority_capabilities()->add_priorities();
  cache_range->set_min_priority(0);
  cache_range->set_max_priority(0);
  cache->set_max_batch_total_size_bytes(kMaxBatchBytes);
  cache->set_symlink_absolute_path_strategy(v2::SymlinkAbsolutePathStrategy::DISALLOWED);
  // ByteStream serves compressed-blobs/zstd. No batch compressors: batches
  // are identity only (supported_batch_update_compressors stays empty).
  cache->add_supported_compressors(v2::Compressor::ZSTD);

  auto* exec = response->mutable_execution_capabilities();
  exec->set_digest_function(v2::DigestFunction::SHA256);
  exec->add_digest_functions(v2::DigestFunction::SHA256);
  exec->set_exec_enabled(options_.exec_enabled);
  auto* exec_range = exec->mutable_execution_priority_capabilities()->add_priorities();
  exec_range->set_min_priority(-1000);
  exec_range->set_max_priority(1000);

  // 2.0 only: from 2.1 on a client may name its outputs in output_paths
  // alone, files and directories mixed, which kiln's Command cannot say
  // (reapi/translate.h). Clients that compress ask supported_compressors,
  // not the version.
  response->mutable_low_api_version()->set_major(2);
  response->mutable_low_api_version()->set_minor(0);
  response->mutable_high_api_version()->set_major(2);
  response->mutable_high_api_version()->set_minor(0);
  return grpc::Status::OK;
}

// ---- ContentAddressableStorage ----

grpc::Status CasService::FindMissingBlobs(grpc::ServerContext* context,
                                          const v2::FindMissingBlobsRequest* request,
                                          v2::FindMissingBlobsResponse* response) {
  if (auto admitted = gate_.admit(*context, Method::kFindMissingBlobs); !admitted.ok()) {
    return admitted;
  }
  if (Status st = check_digest_function(request->digest_function()); !st.ok()) {
    return to_grpc(st.error());
  }
  auto digests = parse_digests(request->blob_digests(), "blob_digests");
  if (!digests.ok()) return to_grpc(digests.error());
  std::erase_if(*digests, is_empty_blob);
  auto missing = store_.with([&](cas::Store& s) { return s.find_missing(*digests); });
  if (!missing.ok()) return to_grpc(missing.error());
  for (const auto& digest : *missing) *response->add_missing_blob_digests() = to_proto(digest);
  return grpc::Status::OK;
}

grpc::Status CasService::BatchUpdateBlobs(grpc::ServerContext* context,
                                          const v2::BatchUpdateBlobsRequest* request,
                                          v2::BatchUpdateBlobsResponse* response) {
  if (auto admitted = gate_.admit(*context, Method::kBatchUpdateBlobs); !admitted.ok()) {
    return admitted;
  }
  if (Status st = check_digest_function(request->digest_function()); !st.ok()) {
    return to_grpc(st.error());
  }
  if (request->requests_size() > kMaxDigestsPerRequest) {
    return invalid("the batch has " + std::to_string(request->requests_size()) +
                   " blobs; at most " + std::to_string(kMaxDigestsPerRequest) + " are allowed");
  }
  std::uint64_t total = 0;
  for (const auto& entry : request->requests()) total += entry.data().size();
  if (total > static_cast<std::uint64_t>(kMaxBatchBytes)) {
    return invalid("the batch carries " + std::to_string(total) + " bytes, over the limit of " +
                   std::to_string(kMaxBatchBytes) + " (max_batch_total_size_bytes); send larger " +
                   "blobs by ByteStream");
  }
  for (const auto& entry : request->requests()) {
    auto* answer = response->add_responses();
    *answer->mutable_digest() = entry.digest();
    auto* status = answer->mutable_status();
    if (entry.compressor() != v2::Compressor::IDENTITY) {
      set_rpc_status(status, grpc::StatusCode::INVALID_ARGUMENT,
                     "compressor " + compressor_name(entry.compressor()) +
                         " is not supported in batches (identity is)");
      continue;
    }
    auto digest = from_proto(entry.digest());
    if (!digest.ok()) {
      set_rpc_status(status, grpc::StatusCode::INVALID_ARGUMENT,
                     to_text(entry.digest()) + ": " + digest.error().message);
      continue;
    }
    if (entry.data().size() != digest->size) {
      set_rpc_status(
          status, grpc::StatusCode::INVALID_ARGUMENT,
          mismatch_message(*digest) + " (" + std::to_string(entry.data().size()) + " bytes)");
      continue;
    }
    const auto bytes = std::as_bytes(std::span(entry.data().data(), entry.data().size()));
    Status stored = store_.with([&](cas::Store& s) { return s.put(*digest, bytes); });
    if (!stored.ok()) {
      set_rpc_status(status, grpc_code(stored.error().code),
                     stored.error().code == Errc::kCorrupt ? mismatch_message(*digest)
                                                           : stored.error().message);
      continue;
    }
    set_rpc_status(status, grpc::StatusCode::OK, "");
  }
  return grpc::Status::OK;
}

grpc::Status CasService::BatchReadBlobs(grpc::ServerContext* context,
                                        const v2::BatchReadBlobsRequest* request,
                                        v2::BatchReadBlobsResponse* response) {
  if (auto admitted = gate_.admit(*context, Method::kBatchReadBlobs); !admitted.ok()) {
    return admitted;
  }
  if (Status st = check_digest_function(request->digest_function()); !st.ok()) {
    return to_grpc(st.error());
  }
  auto digests = parse_digests(request->digests(), "digests");
  if (!digests.ok()) return to_grpc(digests.error());
  std::uint64_t total = 0;  // at most 100000 sizes of at most 2^34: no overflow
  for (const auto& digest : *digests) total += digest.size;
  if (total > static_cast<std::uint64_t>(kMaxBatchBytes)) {
    return invalid("the batch asks for " + std::to_string(total) + " bytes, over the limit of " +
                   std::to_string(kMaxBatchBytes) + " (max_batch_total_size_bytes); read larger " +
                   "blobs by ByteStream");
  }
  // acceptable_compressors is not consulted: identity is always acceptable,
  // and it is what batches answer in.
  for (int i = 0; i < request->digests_size(); ++i) {
    const cas::Digest& digest = (*digests)[static_cast<std::size_t>(i)];
    auto* answer = response->add_responses();
    *answer->mutable_digest() = request->digests(i);
    answer->set_compressor(v2::Compressor::IDENTITY);
    auto blob = get_blob(store_, digest);
    if (!blob.ok()) {
      set_rpc_status(answer->mutable_status(), grpc_code(blob.error().code), blob.error().message);
    } else if (!blob->has_value()) {
      set_rpc_status(answer->mutable_status(), grpc::StatusCode::NOT_FOUND,
                     not_found_message(digest));
    } else {
      answer->set_data(std::move(**blob));
      set_rpc_status(answer->mutable_status(), grpc::StatusCode::OK, "");
    }
  }
  return grpc::Status::OK;
}

grpc::Status CasService::GetTree(grpc::ServerContext* context, const v2::GetTreeRequest* request,
                                 grpc::ServerWriter<v2::GetTreeResponse>* writer) {
  if (auto admitted = gate_.admit(*context, Method::kGetTree); !admitted.ok()) return admitted;
  if (Status st = check_digest_function(request->digest_function()); !st.ok()) {
    return to_grpc(st.error());
  }
  auto root = from_proto(request->root_digest());
  if (!root.ok()) return invalid("root_digest: " + root.error().message);
  auto start = parse_page_token(request->page_token());
  if (!start.ok()) return to_grpc(start.error());
  const std::uint64_t page_size = request->page_size() <= 0
                                      ? kMaxTreePage
                                      : std::min<std::uint64_t>(request->page_size(), kMaxTreePage);

  // Breadth first from the root, each directory once; every page walks
  // again from the root and skips the directories of the pages before it.
  std::deque<cas::Digest> queue{*root};
  std::unordered_set<cas::Digest, cas::DigestHash> seen{*root};
  std::uint64_t index = 0;  // of the next directory present in the walk
  TreePageWriter page(writer);
  while (!queue.empty() && index < *start + page_size) {
    if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "the client went away"};
    const cas::Digest digest = queue.front();
    queue.pop_front();
    auto blob = get_blob(store_, digest);
    if (!blob.ok()) return to_grpc(blob.error());
    if (!blob->has_value()) {
      if (digest == *root) return {grpc::StatusCode::NOT_FOUND, not_found_message(digest)};
      continue;  // the API: the part of the tree present, the rest omitted
    }
    v2::Directory directory;
    if (!directory.ParseFromString(**blob)) {
      return invalid("blob " + digest.to_string() + " in the tree is not a Directory message");
    }
    for (const auto& child : directory.directories()) {
      auto child_digest = from_proto(child.digest());
      if (!child_digest.ok()) {
        return invalid("directory " + digest.to_string() + ", entry '" +
                       child.name().substr(0, 200) + "': " + child_digest.error().message);
      }
      if (!seen.insert(*child_digest).second) continue;
      if (seen.size() > kMaxTreeWalk) {
        return {grpc::StatusCode::RESOURCE_EXHAUSTED,
                "the tree under " + root->to_string() + " has more than " +
                    std::to_string(kMaxTreeWalk) + " directories"};
      }
      queue.push_back(*child_digest);
    }
    if (index++ < *start) continue;
    if (!page.add(std::move(directory), (*blob)->size())) {
      return {grpc::StatusCode::CANCELLED, "the client went away"};
    }
  }
  if (index < *start && !request->page_token().empty()) {
    return invalid("page_token '" + request->page_token() + "' is past the end of the tree");
  }
  const std::string next = queue.empty() ? std::string() : std::to_string(index);
  if (!page.finish(next)) return {grpc::StatusCode::CANCELLED, "the client went away"};
  return grpc::Status::OK;
}

// ---- ByteStream ----

ByteStreamService::ByteStreamService(SharedStore& store, const Gate& gate,
                                     std::filesystem::path upload_dir)
    : store_(store), gate_(gate), upload_dir_(std::move(upload_dir)) {
  std::error_code ec;
  std::filesystem::create_directories(upload_dir_, ec);  // if it fails, each Write says so
}

grpc::Status ByteStreamService::Read(grpc::ServerContext* context,
                                     const google::bytestream::ReadRequest* request,
                                     grpc::ServerWriter<google::bytestream::ReadResponse>* writer) {
  if (auto admitted = gate_.admit(*context, Method::kRead); !admitted.ok()) return admitted;
  auto resource = parse_read_resource(request->resource_name());
  if (!resource.ok()) return to_grpc(resource.error());
  const cas::Digest& digest = resource->digest;
  if (request->read_limit() < 0) {
    return invalid("read_limit " + std::to_string(request->read_limit()) + " is negative");
  }
  // compressed-blobs: read_offset is in the uncompressed bytes, and a limit
  // is not allowed (the API).
  if (resource->zstd && request->read_limit() != 0) {
    return invalid("read_limit must be 0 when reading compressed-blobs");
  }
  if (request->read_offset() < 0 ||
      static_cast<std::uint64_t>(request->read_offset()) > digest.size) {
    return {grpc::StatusCode::OUT_OF_RANGE, "read_offset " +
                                                std::to_string(request->read_offset()) +
                                                " is outside blob " + digest.to_string()};
  }
  // A blob stored as a file is streamed from it, hashed on the way (the
  // store's lock is held for the open only); a small one, stored inline,
  // is read whole and verified by the store.
  std::optional<base::UniqueFd> fd;
  std::optional<std::string> blob;
  if (is_empty_blob(digest)) {
    blob.emplace();
  } else {
    const Status opened = store_.with([&](cas::Store& s) -> Status {
      auto file = s.open_file_blob(digest);
      if (!file.ok()) return file.error();
      if (*file) {
        fd = std::move(**file);
        return {};
      }
      auto inline_blob = s.get(digest);
      if (!inline_blob.ok()) return inline_blob.error();
      blob = std::move(*inline_blob);
      return {};
    });
    if (!opened.ok()) return to_grpc(opened.error());
  }
  if (!fd && !blob) return {grpc::StatusCode::NOT_FOUND, not_found_message(digest)};
  BlobSender sender(writer, resource->zstd, static_cast<std::uint64_t>(request->read_offset()),
                    static_cast<std::uint64_t>(request->read_limit()), digest.size);
  if (auto started = sender.start(); !started.ok()) return started;
  if (blob) {
    const std::string_view bytes(*blob);
    for (std::size_t at = 0; at < bytes.size(); at += kByteStreamChunk) {
      if (auto sent = sender.add(bytes.substr(at, kByteStreamChunk)); !sent.ok()) return sent;
    }
    return sender.finish();
  }
  cas::Hasher hasher(cas::DigestFunction::kSha256);
  std::string buffer(kByteStreamChunk, '\0');
  std::uint64_t total = 0;
  while (true) {
    const ssize_t n = ::read(fd->get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return to_grpc(base::os_error(errno, "cannot read blob " + digest.to_string()));
    if (n == 0) break;
    const std::string_view piece(buffer.data(), static_cast<std::size_t>(n));
    hasher.update(piece);
    total += piece.size();
    if (total > digest.size) break;
    if (auto sent = sender.add(piece); !sent.ok()) return sent;
  }
  if (total != digest.size || hasher.finish() != digest) {
    // What was sent is not the blob: the stream ends in an error, never OK,
    // and the store loses the damaged file.
    store_.with([&](cas::Store& s) { s.drop_corrupt(digest); });
    return {grpc::StatusCode::DATA_LOSS,
            "blob " + digest.to_string() + " was damaged in the store and has been removed"};
  }
  return sender.finish();
}

grpc::Status ByteStreamService::Write(grpc::ServerContext* context,
                                      grpc::ServerReader<google::bytestream::WriteRequest>* reader,
                                      google::bytestream::WriteResponse* response) {
  if (auto admitted = gate_.admit(*context, Method::kWrite); !admitted.ok()) return admitted;
  google::bytestream::WriteRequest request;
  if (!reader->Read(&request)) return invalid("the write stream carried no request");
  const std::string name = request.resource_name();
  auto resource = parse_write_resource(name);
  if (!resource.ok()) return to_grpc(resource.error());
  const cas::Digest& digest = resource->digest;
  // Already stored: the API's early answer, the blob's size (-1 for a
  // compressed upload, whose sent size the server cannot know).
  auto present = has_blob(store_, digest);
  if (!present.ok()) return to_grpc(present.error());
  if (*present) {
    response->set_committed_size(resource->zstd ? -1 : static_cast<std::int64_t>(digest.size));
    return grpc::Status::OK;
  }
  auto file = UploadFile::create(upload_dir_, digest, resource->zstd);
  if (!file.ok()) return to_grpc(file.error());
  UploadEntry entry(uploads_mutex_, uploads_, next_upload_, name);
  // Bytes received as sent (compressed for zstd): what write_offset counts.
  std::int64_t received = 0;
  while (true) {
    if (!request.resource_name().empty() && request.resource_name() != name) {
      return invalid("resource_name '" + request.resource_name().substr(0, 200) +
                     "' differs from the stream's first, '" + name + "'");
    }
    if (request.write_offset() != received) {
      return invalid("write_offset " + std::to_string(request.write_offset()) + " of " + name +
                     " is not " + std::to_string(received) +
                     ", the bytes received so far (uploads are not resumed: start at 0)");
    }
    Status appended = (*file)->append(request.data());
    if (!appended.ok()) return to_grpc(appended.error());
    received += static_cast<std::int64_t>(request.data().size());
    entry.set_committed(received);
    if (request.finish_write()) break;
    if (!reader->Read(&request)) {
      if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "the writer went away"};
      return invalid("the write stream of " + name + " ended without finish_write");
    }
  }
  Status finished = (*file)->finish();
  if (!finished.ok()) return to_grpc(finished.error());
  // Verified as it arrived: moved into the store, not hashed and copied again.
  const Status stored =
      store_.with([&](cas::Store& s) { return s.adopt_file(digest, (*file)->path()); });
  if (!stored.ok()) return to_grpc(stored.error());
  // The API: for compressed-blobs, committed_size counts the compressed
  // bytes received.
  response->set_committed_size(resource->zstd ? received : static_cast<std::int64_t>(digest.size));
  return grpc::Status::OK;
}

grpc::Status ByteStreamService::QueryWriteStatus(
    grpc::ServerContext* context, const google::bytestream::QueryWriteStatusRequest* request,
    google::bytestream::QueryWriteStatusResponse* response) {
  if (auto admitted = gate_.admit(*context, Method::kQueryWriteStatus); !admitted.ok()) {
    return admitted;
  }
  auto resource = parse_write_resource(request->resource_name());
  if (!resource.ok()) return to_grpc(resource.error());
  auto present = has_blob(store_, resource->digest);
  if (!present.ok()) return to_grpc(present.error());
  if (*present) {
    response->set_committed_size(static_cast<std::int64_t>(resource->digest.size));
    response->set_complete(true);
    return grpc::Status::OK;
  }
  // An upload not in progress (never started, or ended without its blob:
  // its bytes are gone) has 0 bytes committed, not NOT_FOUND: Bazel takes
  // NOT_FOUND as a final failure of the upload, and 0 as "start again".
  std::lock_guard lock(uploads_mutex_);
  const auto it = uploads_.find(request->resource_name());
  response->set_committed_size(it == uploads_.end() ? 0 : it->second.second);
  response->set_complete(false);
  return grpc::Status::OK;
}

}  // namespace kiln::reapi
