// The API's action cache on kiln's store. Entries are kept under the REAPI
// action's digest, as the API's ActionResult message (the bytes a client
// gets back), with the list of every blob they name: kiln's store makes a
// hit of an entry only while all of those blobs are present, and evicting
// one of them drops the entry.
//
// GetActionResult serves any entry; UpdateActionResult is for writers only
// (reapi/access.h) and is refused FAILED_PRECONDITION when the result names
// a blob the CAS lacks: a client uploads its outputs first.
#pragma once

#include <build/bazel/remote/execution/v2/remote_execution.grpc.pb.h>

#include <optional>
#include <vector>

#include "reapi/digests.h"
#include "reapi/shared_store.h"
#include "reapi/status.h"

namespace kiln::reapi {

// Every blob `result` names: output files, stdout and stderr, each output
// directory's Tree blob and every file in it (the Tree blobs are read from
// the store). kInvalidArgument for a bad digest or an unreadable Tree,
// kNotFound for a Tree blob the store lacks.
Result<std::vector<cas::Digest>> referenced_blobs(SharedStore& store,
                                                  const v2::ActionResult& result);

// Stores `result` under `action` after checking every blob it names is
// present (kNotFound naming the first missing one otherwise).
Status put_action_result(SharedStore& store, const cas::Digest& action,
                         const v2::ActionResult& result);
// The entry under `action`, nullopt for none.
Result<std::optional<v2::ActionResult>> get_action_result(SharedStore& store,
                                                          const cas::Digest& action);

class ActionCacheService final : public v2::ActionCache::Service {
 public:
  ActionCacheService(SharedStore& store, const Gate& gate) : store_(store), gate_(gate) {}
  grpc::Status GetActionResult(grpc::ServerContext* context,
                               const v2::GetActionResultRequest* request,
                               v2::ActionResult* response) override;
  grpc::Status UpdateActionResult(grpc::ServerContext* context,
                                  const v2::UpdateActionResultRequest* request,
                                  v2::ActionResult* response) override;

 private:
  SharedStore& store_;
  const Gate& gate_;
};

}  // namespace kiln::reapi
