// The API's storage services on the shared central store: Capabilities,
// ContentAddressableStorage (FindMissingBlobs, BatchUpdateBlobs,
// BatchReadBlobs, GetTree) and ByteStream (Read, Write, QueryWriteStatus,
// with compressed-blobs/zstd). Every call passes the Gate first; every
// digest, name and size from the client is checked before it is used, and
// nothing is stored whose bytes do not hash to the digest they came with.
#pragma once

#include <build/bazel/remote/execution/v2/remote_execution.grpc.pb.h>
#include <google/bytestream/bytestream.grpc.pb.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>

#include "reapi/shared_store.h"
#include "reapi/status.h"

namespace kiln::reapi {

// A batch (BatchUpdateBlobs, BatchReadBlobs) moves at most this many bytes
// of blobs: advertised as max_batch_total_size_bytes; the gRPC message
// limit is set above it for the framing. Larger blobs go by ByteStream.
inline constexpr std::int64_t kMaxBatchBytes = std::int64_t{4} << 20;
// How many digests one FindMissingBlobs or BatchReadBlobs may name, and how
// many directories one GetTree page returns at most.
inline constexpr int kMaxDigestsPerRequest = 100000;
inline constexpr int kMaxTreePage = 10000;
// ByteStream reads are sent in chunks of this size.
inline constexpr std::size_t kByteStreamChunk = std::size_t{1} << 20;

struct ServiceOptions {
  bool exec_enabled = true;  // Capabilities: is Execution served
};

class CapabilitiesService final
    : public build::bazel::remote::execution::v2::Capabilities::Service {
 public:
  CapabilitiesService(const Gate& gate, ServiceOptions options) : gate_(gate), options_(options) {}
  grpc::Status GetCapabilities(
      grpc::ServerContext* context,
      const build::bazel::remote::execution::v2::GetCapabilitiesRequest* request,
      build::bazel::remote::execution::v2::ServerCapabilities* response) override;

 private:
  const Gate& gate_;
  ServiceOptions options_;
};

class CasService final
    : public build::bazel::remote::execution::v2::ContentAddressableStorage::Service {
 public:
  CasService(SharedStore& store, const Gate& gate) : store_(store), gate_(gate) {}
  grpc::Status FindMissingBlobs(
      grpc::ServerContext* context,
      const build::bazel::remote::execution::v2::FindMissingBlobsRequest* request,
      build::bazel::remote::execution::v2::FindMissingBlobsResponse* response) override;
  grpc::Status BatchUpdateBlobs(
      grpc::ServerContext* context,
      const build::bazel::remote::execution::v2::BatchUpdateBlobsRequest* request,
      build::bazel::remote::execution::v2::BatchUpdateBlobsResponse* response) override;
  grpc::Status BatchReadBlobs(
      grpc::ServerContext* context,
      const build::bazel::remote::execution::v2::BatchReadBlobsRequest* request,
      build::bazel::remote::execution::v2::BatchReadBlobsResponse* response) override;
  grpc::Status GetTree(
      grpc::ServerContext* context,
      const build::bazel::remote::execution::v2::GetTreeRequest* request,
      grpc::ServerWriter<build::bazel::remote::execution::v2::GetTreeResponse>* writer) override;

 private:
  SharedStore& store_;
  const Gate& gate_;
};

class ByteStreamService final : public google::bytestream::ByteStream::Service {
 public:
  // Uploads are assembled in files under `upload_dir` (created if needed)
  // and stored once complete and verified.
  ByteStreamService(SharedStore& store, const Gate& gate, std::filesystem::path upload_dir);
  grpc::Status Read(grpc::ServerContext* context, const google::bytestream::ReadRequest* request,
                    grpc::ServerWriter<google::bytestream::ReadResponse>* writer) override;
  grpc::Status Write(grpc::ServerContext* context,
                     grpc::ServerReader<google::bytestream::WriteRequest>* reader,
                     google::bytestream::WriteResponse* response) override;
  grpc::Status QueryWriteStatus(grpc::ServerContext* context,
                                const google::bytestream::QueryWriteStatusRequest* request,
                                google::bytestream::QueryWriteStatusResponse* response) override;

 private:
  SharedStore& store_;
  const Gate& gate_;
  std::filesystem::path upload_dir_;
  // The uploads in progress, for QueryWriteStatus: resource name -> (the
  // Write that owns the entry, bytes received so far). Guarded by
  // uploads_mutex_, as is next_upload_ (the next Write's id).
  std::mutex uploads_mutex_;
  std::map<std::string, std::pair<std::uint64_t, std::int64_t>> uploads_;
  std::uint64_t next_upload_ = 0;
};

}  // namespace kiln::reapi
