// Records in the local store: see store_records.h.
#include "client/testing/store_records.h"

#include "cas/digest.h"
#include "cas/record.h"

namespace kiln::client::testing {
cas::Digest record_key(cas::DigestFunction fn, const RecordKind& kind, std::string_view material) {
  std::string text(kind.kind);
  text += '\0';
  text += material;
  return cas::digest_of(fn, text);
}

std::optional<std::string> StoreRecords::get(const RecordKind& kind, std::string_view material) {
  std::lock_guard lock(shared_.mutex);
  const cas::Digest key = record_key(shared_.store.digest_function(), kind, material);
  auto record = cas::get_record(shared_.store, key, std::string(kind.name));
  return record.ok() ? std::move(record).value() : std::nullopt;
}

Status StoreRecords::put(const RecordKind& kind, std::string_view material,
                         std::string_view document) {
  std::lock_guard lock(shared_.mutex);
  const cas::Digest key = record_key(shared_.store.digest_function(), kind, material);
  return cas::put_record(shared_.store, key, std::string(kind.name), document);
}

std::optional<std::string> StoreRecords::put_if_absent(const RecordKind& kind,
                                                       std::string_view material,
                                                       std::string_view document) {
  std::lock_guard lock(shared_.mutex);
  const cas::Digest key = record_key(shared_.store.digest_function(), kind, material);
  const std::string name(kind.name);
  if (auto there = cas::get_record(shared_.store, key, name); there.ok() && *there)
    return std::move(**there);
  if (!cas::put_record(shared_.store, key, name, document).ok()) return std::nullopt;
  return std::string(document);
}

void StoreRecords::flush() {
  std::lock_guard lock(shared_.mutex);
  (void)shared_.store.flush_access();
}

}  // namespace kiln::client::testing
