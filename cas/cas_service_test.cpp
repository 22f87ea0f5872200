// CasService driven directly with request envelopes (no sockets): the
// upload/download rules of PROTOCOL.md section 4 and what a hostile or
// careless peer gets for breaking them.
#include "cas/cas_service.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <functional>

#include "cas/store_test_util.h"
#include "cas/wire_model.h"
#include "proto/codec.h"

namespace kiln::cas {
namespace {

using std::chrono::milliseconds;
using store_testing::make_blob;
using store_testing::TempDir;
using Code = schema::Error::Code;
using Which = schema::Envelope::Body::Which;

constexpr auto kXxh = DigestFunction::kXxh3_128;
constexpr std::size_t kChunk = proto::kBlobChunkBytes;

class CasServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.dir = dir_.path() / "store";
    options.durable = false;
    options.map_size = 1u << 30;
    auto store = Store::open(options);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    open_service({});
  }
  void open_service(CasServiceOptions options) {
    options.spill_dir = dir_.path();
    service_ = std::make_unique<CasService>(*store_, options);
  }

  // Sends one request from `peer`; the reply stays in reply_.
  schema::Envelope::Reader call(const std::function<void(schema::Envelope::Body::Builder)>& fill,
                                const std::string& peer = "peer") {
    capnp::MallocMessageBuilder request;
    fill(proto::init_envelope(request, ++request_id_).getBody());
    reply_ = std::make_unique<capnp::MallocMessageBuilder>();
    EXPECT_TRUE(
        service_->handle(peer, request.getRoot<schema::Envelope>().asReader(), *reply_, now_));
    auto reply = reply_->getRoot<schema::Envelope>().asReader();
    EXPECT_EQ(reply.getRequestId(), request_id_);
    return reply;
  }

  schema::Envelope::Reader upload(const Digest& d, std::string_view data, std::uint64_t offset,
                                  bool last, const std::string& peer = "peer",
                                  schema::DigestFunction fn = schema::DigestFunction::XXH3128) {
    return call(
        [&](schema::Envelope::Body::Builder b) {
          auto c = b.initUploadChunk();
          c.setDigestFunction(fn);
          to_wire(d, c.initDigest());
          c.setOffset(offset);
          c.setData(
              capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(data.data()), data.size()));
          c.setLast(last);
        },
        peer);
  }

  // Uploads `data` in kChunk pieces; returns the reply to the last chunk
  // sent (stopping at the first error or early commit).
  schema::Envelope::Reader upload_all(const Digest& d, const std::string& data,
                                      const std::string& peer = "peer") {
    std::uint64_t offset = 0;
    for (;;) {
      const std::size_t n = std::min(kChunk, data.size() - offset);
      const bool last = offset + n == data.size();
      auto reply = upload(d, std::string_view(data).substr(offset, n), offset, last, peer);
      if (reply.getBody().which() != Which::UPLOAD_RESPONSE || last ||
          reply.getBody().getUploadResponse().getCommitted()) {
        return reply;
      }
      offset += n;
    }
  }

  schema::Envelope::Reader download(const Digest& d, std::uint64_t offset,
                                    std::uint64_t max_bytes = 0) {
    return call([&](schema::Envelope::Body::Builder b) {
      auto r = b.initDownloadRequest();
      r.setDigestFunction(schema::DigestFunction::XXH3128);
      to_wire(d, r.initDigest());
      r.setOffset(offset);
      r.setMaxBytes(max_bytes);
    });
  }

  static Code error_code(schema::Envelope::Reader reply) {
    EXPECT_EQ(reply.getBody().which(), Which::ERROR);
    return reply.getBody().getError().getCode();
  }
  static bool committed(schema::Envelope::Reader reply) {
    EXPECT_EQ(reply.getBody().which(), Which::UPLOAD_RESPONSE)
        << (reply.getBody().which() == Which::ERROR ? reply.getBody().getError().getMessage().cStr()
                                                    : "");
    return reply.getBody().which() == Which::UPLOAD_RESPONSE &&
           reply.getBody().getUploadResponse().getCommitted();
  }
  bool stored(const Digest& d) { return store_->contains(d).value(); }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CasService> service_;
  std::unique_ptr<capnp::MallocMessageBuilder> reply_;
  std::uint64_t request_id_ = 0;
  milliseconds now_{1'000'000};
};

