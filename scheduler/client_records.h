// Client records: small documents clients keep for each other on the
// scheduler (shared CI knowledge, docs/testing.md): `kiln test`'s duration
// books, per-test pass records and slice plans, so that a fresh CI runner
// plans and skips with what earlier runners learnt.
//
// They live in a store of their own (<store>/client-records, an LMDB
// environment apart from the central store), so no record can ever be
// read as an action result, however its key was chosen: the action cache
// stays written by workers only (docs/security.md). Each record is filed
// under the namespace of the key that wrote it (the key's name in the
// authorized keys; "" without authentication): a client's records can
// mislead only the runners that share its name, never another team's.
// The store evicts the least recently used records past its size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/store.h"

namespace kiln::scheduler {

// The largest document a client may store (a duration book of ~50,000
// tests); it and the message around it fit one body frame.
inline constexpr std::size_t kMaxRecordBytes = std::size_t{4} << 20;
// Keys per getRecordsRequest.
inline constexpr std::size_t kMaxRecordKeys = 1000;

struct ClientRecordsOptions {
  std::filesystem::path dir;
  cas::DigestFunction function = cas::DigestFunction::kXxh3_128;
  std::uint64_t max_bytes = 0;  // 0: unlimited
  std::function<void(std::string_view)> warn;
};

class ClientRecords {
 public:
  static Result<std::unique_ptr<ClientRecords>> open(ClientRecordsOptions options);

  // The document under `key` in `space`; nullopt when there is none.
  Result<std::optional<std::string>> get(std::string_view space, const cas::Digest& key);
  // Stores `document` under `key` in `space`, replacing what was there.
  Status put(std::string_view space, const cas::Digest& key, std::string_view document);
  // Stores `document` unless a record is there already; returns the one
  // that is stored now. The scheduler's loop is the only caller, so the
  // look and the write cannot interleave with another client's.
  Result<std::string> put_if_absent(std::string_view space, const cas::Digest& key,
                                    std::string_view document);

 private:
  explicit ClientRecords(std::unique_ptr<cas::Store> store) : store_(std::move(store)) {}
  // The store's key for `key` in `space`.
  cas::Digest filed_under(std::string_view space, const cas::Digest& key) const;

  std::unique_ptr<cas::Store> store_;
};

}  // namespace kiln::scheduler
