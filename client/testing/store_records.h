// The engine's Records (engine.h) in the local store: each record is a
// cas/record.h named record under the digest of its kind and material, so
// a test's cached result and the duration book share the store's action
// cache, eviction and verification with everything else.
//
// Threads: the store is shared by the engine's thread and the jobs'
// threads (the suites store inputs and read outputs, the executors run
// actions), and every access holds SharedStore::mutex.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cas/store.h"
#include "client/testing/engine.h"

namespace kiln::client::testing {

// The local store and the lock every user of it holds.
struct SharedStore {
  cas::Store& store;
  std::mutex mutex;
};

// The key a record is filed under: digest(kind.kind + '\0' + material), in
// the store's digest function (the scheduler's client records use the same).
cas::Digest record_key(cas::DigestFunction fn, const RecordKind& kind, std::string_view material);

class StoreRecords final : public Records {
 public:
  explicit StoreRecords(SharedStore& shared) : shared_(shared) {}

  // The key is digest(kind.kind + '\0' + material) in the store's digest
  // function, the record's name kind.name. A store error is a miss.
  std::optional<std::string> get(const RecordKind& kind, std::string_view material) override;
  Status put(const RecordKind& kind, std::string_view material, std::string_view document) override;
  // Under the store's lock, so no other thread of this process interleaves.
  std::optional<std::string> put_if_absent(const RecordKind& kind, std::string_view material,
                                           std::string_view document) override;
  // Writes the access times the reads updated (cas::Store::flush_access);
  // a failure only costs eviction order, and is ignored.
  void flush() override;

 private:
  SharedStore& shared_;
};

}  // namespace kiln::client::testing
