// The scheduler's side of client records (client_records.h): getRecords
// and putRecords on the client endpoint. A read-only key may get, only a
// client key may put (access.h); every record is filed under the sender's
// namespace. Everything read here is untrusted: the digest function must
// be the store's, keys are checked by cas::from_wire, and counts and sizes
// are bounded before anything is stored.
#include <capnp/message.h>

#include <string>
#include <vector>

#include "cas/wire_model.h"
#include "scheduler/server_impl.h"

namespace kiln::scheduler {
namespace {

// Documents in one answer, at most: the rest of the keys are asked for
// again (the frame limit is 8 MiB, one record at most 4 MiB).
constexpr std::size_t kMaxAnswerBytes = std::size_t{6} << 20;

std::span<const std::byte> document_bytes(capnp::Data::Reader data) {
  return std::as_bytes(std::span(data.begin(), data.size()));
}

}  // namespace

std::string Server::Impl::record_space(const proto::Received& r) const {
  if (!authenticated) return {};
  const auto it = keys.find(r.user_id);
  return it == keys.end() ? std::string() : it->second.name;
}

bool Server::Impl::records_function_ok(schema::DigestFunction function) const {
  auto named = cas::from_wire(function);
  return named.ok() && *named == fn;
}

void Server::Impl::on_get_records(const proto::Received& r, std::uint64_t id,
                                  schema::GetRecordsRequest::Reader request, Millis now) {
  const auto refuse = [&](ErrorCode code, const std::string& why) {
    (void)reply_error(clients, r.peer, r.delimited, id, code, why);
  };
  if (!records_function_ok(request.getDigestFunction())) {
    refuse(ErrorCode::INVALID_ARGUMENT, "records are kept in " + std::string(cas::to_string(fn)));
    return;
  }
  if (request.getKeys().size() > kMaxRecordKeys) {
    bad_message(false, r.peer,
                "getRecordsRequest with " + std::to_string(request.getKeys().size()) + " keys",
                now);
    refuse(ErrorCode::INVALID_ARGUMENT,
           "at most " + std::to_string(kMaxRecordKeys) + " keys per getRecordsRequest");
    return;
  }
  auto wanted = cas::from_wire(request.getKeys(), fn);
  if (!wanted.ok()) {
    refuse(ErrorCode::INVALID_ARGUMENT, wanted.error().message);
    return;
  }
  const std::string space = record_space(r);
  std::vector<std::optional<std::string>> found;
  std::size_t bytes = 0;
  for (const cas::Digest& key : *wanted) {
    auto document = records->get(space, key);
    if (!document.ok()) {
      log(LogLevel::kWarn, "client records: " + document.error().message);
      refuse(ErrorCode::INTERNAL, "cannot read client records: " + document.error().message);
      return;
    }
    const std::size_t size = *document ? (*document)->size() : 0;
    // The first record always goes; later ones only while the answer fits.
    if (!found.empty() && bytes + size > kMaxAnswerBytes) break;
    bytes += size;
    found.push_back(std::move(*document));
  }
  capnp::MallocMessageBuilder m;
  auto list = proto::init_envelope(m, id).getBody().initGetRecordsResponse().initRecords(
      static_cast<unsigned>(found.size()));
  for (unsigned i = 0; i < found.size(); ++i) {
    if (!found[i]) continue;
    list[i].setFound(true);
    list[i].setDocument(
        capnp::Data::Reader(reinterpret_cast<const kj::byte*>(found[i]->data()), found[i]->size()));
  }
  (void)proto::send(clients, r.peer, m, r.delimited);
}

void Server::Impl::on_put_records(const proto::Received& r, std::uint64_t id,
                                  schema::PutRecordsRequest::Reader request, Millis now) {
  const auto refuse = [&](ErrorCode code, const std::string& why) {
    (void)reply_error(clients, r.peer, r.delimited, id, code, why);
  };
  if (!records_function_ok(request.getDigestFunction())) {
    refuse(ErrorCode::INVALID_ARGUMENT, "records are kept in " + std::string(cas::to_string(fn)));
    return;
  }
  // Check everything before storing anything: a bad request stores nothing.
  struct Entry {
    cas::Digest key;
    std::string_view document;
  };
  std::vector<Entry> entries;
  std::size_t bytes = 0;
  for (auto record : request.getRecords()) {
    auto key = cas::from_wire(record.getKey(), fn);
    if (!key.ok()) {
      refuse(ErrorCode::INVALID_ARGUMENT, key.error().message);
      return;
    }
    const auto document = document_bytes(record.getDocument());
    if (document.size() > kMaxRecordBytes) {
      bad_message(false, r.peer, "a client record of " + std::to_string(document.size()) + " bytes",
                  now);
      refuse(ErrorCode::RESOURCE_EXHAUSTED, "a record is at most " +
                                                std::to_string(kMaxRecordBytes) + " bytes, not " +
                                                std::to_string(document.size()));
      return;
    }
    bytes += document.size();
    entries.push_back(
        {*key, std::string_view(reinterpret_cast<const char*>(document.data()), document.size())});
  }
  const bool if_absent = request.getIfAbsent();
  // With ifAbsent the answer repeats what is stored, which must fit too.
  if (if_absent && entries.size() > 1 && bytes > kMaxAnswerBytes) {
    refuse(ErrorCode::RESOURCE_EXHAUSTED,
           "ifAbsent puts answer with what is stored: send at most " +
               std::to_string(kMaxAnswerBytes) + " bytes at once");
    return;
  }
  const std::string space = record_space(r);
  std::vector<std::string> stored;
  for (const Entry& e : entries) {
    if (if_absent) {
      auto now_stored = records->put_if_absent(space, e.key, e.document);
      if (!now_stored.ok()) {
        refuse(ErrorCode::INTERNAL, "cannot store a client record: " + now_stored.error().message);
        return;
      }
      stored.push_back(std::move(*now_stored));
    } else if (auto put = records->put(space, e.key, e.document); !put.ok()) {
      refuse(ErrorCode::INTERNAL, "cannot store a client record: " + put.error().message);
      return;
    }
  }
  capnp::MallocMessageBuilder m;
  auto list = proto::init_envelope(m, id).getBody().initPutRecordsResponse().initStored(
      static_cast<unsigned>(stored.size()));
  for (unsigned i = 0; i < stored.size(); ++i) {
    list.set(i, capnp::Data::Reader(reinterpret_cast<const kj::byte*>(stored[i].data()),
                                    stored[i].size()));
  }
  (void)proto::send(clients, r.peer, m, r.delimited);
}

}  // namespace kiln::scheduler
