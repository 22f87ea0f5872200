// The storage services (cas_services.h) over a real gRPC server on loopback
// and a real SHA-256 store in a temporary directory, called through the
// generated client stubs: what a Bazel client would see.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cas/digest.h"
#include "cas/store.h"
#include "reapi/action_cache.h"
#include "reapi/cas_services.h"
#include "reapi/digests.h"
#include "tests/support/temp_dir.h"

namespace kiln::reapi {
namespace {

namespace bs = google::bytestream;
using grpc::StatusCode;

constexpr std::string_view kReadOnlyToken = "readonly-token-0123456789";
constexpr std::string_view kClientToken = "client-token-0123456789";

cas::Digest sha(std::string_view data) {
  return cas::digest_of(cas::DigestFunction::kSha256, data);
}
v2::Digest proto_digest(std::string_view data) { return to_proto(sha(data)); }

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// Compressible but not trivial: random words from a small vocabulary.
std::string text_bytes(std::size_t size, unsigned seed) {
  static constexpr std::string_view kWords[] = {"kiln ",  "grid ",  "blob ", "digest ",
                                                "tree\n", "store ", "zstd ", "bazel "};
  std::mt19937 rng(seed);
  std::string out;
  while (out.size() < size) out += kWords[rng() % 8];
  out.resize(size);
  return out;
}

std::string zstd_compress(std::string_view data, int level = 3) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string zstd_decompress(std::string_view data, std::size_t size) {
  std::string out(size, '\0');
  const std::size_t n = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  EXPECT_EQ(n, size);
  return out;
}

std::string blob_name(std::string_view data) { return "main/blobs/" + sha(data).to_string(); }
std::string zstd_blob_name(std::string_view data) {
  return "main/compressed-blobs/zstd/" + sha(data).to_string();
}
std::string upload_name(std::string_view data, std::string_view uuid = "0b3c5d5e-1111") {
  return "main/uploads/" + std::string(uuid) + "/blobs/" + sha(data).to_string();
}
std::string zstd_upload_name(std::string_view data, std::string_view uuid = "0b3c5d5e-2222") {
  return "main/uploads/" + std::string(uuid) + "/compressed-blobs/zstd/" + sha(data).to_string();
}

// A server with the three services, and stubs to call it.
class Grid {
 public:
  explicit Grid(std::vector<Token> tokens = {}, bool allow_updates = false)
      : gate_(std::move(tokens), allow_updates) {
    cas::StoreOptions options;
    options.dir = dir_.path() / "store";
    options.function = cas::DigestFunction::kSha256;
    options.durable = false;  // a test's store outlives no crash
    auto store = cas::Store::open(std::move(options));
    if (!store.ok()) throw std::runtime_error(store.error().message);
    store_ = std::make_unique<SharedStore>(std::move(*store));
    caps_ = std::make_unique<CapabilitiesService>(gate_, ServiceOptions{true});
    cas_ = std::make_unique<CasService>(*store_, gate_);
    bytestream_ = std::make_unique<ByteStreamService>(*store_, gate_, upload_dir());
    action_cache_ = std::make_unique<ActionCacheService>(*store_, gate_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(16 << 20);
    builder.RegisterService(caps_.get());
    builder.RegisterService(cas_.get());
    builder.RegisterService(bytestream_.get());
    builder.RegisterService(action_cache_.get());
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) throw std::runtime_error("the test server did not start");
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 << 20);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::InsecureChannelCredentials(), args);
    capabilities = v2::Capabilities::NewStub(channel);
    cas = v2::ContentAddressableStorage::NewStub(channel);
    bytestream = bs::ByteStream::NewStub(channel);
    action_cache = v2::ActionCache::NewStub(channel);
  }
  ~Grid() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5)); }

  std::filesystem::path upload_dir() const { return dir_.path() / "uploads"; }
  std::filesystem::path store_dir() const { return dir_.path() / "store"; }
  void put(std::string_view data) {
    auto stored = store_->with([&](cas::Store& s) { return s.put(data); });
    ASSERT_TRUE(stored.ok()) << stored.error().message;
  }
  bool has(std::string_view data) {
    auto there = store_->with([&](cas::Store& s) { return s.contains(sha(data)); });
    return there.ok() && *there;
  }

  std::unique_ptr<v2::Capabilities::Stub> capabilities;
  std::unique_ptr<v2::ContentAddressableStorage::Stub> cas;
  std::unique_ptr<bs::ByteStream::Stub> bytestream;
  std::unique_ptr<v2::ActionCache::Stub> action_cache;

 private:
  test_support::TempDir dir_{"kiln-reapi-test"};
  Gate gate_;
  std::unique_ptr<SharedStore> store_;
  std::unique_ptr<CapabilitiesService> caps_;
  std::unique_ptr<CasService> cas_;
  std::unique_ptr<ByteStreamService> bytestream_;
  std::unique_ptr<ActionCacheService> action_cache_;
  std::unique_ptr<grpc::Server> server_;
};

// A client context with a deadline (a server that waits where it should
// answer fails the test instead of hanging it) and, optionally, a token.
std::unique_ptr<grpc::ClientContext> context(std::string_view token = {}) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + std::string(token));
  return ctx;
}

struct ReadResult {
  grpc::Status status;
  std::string data;
  int messages = 0;
};

ReadResult read(Grid& grid, const std::string& name, std::int64_t offset = 0,
                std::int64_t limit = 0) {
  auto ctx = context();
  bs::ReadRequest request;
  request.set_resource_name(name);
  request.set_read_offset(offset);
  request.set_read_limit(limit);
  auto reader = grid.bytestream->Read(ctx.get(), request);
  ReadResult result;
  bs::ReadResponse response;
  while (reader->Read(&response)) {
    result.data += response.data();
    ++result.messages;
  }
  result.status = reader->Finish();
  return result;
}