TEST_F(CasServiceTest, UploadsAndDownloadsInChunks) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1024}, kChunk * 7 / 2}) {
    const std::string data = make_blob(1, size);
    const Digest d = digest_of(kXxh, data);
    EXPECT_TRUE(committed(upload_all(d, data))) << size;
    EXPECT_TRUE(stored(d));

    std::string back;
    for (;;) {
      auto reply = download(d, back.size());
      ASSERT_EQ(reply.getBody().which(), Which::DOWNLOAD_CHUNK)
          << reply.getBody().getError().getMessage().cStr();
      auto chunk = reply.getBody().getDownloadChunk();
      EXPECT_EQ(chunk.getOffset(), back.size());
      EXPECT_LE(chunk.getData().size(), kChunk);
      back.append(reinterpret_cast<const char*>(chunk.getData().begin()), chunk.getData().size());
      if (chunk.getLast()) break;
    }
    EXPECT_EQ(back, data);
  }
  EXPECT_EQ(service_->stats().uploads_committed, 3u);
  EXPECT_EQ(service_->stats().downloads, 3u);
  EXPECT_EQ(service_->pending_uploads(), 0u);
}

TEST_F(CasServiceTest, SpilledUploadIsVerifiedToo) {
  CasServiceOptions options;
  options.spill_threshold = kChunk;  // 3.5 MiB goes to a temporary file
  open_service(options);
  const std::string data = make_blob(2, kChunk * 7 / 2);
  const Digest d = digest_of(kXxh, data);
  std::string forged = data;
  forged[kChunk + 5] ^= 1;
  EXPECT_EQ(error_code(upload_all(d, forged)), Code::DIGEST_MISMATCH);
  EXPECT_FALSE(stored(d));
  EXPECT_TRUE(committed(upload_all(d, data)));
  EXPECT_TRUE(stored(d));
  // No temporary file is left behind.
  std::size_t left = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    left += entry.path().filename().string().starts_with("kiln-upload-");
  }
  EXPECT_EQ(left, 0u);
}

TEST_F(CasServiceTest, ForgedUploadIsRefusedAndNothingStored) {
  const std::string data = make_blob(3, 1024);
  const Digest d = digest_of(kXxh, data);
  std::string forged = data;
  forged[10] ^= 1;
  EXPECT_EQ(error_code(upload(d, forged, 0, true)), Code::DIGEST_MISMATCH);
  const std::string big = make_blob(4, kChunk + 100);
  const Digest big_digest = digest_of(kXxh, big);
  std::string big_forged = big;
  big_forged.back() ^= 1;
  EXPECT_EQ(error_code(upload_all(big_digest, big_forged)), Code::DIGEST_MISMATCH);
  EXPECT_FALSE(stored(d));
  EXPECT_FALSE(stored(big_digest));
  EXPECT_EQ(service_->stats().digest_mismatches, 2u);
  EXPECT_EQ(service_->pending_uploads(), 0u);
}

TEST_F(CasServiceTest, OutOfOrderChunkIsRefused) {
  const std::string data = make_blob(5, 3 * kChunk);
  const Digest d = digest_of(kXxh, data);
  const std::string_view v(data);
  EXPECT_FALSE(committed(upload(d, v.substr(0, kChunk), 0, false)));
  // A gap: skips the second chunk. The session is discarded.
  EXPECT_EQ(error_code(upload(d, v.substr(2 * kChunk), 2 * kChunk, true)), Code::INVALID_ARGUMENT);
  EXPECT_EQ(service_->pending_uploads(), 0u);
  // Continuing the discarded upload is refused; starting mid-blob too.
  EXPECT_EQ(error_code(upload(d, v.substr(kChunk, kChunk), kChunk, false)), Code::INVALID_ARGUMENT);
  // `last` must be set exactly on the chunk that reaches the end.
  EXPECT_EQ(error_code(upload(d, v.substr(0, kChunk), 0, true)), Code::INVALID_ARGUMENT);
  EXPECT_EQ(error_code(upload(d, data + "x", 0, true)), Code::INVALID_ARGUMENT);
  EXPECT_FALSE(stored(d));

  // Offset 0 again restarts an upload in progress.
  EXPECT_FALSE(committed(upload(d, v.substr(0, kChunk), 0, false)));
  EXPECT_FALSE(committed(upload(d, v.substr(kChunk, kChunk), kChunk, false)));
  EXPECT_TRUE(committed(upload_all(d, data)));
  EXPECT_EQ(service_->pending_uploads(), 0u);
}

