// RemoteCas against a real CasService: a ROUTER and a store served from a
// thread, over inproc ZeroMQ, with a second, local store on the client side.
#include "cas/remote_cas.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "cas/cas_service.h"
#include "cas/store_test_util.h"
#include "cas/tree.h"

namespace kiln::cas {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using store_testing::make_blob;
using store_testing::TempDir;

constexpr auto kXxh = DigestFunction::kXxh3_128;

std::unique_ptr<Store> open_store(const fs::path& dir) {
  StoreOptions options;
  options.dir = dir;
  options.durable = false;
  options.map_size = 1u << 30;  // three stores at once, also under TSan
  auto store = Store::open(options);
  if (!store.ok()) {
    ADD_FAILURE() << store.error().message;
    return nullptr;
  }
  return std::move(store).value();
}

class RemoteCasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_store_ = open_store(dir_.path() / "server");
    ASSERT_TRUE(server_store_);
    service_ = std::make_unique<CasService>(*server_store_);
    auto router = proto::make_router(context_, "inproc://remote-cas-test");
    ASSERT_TRUE(router.ok());
    router_ = std::move(router).value();
    auto connection = proto::Connection::open(context_, "inproc://remote-cas-test", "client");
    ASSERT_TRUE(connection.ok());
    connection_ = std::move(connection).value();
    local_ = open_store(dir_.path() / "local");
    other_ = open_store(dir_.path() / "other");
    ASSERT_TRUE(server_store_ && local_ && other_);
  }
  void TearDown() override {
    stop_ = true;
    if (server_.joinable()) server_.join();
  }

  // Serves requests until TearDown. Before this, the test may use
  // server_store_ and service_ itself; after, only the thread does.
  void start_server() {
    server_ = std::thread([this] {
      const auto start = std::chrono::steady_clock::now();
      while (!stop_) {
        zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, milliseconds(10));
        while (auto in = proto::receive(router_, true)) {
          if (!in->message.ok()) continue;
          capnp::MallocMessageBuilder reply;
          const auto now =
              std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
          if (service_->handle(in->peer, in->message.value()->envelope(), reply, now)) {
            auto body = reply.getRoot<schema::Envelope>().getBody();
            if (tamper_ && body.which() == schema::Envelope::Body::DOWNLOAD_CHUNK &&
                body.getDownloadChunk().getData().size() > 0) {
              body.getDownloadChunk().getData()[0] ^= 1;  // a flipped bit on the way
            }
            proto::send(router_, in->peer, reply);
          }
        }
      }
    });
  }

  RemoteCas remote(RemoteCasOptions options = {}) { return RemoteCas(*connection_, kXxh, options); }

  TempDir dir_;
  zmq::context_t context_;
  std::unique_ptr<Store> server_store_;
  std::unique_ptr<CasService> service_;
  zmq::socket_t router_;
  std::unique_ptr<proto::Connection> connection_;
  std::unique_ptr<Store> local_;  // the client's store
  std::unique_ptr<Store> other_;  // a second client's, empty
  std::thread server_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> tamper_{false};
};