struct WriteResult {
  grpc::Status status;
  std::int64_t committed_size = 0;
};

// Writes `data` (already compressed for a zstd name) in `chunk` pieces.
WriteResult write(Grid& grid, const std::string& name, std::string_view data,
                  std::size_t chunk = 1 << 20, std::string_view token = {}) {
  auto ctx = context(token);
  bs::WriteResponse response;
  auto writer = grid.bytestream->Write(ctx.get(), &response);
  std::size_t at = 0;
  do {
    bs::WriteRequest request;
    if (at == 0) request.set_resource_name(name);
    request.set_write_offset(static_cast<std::int64_t>(at));
    const auto piece = data.substr(at, chunk);
    request.set_data(piece.data(), piece.size());
    at += piece.size();
    request.set_finish_write(at == data.size());
    if (!writer->Write(request)) break;  // the server has answered already
  } while (at < data.size());
  writer->WritesDone();
  WriteResult result;
  result.status = writer->Finish();
  result.committed_size = response.committed_size();
  return result;
}

// ---- Capabilities ----

TEST(CapabilitiesService, AdvertisesSha256ZstdAndLimits) {
  Grid grid;
  auto ctx = context();
  v2::ServerCapabilities caps;
  ASSERT_TRUE(grid.capabilities->GetCapabilities(ctx.get(), {}, &caps).ok());
  const auto& cache = caps.cache_capabilities();
  ASSERT_EQ(cache.digest_functions_size(), 1);
  EXPECT_EQ(cache.digest_functions(0), v2::DigestFunction::SHA256);
  EXPECT_FALSE(cache.action_cache_update_capabilities().update_enabled());
  EXPECT_EQ(cache.max_batch_total_size_bytes(), kMaxBatchBytes);
  EXPECT_EQ(cache.symlink_absolute_path_strategy(), v2::SymlinkAbsolutePathStrategy::DISALLOWED);
  ASSERT_EQ(cache.supported_compressors_size(), 1);
  EXPECT_EQ(cache.supported_compressors(0), v2::Compressor::ZSTD);
  EXPECT_EQ(cache.supported_batch_update_compressors_size(), 0);
  ASSERT_EQ(cache.cache_priority_capabilities().priorities_size(), 1);
  const auto& exec = caps.execution_capabilities();
  EXPECT_TRUE(exec.exec_enabled());
  EXPECT_EQ(exec.digest_function(), v2::DigestFunction::SHA256);
  ASSERT_EQ(exec.digest_functions_size(), 1);
  ASSERT_EQ(exec.execution_priority_capabilities().priorities_size(), 1);
  EXPECT_EQ(exec.execution_priority_capabilities().priorities(0).min_priority(), -1000);
  EXPECT_EQ(exec.execution_priority_capabilities().priorities(0).max_priority(), 1000);
  EXPECT_EQ(caps.low_api_version().major(), 2);
  EXPECT_EQ(caps.low_api_version().minor(), 0);
  EXPECT_EQ(caps.high_api_version().major(), 2);
  EXPECT_EQ(caps.high_api_version().minor(), 0);
}

// ---- FindMissingBlobs ----

TEST(CasService, FindMissingReportsOnlyAbsentBlobs) {
  Grid grid;
  grid.put("present");
  v2::FindMissingBlobsRequest request;
  *request.add_blob_digests() = proto_digest("present");
  *request.add_blob_digests() = proto_digest("absent");
  *request.add_blob_digests() = proto_digest("");  // the empty blob is always present
  *request.add_blob_digests() = proto_digest("absent");
  auto ctx = context();
  v2::FindMissingBlobsResponse response;
  ASSERT_TRUE(grid.cas->FindMissingBlobs(ctx.get(), request, &response).ok());
  ASSERT_EQ(response.missing_blob_digests_size(), 1);
  EXPECT_EQ(response.missing_blob_digests(0).hash(), sha("absent").hex());
  EXPECT_EQ(response.missing_blob_digests(0).size_bytes(), 6);
}

TEST(CasService, FindMissingRefusesMalformedDigests) {
  Grid grid;
  const std::string good = sha("x").hex();
  std::string upper = good;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string bad_hex = good;
  bad_hex[10] = 'g';
  struct Case {
    std::string hash;
    std::int64_t size;
  };
  for (const auto& bad : std::vector<Case>{
           {bad_hex, 1}, {good.substr(1), 1}, {upper, 1}, {good, -1}, {good + "0", 1}, {"", 0}}) {
    v2::FindMissingBlobsRequest request;
    *request.add_blob_digests() = proto_digest("first");
    auto* digest = request.add_blob_digests();
    digest->set_hash(bad.hash);
    digest->set_size_bytes(bad.size);
    auto ctx = context();
    v2::FindMissingBlobsResponse response;
    const auto status = grid.cas->FindMissingBlobs(ctx.get(), request, &response);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << bad.hash << "/" << bad.size;
    EXPECT_NE(status.error_message().find("blob_digests[1]"), std::string::npos)
        << status.error_message();
  }
}

TEST(CasService, RefusesOtherDigestFunctions) {
  Grid grid;
  for (const auto function : {v2::DigestFunction::SHA1, v2::DigestFunction::MD5}) {
    v2::FindMissingBlobsRequest request;
    request.set_digest_function(function);
    *request.add_blob_digests() = proto_digest("x");
    auto ctx = context();
    v2::FindMissingBlobsResponse response;
    const auto status = grid.cas->FindMissingBlobs(ctx.get(), request, &response);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find(v2::DigestFunction::Value_Name(function)),
              std::string::npos)
        << status.error_message();

    v2::BatchReadBlobsRequest read;
    read.set_digest_function(function);
    auto read_ctx = context();
    v2::BatchReadBlobsResponse read_response;
    EXPECT_EQ(grid.cas->BatchReadBlobs(read_ctx.get(), read, &read_response).error_code(),
              StatusCode::INVALID_ARGUMENT);
  }
  // SHA256 and UNKNOWN (a client older than the field) are SHA-256.
  for (const auto function : {v2::DigestFunction::SHA256, v2::DigestFunction::UNKNOWN}) {
    v2::FindMissingBlobsRequest request;
    request.set_digest_function(function);
    auto ctx = context();
    v2::FindMissingBlobsResponse response;
    EXPECT_TRUE(grid.cas->FindMissingBlobs(ctx.get(), request, &response).ok());
  }
}