TEST_F(CasServiceTest, OtherDigestFunctionIsRefused) {
  const std::string data = "hello";
  const Digest d = digest_of(kXxh, data);
  EXPECT_EQ(error_code(upload(d, data, 0, true, "peer", schema::DigestFunction::SHA256)),
            Code::INVALID_ARGUMENT);
  const Digest sha = digest_of(DigestFunction::kSha256, data);
  EXPECT_EQ(error_code(upload(sha, data, 0, true, "peer", schema::DigestFunction::SHA256)),
            Code::INVALID_ARGUMENT);
  // A 32-byte hash under xxh3-128.
  EXPECT_EQ(error_code(upload(sha, data, 0, true)), Code::INVALID_ARGUMENT);
  EXPECT_EQ(error_code(call([&](schema::Envelope::Body::Builder b) {
              auto r = b.initFindMissingRequest();
              r.setDigestFunction(static_cast<schema::DigestFunction>(7));
              to_wire(std::vector<Digest>{d}, r.initDigests(1));
            })),
            Code::INVALID_ARGUMENT);
  EXPECT_FALSE(stored(d));
}

TEST_F(CasServiceTest, FindMissingAndItsLimit) {
  const Digest present = store_->put(std::string_view("present")).value();
  const Digest absent = digest_of(kXxh, "absent");
  auto reply = call([&](schema::Envelope::Body::Builder b) {
    auto r = b.initFindMissingRequest();
    to_wire(std::vector<Digest>{present, absent}, r.initDigests(2));
  });
  ASSERT_EQ(reply.getBody().which(), Which::FIND_MISSING_RESPONSE);
  auto missing = from_wire(reply.getBody().getFindMissingResponse().getMissing(), kXxh);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, std::vector<Digest>{absent});

  std::vector<Digest> many(10001, absent);
  EXPECT_EQ(error_code(call([&](schema::Envelope::Body::Builder b) {
              to_wire(many, b.initFindMissingRequest().initDigests(10001));
            })),
            Code::INVALID_ARGUMENT);
}

