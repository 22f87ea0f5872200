// client_records.h: records as cas/record.h named records in a store of
// their own, under a digest of the namespace and the client's key.
#include "scheduler/client_records.h"

#include "cas/record.h"

namespace kiln::scheduler {
namespace {

// The record name inside the store; changing it (or the key's prefix)
// forgets every stored record.
constexpr const char* kRecordName = "client-record";
constexpr std::string_view kKeyPrefix = "kiln-client-record/1";

}  // namespace

Result<std::unique_ptr<ClientRecords>> ClientRecords::open(ClientRecordsOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return make_error(Errc::kIo, "cannot create " + options.dir.string() + ": " + ec.message());
  }
  cas::StoreOptions store_options;
  store_options.dir = options.dir;
  store_options.function = options.function;
  store_options.max_size = options.max_bytes;
  // Records are knowledge that the next run rebuilds: a machine crash may
  // cost the last ones, never a wrong one (reads are verified).
  store_options.durable = false;
  // A smaller address space than the central store's terabyte: records are
  // small, and the map is reserved per environment.
  store_options.map_size = std::uint64_t{64} << 30;
  store_options.warn = std::move(options.warn);
  auto store = cas::Store::open(std::move(store_options));
  if (!store.ok()) return store.error();
  return std::unique_ptr<ClientRecords>(new ClientRecords(std::move(store).value()));
}

cas::Digest ClientRecords::filed_under(std::string_view space, const cas::Digest& key) const {
  std::string material(kKeyPrefix);
  material += '\0';
  material += space;
  material += '\0';
  material += key.to_string();
  return cas::digest_of(store_->digest_function(), material);
}

Result<std::optional<std::string>> ClientRecords::get(std::string_view space,
                                                      const cas::Digest& key) {
  return cas::get_record(*store_, filed_under(space, key), kRecordName);
}

Status ClientRecords::put(std::string_view space, const cas::Digest& key,
                          std::string_view document) {
  if (document.size() > kMaxRecordBytes) {
    return make_error(Errc::kResourceExhausted,
                      "a record of " + std::to_string(document.size()) + " bytes is over the " +
                          std::to_string(kMaxRecordBytes) + "-byte limit");
  }
  return cas::put_record(*store_, filed_under(space, key), kRecordName, document);
}

Result<std::string> ClientRecords::put_if_absent(std::string_view space, const cas::Digest& key,
                                                 std::string_view document) {
  auto there = get(space, key);
  if (!there.ok()) return there.error();
  if (*there) return std::move(**there);
  if (auto stored = put(space, key, document); !stored.ok()) return stored.error();
  return std::string(document);
}

}  // namespace kiln::scheduler