// ---- BatchUpdateBlobs / BatchReadBlobs ----

v2::BatchUpdateBlobsRequest update_request(const std::vector<std::string>& blobs) {
  v2::BatchUpdateBlobsRequest request;
  for (const auto& blob : blobs) {
    auto* entry = request.add_requests();
    *entry->mutable_digest() = proto_digest(blob);
    entry->set_data(blob);
  }
  return request;
}

TEST(CasService, BatchUpdateThenBatchRead) {
  Grid grid;
  const std::vector<std::string> blobs = {"alpha", std::string(100000, 'b'), ""};
  auto ctx = context();
  v2::BatchUpdateBlobsResponse updated;
  ASSERT_TRUE(grid.cas->BatchUpdateBlobs(ctx.get(), update_request(blobs), &updated).ok());
  ASSERT_EQ(updated.responses_size(), 3);
  for (const auto& r : updated.responses()) EXPECT_EQ(r.status().code(), 0) << r.status().message();

  v2::BatchReadBlobsRequest request;
  for (const auto& blob : blobs) *request.add_digests() = proto_digest(blob);
  request.add_acceptable_compressors(v2::Compressor::ZSTD);  // identity is answered anyway
  auto read_ctx = context();
  v2::BatchReadBlobsResponse read;
  ASSERT_TRUE(grid.cas->BatchReadBlobs(read_ctx.get(), request, &read).ok());
  ASSERT_EQ(read.responses_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(read.responses(i).status().code(), 0);
    EXPECT_EQ(read.responses(i).compressor(), v2::Compressor::IDENTITY);
    EXPECT_EQ(read.responses(i).digest().hash(), sha(blobs[static_cast<std::size_t>(i)]).hex());
    EXPECT_EQ(read.responses(i).data(), blobs[static_cast<std::size_t>(i)]);
  }
}

