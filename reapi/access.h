// Who may call what on kiln-reapi (docs/reapi.md "Trust"). Pure: the rules
// and the token file's format, no gRPC.
//
//   role      may call
//   readonly  GetCapabilities, GetActionResult, FindMissingBlobs,
//             BatchReadBlobs, GetTree, ByteStream Read/QueryWriteStatus
//   client    the above, and the writes of the CAS (BatchUpdateBlobs,
//             ByteStream Write) and Execute/WaitExecution: everything but
//             writing the action cache
//   writer    everything, UpdateActionResult included
//
// Only the grid's workers write the action cache of actions the grid runs.
// UpdateActionResult lets a client put results it computed itself (Bazel's
// --remote_cache with local execution) where everyone reads them, so it is
// granted explicitly: a `writer` token, or --allow-updates on a loopback
// server without tokens.
//
// The token file: one key per line, `ROLE NAME TOKEN`, `#` comments and
// blank lines ignored. A client sends its token as the gRPC metadata
// `authorization: Bearer TOKEN`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kiln::reapi {

enum class Role { kReadOnly, kClient, kWriter };
std::string_view to_string(Role role);

enum class Method {
  kGetCapabilities,
  kGetActionResult,
  kUpdateActionResult,
  kFindMissingBlobs,
  kBatchReadBlobs,
  kBatchUpdateBlobs,
  kGetTree,
  kRead,
  kWrite,
  kQueryWriteStatus,
  kExecute,
  kWaitExecution,
};
std::string_view to_string(Method method);

bool may_call(Role role, Method method);

struct Token {
  Role role = Role::kClient;
  std::string name;   // for logs
  std::string token;  // the secret
};

// Parses the token file's text. kInvalidArgument naming the line for an
// unknown role, a missing field, a token shorter than 16 characters or one
// given twice.
Result<std::vector<Token>> parse_tokens(std::string_view text);

// The token an `authorization` header value carries ("Bearer TOKEN",
// case-insensitive scheme), nullopt for anything else.
std::optional<std::string_view> bearer_token(std::string_view header);

// The entry whose token equals `token` (compared in constant time per
// entry), nullptr for none.
const Token* find_token(const std::vector<Token>& tokens, std::string_view token);

}  // namespace kiln::reapi
