// "Somewhere that runs actions": this machine (LocalExecutor, the embedded
// default) or the grid (client/grid/executor.h, a scheduler over ZeroMQ).
// `kiln run`, the compiler launcher and `kiln test` are written against
// this interface only.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"

namespace kiln::exec {

struct ExecutedAction {
  cas::ActionResult result;
  bool timed_out = false;
  std::vector<std::string> missing_outputs;
  bool cached = false;  // answered from a cache, not executed
};

class ActionExecutor {
 public:
  virtual ~ActionExecutor() = default;
  // Runs `action`, whose Command and input blobs are in the local store.
  // On return every blob the result names is in the local store. Writes the
  // action cache when the result deserves it. Errors are the executor's own
  // failures (could not start the program, lost the grid, could not record
  // the result, …); a command that fails is a result.
  virtual Result<ExecutedAction> execute(const cas::Digest& action_digest,
                                         const cas::Action& action) = 0;
  // Where it runs, for messages: "local", "tcp://host:port".
  virtual std::string where() const = 0;
};

}  // namespace kiln::exec
