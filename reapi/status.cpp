#include "reapi/status.h"

namespace kiln::reapi {

grpc::StatusCode grpc_code(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
    case Errc::kCorrupt:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Errc::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Errc::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Errc::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Errc::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Errc::kIo:
    case Errc::kInternal:
      return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

grpc::Status to_grpc(const Error& error) { return {grpc_code(error.code), error.message}; }

grpc::Status Gate::admit(const grpc::ServerContext& context, Method method) const {
  Role role = allow_updates_ ? Role::kWriter : Role::kClient;
  std::string who = "this caller";
  if (authenticates()) {
    const auto& metadata = context.client_metadata();
    const auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return {grpc::StatusCode::UNAUTHENTICATED,
              "no credentials: send the metadata 'authorization: Bearer TOKEN'"};
    }
    const std::string_view header(it->second.data(), it->second.size());
    const auto token = bearer_token(header);
    const Token* entry = token ? find_token(tokens_, *token) : nullptr;
    if (entry == nullptr) {
      return {grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not one this server knows"};
    }
    role = entry->role;
    who = std::string(entry->name);
  }
  if (may_call(role, method)) return grpc::Status::OK;
  std::string message = std::string(to_string(method)) + " is not allowed for " + who + " (role " +
                        std::string(to_string(role)) + ")";
  if (method == Method::kUpdateActionResult) {
    message += authenticates() ? "; only a writer token may write the action cache"
                               : "; start kiln-reapi with --allow-updates to let clients write "
                                 "the action cache";
  }
  return {grpc::StatusCode::PERMISSION_DENIED, message};
}

}  // namespace kiln::reapi
