// How kiln's errors and access rules become gRPC statuses.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "reapi/access.h"

namespace kiln::reapi {

// The gRPC code of a kiln error category (kCorrupt: INVALID_ARGUMENT, the
// client's bytes do not match their digest; kIo and kInternal: INTERNAL).
grpc::StatusCode grpc_code(Errc code);
grpc::Status to_grpc(const Error& error);
inline grpc::Status invalid(const std::string& message) {
  return {grpc::StatusCode::INVALID_ARGUMENT, message};
}

// The door every call passes: who the caller is (its bearer token, when
// the server has tokens) and whether its role may make this call.
class Gate {
 public:
  // No tokens: every caller is a client, or a writer with allow_updates.
  Gate(std::vector<Token> tokens, bool allow_updates)
      : tokens_(std::move(tokens)), allow_updates_(allow_updates) {}
  bool authenticates() const { return !tokens_.empty(); }
  // OK, UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (the
  // role may not), with a message that names the method and the role.
  grpc::Status admit(const grpc::ServerContext& context, Method method) const;

 private:
  std::vector<Token> tokens_;
  bool allow_updates_ = false;
};

}  // namespace kiln::reapi