TEST_F(CasServiceTest, IdlePartialUploadExpires) {
  const std::string data = make_blob(6, 2 * kChunk);
  const Digest d = digest_of(kXxh, data);
  EXPECT_FALSE(committed(upload(d, std::string_view(data).substr(0, kChunk), 0, false, "ghost")));
  EXPECT_EQ(service_->pending_uploads(), 1u);
  now_ += milliseconds(30'000);
  service_->expire(now_);
  EXPECT_EQ(service_->pending_uploads(), 1u);
  now_ += milliseconds(31'000);  // 61 s idle: gone
  service_->expire(now_);
  EXPECT_EQ(service_->pending_uploads(), 0u);
  EXPECT_EQ(error_code(upload(d, std::string_view(data).substr(kChunk), kChunk, true, "ghost")),
            Code::INVALID_ARGUMENT);

  // handle() sweeps by itself too; and peer_gone() forgets a peer at once.
  EXPECT_FALSE(committed(upload(d, std::string_view(data).substr(0, kChunk), 0, false, "ghost")));
  EXPECT_FALSE(committed(upload(d, std::string_view(data).substr(0, kChunk), 0, false, "other")));
  service_->peer_gone("other");
  EXPECT_EQ(service_->pending_uploads(), 1u);
  now_ += milliseconds(61'000);
  EXPECT_TRUE(committed(upload(digest_of(kXxh, "x"), "x", 0, true)));
  EXPECT_EQ(service_->pending_uploads(), 0u);
}

TEST_F(CasServiceTest, PendingBytesAndSessionsAreCapped) {
  CasServiceOptions options;
  options.max_pending_bytes = 3 * kChunk;
  options.max_sessions_per_peer = 1;
  options.max_blob_bytes = 8 * kChunk;
  open_service(options);
  const std::string a = make_blob(7, 2 * kChunk);
  const std::string b = make_blob(8, 2 * kChunk);
  const Digest da = digest_of(kXxh, a);
  const Digest db = digest_of(kXxh, b);
  EXPECT_FALSE(committed(upload(da, std::string_view(a).substr(0, kChunk), 0, false, "p1")));
  // A second session of p1: over the per-peer limit.
  EXPECT_EQ(error_code(upload(db, std::string_view(b).substr(0, kChunk), 0, false, "p1")),
            Code::RESOURCE_EXHAUSTED);
  // p2's 2 MiB would bring the pending total to 4 MiB > 3 MiB.
  EXPECT_EQ(error_code(upload(db, std::string_view(b).substr(0, kChunk), 0, false, "p2")),
            Code::RESOURCE_EXHAUSTED);
  Digest huge = da;
  huge.size = 9 * kChunk;
  EXPECT_EQ(error_code(upload(huge, std::string_view(a).substr(0, kChunk), 0, false, "p3")),
            Code::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(committed(upload(da, std::string_view(a).substr(kChunk), kChunk, true, "p1")));
  EXPECT_TRUE(committed(upload_all(db, b, "p2")));
}

TEST_F(CasServiceTest, PresentBlobCommitsAtOnce) {
  const std::string data = make_blob(9, 2 * kChunk);
  const Digest d = store_->put(std::string_view(data)).value();
  EXPECT_TRUE(committed(upload(d, std::string_view(data).substr(0, kChunk), 0, false)));
  EXPECT_EQ(service_->pending_uploads(), 0u);
}

TEST_F(CasServiceTest, DownloadErrors) {
  const Digest absent = digest_of(kXxh, "absent");
  EXPECT_EQ(error_code(download(absent, 0)), Code::NOT_FOUND);
  const Digest d = store_->put(std::string_view("0123456789")).value();
  EXPECT_EQ(error_code(download(d, 11)), Code::INVALID_ARGUMENT);
  auto part = download(d, 4, 3);
  ASSERT_EQ(part.getBody().which(), Which::DOWNLOAD_CHUNK);
  EXPECT_EQ(part.getBody().getDownloadChunk().getData().size(), 3u);
  EXPECT_FALSE(part.getBody().getDownloadChunk().getLast());
}

TEST_F(CasServiceTest, ActionCacheRoundTrip) {
  const Digest out = store_->put(std::string_view("object")).value();
  const Digest log = store_->put(std::string_view("")).value();
  ActionResult result;
  result.output_files = {{"a.o", out, false}};
  result.stdout_digest = log;
  result.stderr_digest = log;
  result.metadata.worker_id = "w1";
  const Digest action = digest_of(kXxh, "action");

  auto get = [&] {
    return call([&](schema::Envelope::Body::Builder b) {
      to_wire(action, b.initGetActionResultRequest().initActionDigest());
    });
  };
  auto miss = get();
  ASSERT_EQ(miss.getBody().which(), Which::GET_ACTION_RESULT_RESPONSE);
  EXPECT_FALSE(miss.getBody().getGetActionResultResponse().getFound());

  const Digest never = digest_of(kXxh, "never stored");
  EXPECT_EQ(service_->put_action_result(action, result, {out, never}).error().code,
            Errc::kNotFound);
  ASSERT_TRUE(service_->put_action_result(action, result, {out, log}).ok());
  auto hit = get();
  ASSERT_EQ(hit.getBody().which(), Which::GET_ACTION_RESULT_RESPONSE);
  ASSERT_TRUE(hit.getBody().getGetActionResultResponse().getFound());
  auto back = from_wire(hit.getBody().getGetActionResultResponse().getResult(), kXxh);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, result);
  EXPECT_EQ(service_->get_action_result(action).value(), result);
  EXPECT_EQ(service_->stats().action_cache_hits, 1u);
  EXPECT_EQ(service_->stats().action_cache_misses, 1u);
}

// A scheduler writes a poll turn's results in one transaction; an entry
// naming a blob the store lacks is left out, the others are stored.
TEST_F(CasServiceTest, ActionResultsInOneBatchLeaveOutTheIncomplete) {
  const Digest log = store_->put(std::string_view("")).value();
  const Digest never = digest_of(kXxh, "never stored");
  ActionResult result;
  result.stdout_digest = log;
  result.stderr_digest = log;
  std::vector<CasService::ActionResultEntry> entries;
  for (const char* name : {"a", "b", "c"}) {
    entries.push_back({digest_of(kXxh, name), result, {log}});
  }
  entries[1].referenced.push_back(never);
  auto left_out = service_->put_action_results(entries);
  ASSERT_TRUE(left_out.ok()) << left_out.error().message;
  EXPECT_EQ(*left_out, std::vector<std::size_t>{1});
  EXPECT_EQ(service_->get_action_result(entries[0].action).value(), result);
  EXPECT_EQ(service_->get_action_result(entries[1].action).value(), std::nullopt);
  EXPECT_EQ(service_->get_action_result(entries[2].action).value(), result);
  EXPECT_TRUE(service_->put_action_results({}).value().empty());
}

TEST_F(CasServiceTest, OtherKindsAreNotServed) {
  capnp::MallocMessageBuilder request;
  proto::init_envelope(request, 1).getBody().initHeartbeat();
  capnp::MallocMessageBuilder reply;
  EXPECT_FALSE(service_->handle("p", request.getRoot<schema::Envelope>().asReader(), reply, now_));
}

}  // namespace
}  // namespace kiln::cas
