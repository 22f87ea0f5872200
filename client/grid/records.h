// The client's side of client records (scheduler/client_records.h): small
// documents kept on the scheduler for every client that shares this key's
// namespace, so a fresh CI runner starts with what earlier runners learnt
// (`kiln test`'s duration books, pass records and slice plans).
//
// One connection, opened on first use and kept. Requests are batched
// under the scheduler's limits (1,000 keys per get, answers under 8 MiB);
// a scheduler that does not answer within `timeout` is kUnavailable, and
// the caller carries on with what it has here.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "client/grid/options.h"

namespace kiln::client::grid {

class GridRecords {
 public:
  GridRecords(GridOptions options, cas::DigestFunction function,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~GridRecords();
  GridRecords(const GridRecords&) = delete;
  GridRecords& operator=(const GridRecords&) = delete;

  // The document under each key (nullopt: none), in order.
  Result<std::vector<std::optional<std::string>>> get(std::span<const cas::Digest> keys);
  // Stores each document under its key, replacing what was there.
  Status put(std::span<const std::pair<cas::Digest, std::string>> records);
  // Stores `document` unless the key holds one; returns what it holds now.
  Result<std::string> put_if_absent(const cas::Digest& key, std::string_view document);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::client::grid
