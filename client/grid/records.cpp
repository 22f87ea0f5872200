// records.h: getRecords and putRecords over one Connection.
#include "client/grid/records.h"

#include <capnp/message.h>

#include <zmq.hpp>

#include "cas/wire_model.h"
#include "proto/transport.h"

namespace kiln::client::grid {
namespace {

using Which = schema::Envelope::Body::Which;

// What one request carries, at most (the scheduler's limits: 1,000 keys,
// documents of 4 MiB, bodies of 8 MiB).
constexpr std::size_t kKeysPerGet = 1000;
constexpr std::size_t kBytesPerPut = std::size_t{6} << 20;

capnp::Data::Reader data_of(std::string_view text) {
  return {reinterpret_cast<const kj::byte*>(text.data()), text.size()};
}

std::string text_of(capnp::Data::Reader data) {
  return {reinterpret_cast<const char*>(data.begin()), data.size()};
}

}  // namespace

struct GridRecords::Impl {
  GridOptions options;
  cas::DigestFunction function;
  std::chrono::milliseconds timeout;
  zmq::context_t context{1};
  std::unique_ptr<proto::Connection> connection;

  // One request and its reply, which must be `expected`.
  Result<std::unique_ptr<proto::Decoded>> call(const proto::Connection::Fill& fill,
                                               Which expected) {
    if (!connection) {
      auto opened = proto::Connection::open(context, options.endpoint, {}, {},
                                            options.curve ? &*options.curve : nullptr);
      if (!opened.ok()) return opened.error();
      connection = std::move(opened).value();
    }
    auto reply = connection->call(fill, timeout);
    if (!reply.ok()) {
      return make_error(Errc::kUnavailable, "scheduler " + options.endpoint +
                                                " did not answer: " + reply.error().message);
    }
    if (auto error = proto::error_of(**reply)) return *error;
    if ((*reply)->envelope().getBody().which() != expected)
      return make_error(Errc::kInternal, "the scheduler answered with another kind of message");
    return std::move(reply).value();
  }
};

GridRecords::GridRecords(GridOptions options, cas::DigestFunction function,
                         std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->function = function;
  impl_->timeout = timeout;
}

GridRecords::~GridRecords() = default;

Result<std::vector<std::optional<std::string>>> GridRecords::get(
    std::span<const cas::Digest> keys) {
  std::vector<std::optional<std::string>> found;
  found.reserve(keys.size());
  while (found.size() < keys.size()) {
    const auto batch =
        keys.subspan(found.size(), std::min(kKeysPerGet, keys.size() - found.size()));
    auto reply = impl_->call(
        [&](schema::Envelope::Builder e) {
          auto request = e.getBody().initGetRecordsRequest();
          request.setDigestFunction(cas::to_wire(impl_->function));
          auto list = request.initKeys(static_cast<unsigned>(batch.size()));
          for (unsigned i = 0; i < batch.size(); ++i) cas::to_wire(batch[i], list[i]);
        },
        Which::GET_RECORDS_RESPONSE);
    if (!reply.ok()) return reply.error();
    const auto records = (*reply)->envelope().getBody().getGetRecordsResponse().getRecords();
    // Fewer answers than keys: the rest did not fit, ask again. None, or
    // more than asked, is a scheduler that does not follow the protocol.
    if (records.size() == 0 || records.size() > batch.size())
      return make_error(Errc::kInternal, "the scheduler answered getRecords with " +
                                             std::to_string(records.size()) + " records for " +
                                             std::to_string(batch.size()) + " keys");
    for (auto record : records) {
      if (record.getFound())
        found.emplace_back(text_of(record.getDocument()));
      else
        found.emplace_back();
    }
  }
  return found;
}

Status GridRecords::put(std::span<const std::pair<cas::Digest, std::string>> records) {
  std::size_t next = 0;
  while (next < records.size()) {
    std::size_t end = next;
    std::size_t bytes = 0;
    while (end < records.size() &&
           (end == next || bytes + records[end].second.size() <= kBytesPerPut)) {
      bytes += records[end].second.size();
      ++end;
    }
    const auto batch = records.subspan(next, end - next);
    auto reply = impl_->call(
        [&](schema::Envelope::Builder e) {
          auto request = e.getBody().initPutRecordsRequest();
          request.setDigestFunction(cas::to_wire(impl_->function));
          auto list = request.initRecords(static_cast<unsigned>(batch.size()));
          for (unsigned i = 0; i < batch.size(); ++i) {
            cas::to_wire(batch[i].first, list[i].initKey());
            list[i].setDocument(data_of(batch[i].second));
          }
        },
        Which::PUT_RECORDS_RESPONSE);
    if (!reply.ok()) return reply.error();
    next = end;
  }
  return {};
}

Result<std::string> GridRecords::put_if_absent(const cas::Digest& key, std::string_view document) {
  auto reply = impl_->call(
      [&](schema::Envelope::Builder e) {
        auto request = e.getBody().initPutRecordsRequest();
        request.setDigestFunction(cas::to_wire(impl_->function));
        request.setIfAbsent(true);
        auto record = request.initRecords(1)[0];
        cas::to_wire(key, record.initKey());
        record.setDocument(data_of(document));
      },
      Which::PUT_RECORDS_RESPONSE);
  if (!reply.ok()) return reply.error();
  const auto stored = (*reply)->envelope().getBody().getPutRecordsResponse().getStored();
  if (stored.size() != 1)
    return make_error(Errc::kInternal, "the scheduler answered an ifAbsent put without the record");
  return text_of(stored[0]);
}

}  // namespace kiln::client::grid