TEST(CasService, BatchUpdateRefusesWrongEntriesAndStoresTheirNeighbours) {
  Grid grid;
  auto request = update_request({"left", "middle", "right", "short", "zipped"});
  request.mutable_requests(1)->set_data("MIDDLE");                    // same size, other bytes
  request.mutable_requests(3)->set_data("shorter");                   // other size
  request.mutable_requests(4)->set_compressor(v2::Compressor::ZSTD);  // not advertised
  auto ctx = context();
  v2::BatchUpdateBlobsResponse response;
  ASSERT_TRUE(grid.cas->BatchUpdateBlobs(ctx.get(), request, &response).ok());
  ASSERT_EQ(response.responses_size(), 5);
  EXPECT_EQ(response.responses(0).status().code(), 0);
  EXPECT_EQ(response.responses(1).status().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(response.responses(1).status().message().find("does not match its digest"),
            std::string::npos)
      << response.responses(1).status().message();
  EXPECT_EQ(response.responses(2).status().code(), 0);
  EXPECT_EQ(response.responses(3).status().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(response.responses(4).status().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(grid.has("left"));
  EXPECT_TRUE(grid.has("right"));
  EXPECT_FALSE(grid.has("middle"));
  EXPECT_FALSE(grid.has("MIDDLE"));
  EXPECT_FALSE(grid.has("short"));
  EXPECT_FALSE(grid.has("zipped"));
}

TEST(CasService, BatchUpdateRefusesABadDigestPerEntry) {
  Grid grid;
  auto request = update_request({"one", "two"});
  request.mutable_requests(0)->mutable_digest()->set_hash("nothex");
  auto ctx = context();
  v2::BatchUpdateBlobsResponse response;
  ASSERT_TRUE(grid.cas->BatchUpdateBlobs(ctx.get(), request, &response).ok());
  ASSERT_EQ(response.responses_size(), 2);
  EXPECT_EQ(response.responses(0).status().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(response.responses(1).status().code(), 0);
  EXPECT_TRUE(grid.has("two"));
}

TEST(CasService, BatchUpdateOverTheLimitStoresNothing) {
  Grid grid;
  std::vector<std::string> blobs;
  for (unsigned i = 0; i < 5; ++i) blobs.push_back(random_bytes(1 << 20, i));  // 5 MiB in all
  auto ctx = context();
  v2::BatchUpdateBlobsResponse response;
  const auto status = grid.cas->BatchUpdateBlobs(ctx.get(), update_request(blobs), &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("max_batch_total_size_bytes"), std::string::npos);
  for (const auto& blob : blobs) EXPECT_FALSE(grid.has(blob));
}

TEST(CasService, BatchReadAnswersNotFoundPerEntry) {
  Grid grid;
  grid.put("here");
  v2::BatchReadBlobsRequest request;
  *request.add_digests() = proto_digest("gone");
  *request.add_digests() = proto_digest("here");
  auto ctx = context();
  v2::BatchReadBlobsResponse response;
  ASSERT_TRUE(grid.cas->BatchReadBlobs(ctx.get(), request, &response).ok());
  ASSERT_EQ(response.responses_size(), 2);
  EXPECT_EQ(response.responses(0).status().code(), static_cast<int>(StatusCode::NOT_FOUND));
  EXPECT_TRUE(response.responses(0).data().empty());
  EXPECT_EQ(response.responses(1).status().code(), 0);
  EXPECT_EQ(response.responses(1).data(), "here");
}

TEST(CasService, BatchReadRefusesMoreThanTheLimit) {
  Grid grid;
  v2::BatchReadBlobsRequest request;
  auto* digest = request.add_digests();
  *digest = proto_digest("x");
  digest->set_size_bytes(kMaxBatchBytes + 1);
  auto ctx = context();
  v2::BatchReadBlobsResponse response;
  EXPECT_EQ(grid.cas->BatchReadBlobs(ctx.get(), request, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

// ---- GetTree ----

std::string serialized(const v2::Directory& directory) {
  std::string out;
  EXPECT_TRUE(directory.SerializeToString(&out));
  return out;
}

void add_dir(v2::Directory& parent, const std::string& name, std::string_view child) {
  auto* node = parent.add_directories();
  node->set_name(name);
  *node->mutable_digest() = proto_digest(child);
}

void add_file(v2::Directory& parent, const std::string& name, std::string_view content) {
  auto* node = parent.add_files();
  node->set_name(name);
  *node->mutable_digest() = proto_digest(content);
}

struct TreePage {
  grpc::Status status;
  std::vector<std::string> directories;  // serialized
  std::string next_page_token;
};

TreePage get_tree(Grid& grid, const v2::Digest& root, int page_size, const std::string& token) {
  v2::GetTreeRequest request;
  *request.mutable_root_digest() = root;
  request.set_page_size(page_size);
  request.set_page_token(token);
  auto ctx = context();
  auto reader = grid.cas->GetTree(ctx.get(), request);
  TreePage page;
  v2::GetTreeResponse response;
  while (reader->Read(&response)) {
    for (const auto& d : response.directories()) page.directories.push_back(serialized(d));
    page.next_page_token = response.next_page_token();
  }
  page.status = reader->Finish();
  return page;
}

// root -> {a -> {c}, b, b2 (= b), m (missing)}: four directories present,
// b sent once, m omitted.
struct ThreeLevels {
  std::string root, a, b, c;
};
ThreeLevels three_levels(Grid& grid) {
  v2::Directory c;
  add_file(c, "leaf.txt", "leaf");
  v2::Directory b;
  add_file(b, "b.txt", "bee");
  v2::Directory a;
  add_dir(a, "c", serialized(c));
  add_file(a, "a.txt", "ay");
  v2::Directory missing;
  add_file(missing, "lost.txt", "lost");
  v2::Directory root;
  add_dir(root, "a", serialized(a));
  add_dir(root, "b", serialized(b));
  add_dir(root, "b2", serialized(b));
  add_dir(root, "m", serialized(missing));
  ThreeLevels tree{serialized(root), serialized(a), serialized(b), serialized(c)};
  for (const auto* blob : {&tree.root, &tree.a, &tree.b, &tree.c}) grid.put(*blob);
  return tree;
}

TEST(CasGetTree, WalksThreeLevelsInOnePage) {
  Grid grid;
  const auto tree = three_levels(grid);
  const auto page = get_tree(grid, proto_digest(tree.root), 0, "");
  ASSERT_TRUE(page.status.ok()) << page.status.error_message();
  EXPECT_EQ(page.directories, (std::vector<std::string>{tree.root, tree.a, tree.b, tree.c}));
  EXPECT_EQ(page.next_page_token, "");
}

TEST(CasGetTree, PagesOneDirectoryAtATime) {
  Grid grid;
  const auto tree = three_levels(grid);
  std::vector<std::string> all;
  std::string token;
  int pages = 0;
  do {
    const auto page = get_tree(grid, proto_digest(tree.root), 1, token);
    ASSERT_TRUE(page.status.ok()) << page.status.error_message();
    EXPECT_LE(page.directories.size(), 1U);
    all.insert(all.end(), page.directories.begin(), page.directories.end());
    token = page.next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(all, (std::vector<std::string>{tree.root, tree.a, tree.b, tree.c}));
}

TEST(CasGetTree, MissingRootIsNotFoundAndBadTokensAreRefused) {
  Grid grid;
  EXPECT_EQ(get_tree(grid, proto_digest("no such directory"), 0, "").status.error_code(),
            StatusCode::NOT_FOUND);
  const auto tree = three_levels(grid);
  for (const std::string token : {"x", "-1", "1x", "99999999999999999999", "100"}) {
    EXPECT_EQ(get_tree(grid, proto_digest(tree.root), 1, token).status.error_code(),
              StatusCode::INVALID_ARGUMENT)
        << token;
  }
}

TEST(CasGetTree, RefusesABlobThatIsNotADirectory) {
  Grid grid;
  const std::string junk = "\xff\xff\xff not a protobuf";
  grid.put(junk);
  EXPECT_EQ(get_tree(grid, proto_digest(junk), 0, "").status.error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST(CasGetTree, EmptyRootIsTheEmptyDirectory) {
  Grid grid;  // the empty blob: present without being stored
  const auto page = get_tree(grid, proto_digest(""), 0, "");
  ASSERT_TRUE(page.status.ok()) << page.status.error_message();
  EXPECT_EQ(page.directories, std::vector<std::string>{""});
}

TEST(CasGetTree, SplitsALargePageIntoSeveralMessages) {
  Grid grid;
  v2::Directory root;
  std::vector<std::string> leaves;
  for (int i = 0; i < 40; ++i) {  // 40 directories of 100 kB: 4 MB, over one message's share
    v2::Directory leaf;
    add_file(leaf, std::to_string(i) + std::string(100000, 'n'), "content");
    leaves.push_back(serialized(leaf));
    grid.put(leaves.back());
    add_dir(root, "d" + std::to_string(i), leaves.back());
  }
  grid.put(serialized(root));
  v2::GetTreeRequest request;
  *request.mutable_root_digest() = proto_digest(serialized(root));
  auto ctx = context();
  auto reader = grid.cas->GetTree(ctx.get(), request);
  v2::GetTreeResponse response;
  int messages = 0;
  std::size_t directories = 0;
  while (reader->Read(&response)) {
    ++messages;
    directories += static_cast<std::size_t>(response.directories_size());
    EXPECT_LT(response.ByteSizeLong(), std::size_t{4} << 20);
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(directories, 41U);
  EXPECT_GE(messages, 2);
  EXPECT_EQ(response.next_page_token(), "");
}

// ---- ByteStream ----

TEST(ByteStream, WritesAndReadsTenMebibytes) {
  Grid grid;
  const std::string data = random_bytes(10 << 20, 1);
  const auto written = write(grid, upload_name(data), data, 1 << 20);
  ASSERT_TRUE(written.status.ok()) << written.status.error_message();
  EXPECT_EQ(written.committed_size, static_cast<std::int64_t>(data.size()));
  EXPECT_TRUE(grid.has(data));
  const auto read_back = read(grid, blob_name(data));
  ASSERT_TRUE(read_back.status.ok()) << read_back.status.error_message();
  EXPECT_TRUE(read_back.data == data);
  EXPECT_EQ(read_back.messages, 10);  // kByteStreamChunk pieces
  EXPECT_TRUE(std::filesystem::is_empty(grid.upload_dir()));
}

TEST(ByteStream, WritesAndReadsZstd) {
  Grid grid;
  const std::string data = text_bytes(10 << 20, 2);
  const std::string compressed = zstd_compress(data);
  ASSERT_LT(compressed.size(), data.size() / 2);
  const auto written = write(grid, zstd_upload_name(data), compressed, 100000);
  ASSERT_TRUE(written.status.ok()) << written.status.error_message();
  EXPECT_EQ(written.committed_size, static_cast<std::int64_t>(compressed.size()));
  EXPECT_TRUE(grid.has(data));

  const auto read_back = read(grid, zstd_blob_name(data));
  ASSERT_TRUE(read_back.status.ok()) << read_back.status.error_message();
  EXPECT_LT(read_back.data.size(), data.size() / 2);
  EXPECT_TRUE(zstd_decompress(read_back.data, data.size()) == data);

  // compressed-blobs: the offset is in the uncompressed bytes; no limit.
  const auto tail = read(grid, zstd_blob_name(data), 1000);
  ASSERT_TRUE(tail.status.ok()) << tail.status.error_message();
  EXPECT_TRUE(zstd_decompress(tail.data, data.size() - 1000) == data.substr(1000));
  EXPECT_EQ(read(grid, zstd_blob_name(data), 0, 10).status.error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST(ByteStream, ZstdWriteOfSeveralFramesInTinyPieces) {
  Grid grid;
  const std::string data = text_bytes(300000, 3);
  const std::string compressed =
      zstd_compress(data.substr(0, 100000), 1) + zstd_compress(data.substr(100000), 19);
  const auto written = write(grid, zstd_upload_name(data), compressed, 7);
  ASSERT_TRUE(written.status.ok()) << written.status.error_message();
  EXPECT_TRUE(grid.has(data));
}

TEST(ByteStream, RefusesWrongBytesAndStoresNothing) {
  Grid grid;
  const std::string data = random_bytes(3 << 20, 4);
  std::string wrong = data;
  wrong[12345] ^= 1;
  const auto written = write(grid, upload_name(data), wrong);
  EXPECT_EQ(written.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(written.status.error_message().find("does not match its digest"), std::string::npos)
      << written.status.error_message();
  EXPECT_FALSE(grid.has(data));
  EXPECT_FALSE(grid.has(wrong));
  EXPECT_TRUE(std::filesystem::is_empty(grid.upload_dir()));

  const auto shorter = write(grid, upload_name(data), std::string_view(data).substr(1));
  EXPECT_EQ(shorter.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(grid.has(data));

  // zstd bytes that do not decompress, and a frame cut short.
  const auto garbage = write(grid, zstd_upload_name(data), "definitely not zstd");
  EXPECT_EQ(garbage.status.error_code(), StatusCode::INVALID_ARGUMENT);
  const std::string frame = zstd_compress(data);
  const auto cut = write(grid, zstd_upload_name(data), std::string_view(frame).substr(0, 1000));
  EXPECT_EQ(cut.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(grid.has(data));
}

// Sends one request, without finish_write, and waits for the server's
// answer: an answer at all shows the server did not wait for the rest.
WriteResult write_once(Grid& grid, const std::string& name, std::string_view data) {
  auto ctx = context();
  bs::WriteResponse response;
  auto writer = grid.bytestream->Write(ctx.get(), &response);
  bs::WriteRequest request;
  request.set_resource_name(name);
  request.set_data(data.data(), data.size());
  writer->Write(request);
  WriteResult result;
  result.status = writer->Finish();
  result.committed_size = response.committed_size();
  return result;
}

TEST(ByteStream, RefusesTooManyBytesAtOnce) {
  Grid grid;
  const std::string data = "twelve bytes";
  const auto plain = write_once(grid, upload_name(data), data + "and more");
  EXPECT_EQ(plain.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(plain.status.error_message().find("more than the 12 bytes"), std::string::npos)
      << plain.status.error_message();

  // A zip bomb: 64 MiB of zeros in a few kilobytes, sent for a 1 MiB blob.
  const std::string small(1 << 20, '\0');
  const std::string bomb = zstd_compress(std::string(64 << 20, '\0'), 1);
  ASSERT_LT(bomb.size(), 16U << 10);
  const auto zipped = write_once(grid, zstd_upload_name(small), bomb);
  EXPECT_EQ(zipped.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(zipped.status.error_message().find("more than"), std::string::npos)
      << zipped.status.error_message();
  EXPECT_FALSE(grid.has(small));
  EXPECT_TRUE(std::filesystem::is_empty(grid.upload_dir()));
}

TEST(ByteStream, RefusesAWriteOffsetJumpAndAnotherName) {
  Grid grid;
  const std::string data = "0123456789abcdef";
  for (int variant = 0; variant < 3; ++variant) {
    auto ctx = context();
    bs::WriteResponse response;
    auto writer = grid.bytestream->Write(ctx.get(), &response);
    bs::WriteRequest first;
    first.set_resource_name(upload_name(data));
    first.set_data(data.substr(0, 4));
    ASSERT_TRUE(writer->Write(first));
    bs::WriteRequest second;
    second.set_write_offset(variant == 0 ? 8 : 4);  // a jump over bytes 4..7
    if (variant == 1) second.set_resource_name(upload_name("other"));
    if (variant == 2) second.set_resource_name(upload_name(data));  // repeating it is fine
    second.set_data(data.substr(4));
    second.set_finish_write(true);
    writer->Write(second);
    writer->WritesDone();
    const auto status = writer->Finish();
    if (variant == 2) {
      EXPECT_TRUE(status.ok()) << status.error_message();
    } else {
      EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << variant;
      EXPECT_FALSE(grid.has(data));
    }
  }
  // A first write_offset past 0: this server does not resume.
  auto ctx = context();
  bs::WriteResponse response;
  auto writer = grid.bytestream->Write(ctx.get(), &response);
  bs::WriteRequest request;
  request.set_resource_name(upload_name("resumed"));
  request.set_write_offset(3);
  request.set_data("umed");
  request.set_finish_write(true);
  writer->Write(request);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST(ByteStream, ReadsWithOffsetAndLimit) {
  Grid grid;
  const std::string data = random_bytes(3 << 20, 5);
  grid.put(data);
  auto r = read(grid, blob_name(data), 100, 50);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.data, data.substr(100, 50));
  r = read(grid, blob_name(data), (1 << 20) - 10);  // to the end, across chunks
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.data == data.substr((1 << 20) - 10));
  EXPECT_EQ(r.messages, 3);
  r = read(grid, blob_name(data), static_cast<std::int64_t>(data.size()));  // empty, not an error
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.data.empty());
  r = read(grid, blob_name(data), 10,
           static_cast<std::int64_t>(data.size()));  // limit past the end
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.data == data.substr(10));
  EXPECT_EQ(
      read(grid, blob_name(data), static_cast<std::int64_t>(data.size()) + 1).status.error_code(),
      StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(read(grid, blob_name(data), -1).status.error_code(), StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(read(grid, blob_name(data), 0, -1).status.error_code(), StatusCode::INVALID_ARGUMENT);
}

// A blob stored as a file (6 MiB: over the store's 4 MiB threshold) is
// streamed from its file, offsets and limits included, and one damaged on
// disk ends the stream DATA_LOSS, never OK, and leaves the store.
TEST(ByteStream, StreamsFileBlobsAndRefusesADamagedOne) {
  Grid grid;
  const std::string data = random_bytes(6 << 20, 9);
  grid.put(data);
  auto r = read(grid, blob_name(data), (5 << 20) + 3, 1000);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(r.data == data.substr((5 << 20) + 3, 1000));
  r = read(grid, blob_name(data), (1 << 20) - 1);
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.data == data.substr((1 << 20) - 1));
  r = read(grid, zstd_blob_name(data), 4096);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(zstd_decompress(r.data, data.size() - 4096) == data.substr(4096));

  const cas::Digest d = sha(data);
  const auto file =
      grid.store_dir() / "files" / d.hex().substr(0, 2) / (d.hex() + "_" + std::to_string(d.size));
  ASSERT_TRUE(std::filesystem::exists(file));
  {
    std::fstream damage(file, std::ios::in | std::ios::out | std::ios::binary);
    damage.seekp(12345);
    damage.put(static_cast<char>(data[12345] ^ 1));
  }
  r = read(grid, blob_name(data));
  EXPECT_EQ(r.status.error_code(), StatusCode::DATA_LOSS) << r.status.error_message();
  EXPECT_FALSE(grid.has(data));
  EXPECT_EQ(read(grid, blob_name(data)).status.error_code(), StatusCode::NOT_FOUND);
}

TEST(ByteStream, ReadOfAMissingBlobIsNotFound) {
  Grid grid;
  EXPECT_EQ(read(grid, blob_name("never stored")).status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(read(grid, zstd_blob_name("never stored")).status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(read(grid, "main/blobs/nothex/12").status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(read(grid, "main/compressed-blobs/brotli/" + sha("x").to_string()).status.error_code(),
            StatusCode::INVALID_ARGUMENT);
  // The empty blob is always there.
  const auto empty = read(grid, blob_name(""));
  EXPECT_TRUE(empty.status.ok());
  EXPECT_TRUE(empty.data.empty());
}

TEST(ByteStream, WriteOfAPresentBlobIsAnsweredAtOnce) {
  Grid grid;
  const std::string data = random_bytes(2 << 20, 6);
  grid.put(data);
  // Only the first of two megabytes is sent, without finish_write.
  const auto plain = write_once(grid, upload_name(data), std::string_view(data).substr(0, 1 << 20));
  ASSERT_TRUE(plain.status.ok()) << plain.status.error_message();
  EXPECT_EQ(plain.committed_size, static_cast<std::int64_t>(data.size()));
  // Compressed: -1 (the API), as the server cannot know the compressed size.
  const auto zipped = write_once(grid, zstd_upload_name(data), "whatever");
  ASSERT_TRUE(zipped.status.ok()) << zipped.status.error_message();
  EXPECT_EQ(zipped.committed_size, -1);
  // The empty blob is present without being stored.
  const auto empty = write_once(grid, upload_name(""), "");
  ASSERT_TRUE(empty.status.ok());
  EXPECT_EQ(empty.committed_size, 0);
}

bs::QueryWriteStatusResponse query(Grid& grid, const std::string& name, grpc::Status* status) {
  auto ctx = context();
  bs::QueryWriteStatusRequest request;
  request.set_resource_name(name);
  bs::QueryWriteStatusResponse response;
  *status = grid.bytestream->QueryWriteStatus(ctx.get(), request, &response);
  return response;
}

TEST(ByteStream, QueryWriteStatusFollowsAnUpload) {
  Grid grid;
  const std::string data = random_bytes(100000, 7);
  const std::string name = upload_name(data);
  grpc::Status status;
  auto before = query(grid, name, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(before.committed_size(), 0);  // unknown: start from 0
  EXPECT_FALSE(before.complete());

  auto ctx = context();
  bs::WriteResponse response;
  auto writer = grid.bytestream->Write(ctx.get(), &response);
  bs::WriteRequest first;
  first.set_resource_name(name);
  first.set_data(data.substr(0, 40000));
  ASSERT_TRUE(writer->Write(first));
  // The server takes the request on its own thread: wait until it shows.
  bs::QueryWriteStatusResponse during;
  for (int i = 0; i < 500 && during.committed_size() != 40000; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    during = query(grid, name, &status);
    ASSERT_TRUE(status.ok());
  }
  EXPECT_EQ(during.committed_size(), 40000);
  EXPECT_FALSE(during.complete());

  bs::WriteRequest rest;
  rest.set_write_offset(40000);
  rest.set_data(data.substr(40000));
  rest.set_finish_write(true);
  ASSERT_TRUE(writer->Write(rest));
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  const auto after = query(grid, name, &status);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(after.complete());
  EXPECT_EQ(after.committed_size(), static_cast<std::int64_t>(data.size()));

  query(grid, "main/blobs/" + sha(data).to_string(), &status);  // not a write name
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST(ByteStream, CancelledWriteLeavesNothing) {
  Grid grid;
  const std::string data = random_bytes(200000, 8);
  const std::string name = upload_name(data);
  {
    auto ctx = context();
    bs::WriteResponse response;
    auto writer = grid.bytestream->Write(ctx.get(), &response);
    bs::WriteRequest first;
    first.set_resource_name(name);
    first.set_data(data.substr(0, 100000));
    ASSERT_TRUE(writer->Write(first));
    grpc::Status status;
    for (int i = 0; i < 500 && query(grid, name, &status).committed_size() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ctx->TryCancel();
    EXPECT_EQ(writer->Finish().error_code(), StatusCode::CANCELLED);
  }
  // The server notices the cancellation on its own thread.
  for (int i = 0; i < 500 && !std::filesystem::is_empty(grid.upload_dir()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(std::filesystem::is_empty(grid.upload_dir()));
  EXPECT_FALSE(grid.has(data));
  grpc::Status status;
  for (int i = 0; i < 500 && query(grid, name, &status).committed_size() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(query(grid, name, &status).committed_size(), 0);
}

// ---- the Gate ----

std::vector<Token> tokens() {
  return {Token{Role::kReadOnly, "ci-reader", std::string(kReadOnlyToken)},
          Token{Role::kClient, "dev", std::string(kClientToken)}};
}

TEST(CasGate, NoTokenIsUnauthenticated) {
  Grid grid(tokens());
  auto ctx = context();
  v2::ServerCapabilities caps;
  EXPECT_EQ(grid.capabilities->GetCapabilities(ctx.get(), {}, &caps).error_code(),
            StatusCode::UNAUTHENTICATED);
  auto find_ctx = context("not-a-token-of-this-server");
  v2::FindMissingBlobsResponse missing;
  EXPECT_EQ(grid.cas->FindMissingBlobs(find_ctx.get(), {}, &missing).error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(read(grid, blob_name("x")).status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(write(grid, upload_name("x"), "x").status.error_code(), StatusCode::UNAUTHENTICATED);
}

TEST(CasGate, ReadOnlyTokenMayReadButNotWrite) {
  Grid grid(tokens());
  auto find_ctx = context(kReadOnlyToken);
  v2::FindMissingBlobsResponse missing;
  EXPECT_TRUE(grid.cas->FindMissingBlobs(find_ctx.get(), {}, &missing).ok());

  auto update_ctx = context(kReadOnlyToken);
  v2::BatchUpdateBlobsResponse updated;
  EXPECT_EQ(
      grid.cas->BatchUpdateBlobs(update_ctx.get(), update_request({"x"}), &updated).error_code(),
      StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(write(grid, upload_name("y"), "y", 1 << 20, kReadOnlyToken).status.error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(grid.has("x"));
  EXPECT_FALSE(grid.has("y"));

  auto client_ctx = context(kClientToken);
  EXPECT_TRUE(grid.cas->BatchUpdateBlobs(client_ctx.get(), update_request({"x"}), &updated).ok());
  EXPECT_TRUE(write(grid, upload_name("y"), "y", 1 << 20, kClientToken).status.ok());
  EXPECT_TRUE(grid.has("x"));
  EXPECT_TRUE(grid.has("y"));
}

// ---- the action cache ----

constexpr std::string_view kWriterToken = "writer-token-0123456789";

std::vector<Token> three_tokens() {
  return {{Role::kReadOnly, "dash", std::string(kReadOnlyToken)},
          {Role::kClient, "ci", std::string(kClientToken)},
          {Role::kWriter, "cache", std::string(kWriterToken)}};
}

// A result naming an output file, stdout, and an output directory whose
// Tree holds one more file.
v2::ActionResult result_with_outputs(Grid& grid, bool upload) {
  v2::ActionResult r;
  r.set_exit_code(0);
  auto* f = r.add_output_files();
  f->set_path("out/a.o");
  *f->mutable_digest() = proto_digest("object");
  *r.mutable_stdout_digest() = proto_digest("hello\n");
  v2::Tree tree;
  auto* file = tree.mutable_root()->add_files();
  file->set_name("gen.h");
  *file->mutable_digest() = proto_digest("generated");
  const std::string tree_bytes = tree.SerializeAsString();
  auto* d = r.add_output_directories();
  d->set_path("gen");
  *d->mutable_tree_digest() = proto_digest(tree_bytes);
  if (upload) {
    for (std::string_view blob : {std::string_view("object"), std::string_view("hello\n"),
                                  std::string_view("generated"), std::string_view(tree_bytes)}) {
      grid.put(blob);
    }
  }
  return r;
}

grpc::Status update(Grid& grid, std::string_view token, const v2::ActionResult& result,
                    const std::string& action = "action") {
  auto ctx = context(token);
  v2::UpdateActionResultRequest request;
  *request.mutable_action_digest() = proto_digest(action);
  *request.mutable_action_result() = result;
  v2::ActionResult answer;
  return grid.action_cache->UpdateActionResult(ctx.get(), request, &answer);
}

grpc::Status get(Grid& grid, std::string_view token, v2::ActionResult* out,
                 const std::string& action = "action", bool inline_stdout = false) {
  auto ctx = context(token);
  v2::GetActionResultRequest request;
  *request.mutable_action_digest() = proto_digest(action);
  request.set_inline_stdout(inline_stdout);
  return grid.action_cache->GetActionResult(ctx.get(), request, out);
}

TEST(ActionCacheService, OnlyWritersUpdateAndEveryoneReads) {
  Grid grid(three_tokens());
  const v2::ActionResult result = result_with_outputs(grid, true);
  v2::ActionResult got;
  EXPECT_EQ(get(grid, kReadOnlyToken, &got).error_code(), StatusCode::NOT_FOUND);
  for (auto token : {kReadOnlyToken, kClientToken}) {
    const grpc::Status refused = update(grid, token, result);
    EXPECT_EQ(refused.error_code(), StatusCode::PERMISSION_DENIED) << token;
    EXPECT_NE(refused.error_message().find("writer"), std::string::npos) << refused.error_message();
  }
  EXPECT_EQ(get(grid, kReadOnlyToken, &got).error_code(), StatusCode::NOT_FOUND);  // nothing stored
  EXPECT_EQ(update(grid, "", result).error_code(), StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(update(grid, kWriterToken, result).ok());
  ASSERT_TRUE(get(grid, kReadOnlyToken, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), result.SerializeAsString());
  ASSERT_TRUE(get(grid, kClientToken, &got, "action", true).ok());
  EXPECT_EQ(got.stdout_raw(), "hello\n");
}

// Capabilities tell each caller whether it may write the action cache:
// Bazel uploads its local results only when they say so.
TEST(CapabilitiesService, UpdateEnabledIsTheCallersRight) {
  auto enabled = [](Grid& grid, std::string_view token) {
    auto ctx = context(token);
    v2::ServerCapabilities caps;
    EXPECT_TRUE(grid.capabilities->GetCapabilities(ctx.get(), {}, &caps).ok());
    return caps.cache_capabilities().action_cache_update_capabilities().update_enabled();
  };
  Grid tokens(three_tokens());
  EXPECT_FALSE(enabled(tokens, kReadOnlyToken));
  EXPECT_FALSE(enabled(tokens, kClientToken));
  EXPECT_TRUE(enabled(tokens, kWriterToken));
  Grid closed;
  EXPECT_FALSE(enabled(closed, ""));
  Grid open({}, true);
  EXPECT_TRUE(enabled(open, ""));
}

TEST(ActionCacheService, WithoutTokensUpdatesNeedAllowUpdates) {
  Grid closed;
  const grpc::Status refused = update(closed, "", result_with_outputs(closed, true));
  EXPECT_EQ(refused.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("--allow-updates"), std::string::npos);
  Grid open({}, true);
  EXPECT_TRUE(update(open, "", result_with_outputs(open, true)).ok());
}

TEST(ActionCacheService, AResultNamingAMissingBlobIsRefused) {
  Grid grid({}, true);
  const v2::ActionResult result = result_with_outputs(grid, false);
  grid.put("object");  // the rest is missing, the Tree among them
  const grpc::Status refused = update(grid, "", result);
  EXPECT_EQ(refused.error_code(), StatusCode::FAILED_PRECONDITION) << refused.error_message();
  v2::ActionResult got;
  EXPECT_EQ(get(grid, "", &got).error_code(), StatusCode::NOT_FOUND);
}

TEST(ActionCacheService, BadRequestsAreRefused) {
  Grid grid({}, true);
  v2::ActionResult result = result_with_outputs(grid, true);
  result.mutable_output_files(0)->set_path("../escape");
  EXPECT_EQ(update(grid, "", result).error_code(), StatusCode::INVALID_ARGUMENT);
  result = result_with_outputs(grid, true);
  result.mutable_stdout_digest()->set_hash("xyz");
  EXPECT_EQ(update(grid, "", result).error_code(), StatusCode::INVALID_ARGUMENT);
  auto ctx = context();
  v2::GetActionResultRequest request;
  *request.mutable_action_digest() = proto_digest("action");
  request.set_digest_function(v2::DigestFunction::MD5);
  v2::ActionResult got;
  EXPECT_EQ(grid.action_cache->GetActionResult(ctx.get(), request, &got).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace kiln::reapi
