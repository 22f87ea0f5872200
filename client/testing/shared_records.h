// Records shared through the scheduler (docs/testing.md, "Shared CI
// knowledge"): the engine's Records when `kiln test` has a grid. Every
// record is kept in both places, the local store (StoreRecords) and the
// scheduler's client records (client/grid/records.h, filed under this
// client key's namespace), so a fresh CI runner starts with the duration
// book, pass records and slice plans earlier runners wrote, and a machine
// that has been offline still has its own.
//
//   get, get_many   the scheduler's record, else the local one (the
//                   scheduler's is everyone's latest); one round trip per
//                   1,000 records
//   put             here at once; to the scheduler in batches at flush()
//   put_if_absent   on the scheduler (where slices of one run meet), else
//                   here
//
// The first time the scheduler cannot be reached or refuses, `warn` is
// told once and the rest of the run keeps to the local store: knowledge
// is worth a round trip, not a stalled run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/grid/records.h"
#include "client/testing/store_records.h"

namespace kiln::client::testing {

class SharedRecords final : public Records {
 public:
  SharedRecords(StoreRecords& local, std::unique_ptr<grid::GridRecords> remote,
                cas::DigestFunction function, std::function<void(const std::string&)> warn);

  std::optional<std::string> get(const RecordKind& kind, std::string_view material) override;
  std::vector<std::optional<std::string>> get_many(
      const RecordKind& kind, const std::vector<std::string>& materials) override;
  Status put(const RecordKind& kind, std::string_view material, std::string_view document) override;
  std::optional<std::string> put_if_absent(const RecordKind& kind, std::string_view material,
                                           std::string_view document) override;
  void flush() override;

 private:
  // Whether the scheduler is still used; after `why`, it is not.
  void give_up(const std::string& why);

  StoreRecords& local_;
  std::unique_ptr<grid::GridRecords> remote_;
  cas::DigestFunction function_;
  std::function<void(const std::string&)> warn_;
  std::vector<std::pair<cas::Digest, std::string>> unsent_;
};

}  // namespace kiln::client::testing