TEST_F(RemoteCasTest, BlobsRoundTrip) {
  start_server();
  std::vector<Digest> digests;
  std::vector<std::string> blobs;
  for (std::size_t size : {std::size_t{0}, std::size_t{1024}, proto::kBlobChunkBytes * 7 / 2}) {
    blobs.push_back(make_blob(size, size));
    digests.push_back(local_->put(std::string_view(blobs.back())).value());
  }
  RemoteCas cas = remote();
  auto missing = cas.find_missing(digests);
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_EQ(*missing, digests);

  {
    Status st = cas.upload(*local_, digests);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  missing = cas.find_missing(digests);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  // Again: the server has them and says so on the first chunk.
  {
    Status st = cas.upload(*local_, digests);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  {
    Status st = cas.download(*other_, digests);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  for (std::size_t i = 0; i < digests.size(); ++i) {
    auto got = other_->get(digests[i]);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(**got, blobs[i]);
  }
}

TEST_F(RemoteCasTest, CorruptDownloadIsNotKept) {
  const std::string data = make_blob(5, 5000);
  const Digest d = server_store_->put(std::string_view(data)).value();
  tamper_ = true;
  start_server();
  RemoteCas cas = remote();
  Status st = cas.download(*other_, std::span(&d, 1));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kCorrupt);
  EXPECT_FALSE(other_->contains(d).value());
}

TEST_F(RemoteCasTest, FindMissingIsBatched) {
  start_server();
  std::vector<Digest> digests;
  for (int i = 0; i < 10; ++i) digests.push_back(digest_of(kXxh, std::to_string(i)));
  RemoteCasOptions options;
  options.max_find_missing = 3;
  RemoteCas cas = remote(options);
  {
    Status st = cas.upload(*local_, {});
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  local_->put(std::string_view("4")).value();
  {
    Status st = cas.upload(*local_, std::span(&digests[4], 1));
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  auto missing = cas.find_missing(digests);
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_EQ(missing->size(), 9u);
}

TEST_F(RemoteCasTest, MissingBlobIsNotFound) {
  start_server();
  RemoteCas cas = remote();
  const Digest absent = digest_of(kXxh, "nowhere");
  Status down = cas.download(*other_, std::span(&absent, 1));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::kNotFound);
  Status up = cas.upload(*local_, std::span(&absent, 1));
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.error().code, Errc::kNotFound);
  // The connection is still usable afterwards.
  EXPECT_TRUE(cas.find_missing(std::span(&absent, 1)).ok());
}

TEST_F(RemoteCasTest, TreeUploadThenFetchAndMaterialize) {
  const fs::path src = dir_.path() / "src";
  fs::create_directories(src / "lib" / "deep" / "er");
  fs::create_directories(src / "empty");
  auto write = [](const fs::path& p, const std::string& data) { std::ofstream(p) << data; };
  write(src / "README", "read me");
  write(src / "lib" / "a.cpp", "int a;");
  write(src / "lib" / "copy.cpp", "int a;");  // same content, one blob
  write(src / "lib" / "deep" / "er" / "big.bin", make_blob(77, proto::kBlobChunkBytes * 2 + 3));
  write(src / "lib" / "deep" / "nothing", "");
  write(src / "run.sh", "#!/bin/sh\n");
  fs::permissions(src / "run.sh", fs::perms::owner_exec, fs::perm_options::add);
  fs::create_symlink("lib/a.cpp", src / "link");

  auto built = build_tree(src, kXxh);
  ASSERT_TRUE(built.ok()) << built.error().message;
  for (const auto& [digest, encoded] : built->directories) {
    ASSERT_TRUE(local_->put(digest, std::as_bytes(std::span(encoded.data(), encoded.size()))).ok());
  }
  for (const auto& [digest, path] : built->files) ASSERT_TRUE(local_->put_file(path).ok());

  auto blobs = RemoteCas::tree_blobs(*local_, built->root);
  ASSERT_TRUE(blobs.ok()) << blobs.error().message;
  EXPECT_EQ(blobs->size(), built->directories.size() + built->files.size());
  EXPECT_EQ(blobs->front(), built->root);

  start_server();
  RemoteCas cas = remote();
  auto missing = cas.find_missing(*blobs);
  ASSERT_TRUE(missing.ok());
  {
    Status st = cas.upload(*local_, *missing);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  {
    Status st = cas.fetch_tree(*other_, built->root);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  const fs::path dest = dir_.path() / "dest";
  fs::create_directories(dest);
  ASSERT_TRUE(materialize_tree(*other_, built->root, dest).ok());
  auto rebuilt = build_tree(dest, kXxh);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->root, built->root);
  std::ifstream big(dest / "lib" / "deep" / "er" / "big.bin", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(big), {}),
            make_blob(77, proto::kBlobChunkBytes * 2 + 3));

  // A second fetch has nothing to download; a missing root is kNotFound.
  {
    Status st = cas.fetch_tree(*other_, built->root);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  Status absent = cas.fetch_tree(*other_, digest_of(kXxh, "no such tree"));
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, Errc::kNotFound);
}

TEST_F(RemoteCasTest, ActionCacheRoundTrip) {
  const Digest out = server_store_->put(std::string_view("object")).value();
  ActionResult result;
  result.exit_code = 0;
  result.output_files = {{"out/a.o", out, true}};
  result.stdout_digest = out;
  result.stderr_digest = out;
  result.metadata = {"worker-9", 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const Digest action = digest_of(kXxh, "the action");
  ASSERT_TRUE(service_->put_action_result(action, result, {out}).ok());
  start_server();

  RemoteCas cas = remote();
  auto hit = cas.get_action_result(action);
  ASSERT_TRUE(hit.ok()) << hit.error().message;
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ(**hit, result);
  auto miss = cas.get_action_result(digest_of(kXxh, "another action"));
  ASSERT_TRUE(miss.ok());
  EXPECT_FALSE(miss->has_value());
}

TEST_F(RemoteCasTest, NoServerTimesOut) {
  RemoteCasOptions options;
  options.timeout = milliseconds(50);
  RemoteCas cas = remote(options);
  const Digest d = digest_of(kXxh, "x");
  auto missing = cas.find_missing(std::span(&d, 1));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kUnavailable);
}

}  // namespace
}  // namespace kiln::cas
