#include "reapi/access.h"

#include <algorithm>
#include <cctype>

namespace kiln::reapi {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kReadOnly:
      return "readonly";
    case Role::kClient:
      return "client";
    case Role::kWriter:
      return "writer";
  }
  return "?";
}

std::string_view to_string(Method method) {
  switch (method) {
    case Method::kGetCapabilities:
      return "GetCapabilities";
    case Method::kGetActionResult:
      return "GetActionResult";
    case Method::kUpdateActionResult:
      return "UpdateActionResult";
    case Method::kFindMissingBlobs:
      return "FindMissingBlobs";
    case Method::kBatchReadBlobs:
      return "BatchReadBlobs";
    case Method::kBatchUpdateBlobs:
      return "BatchUpdateBlobs";
    case Method::kGetTree:
      return "GetTree";
    case Method::kRead:
      return "ByteStream.Read";
    case Method::kWrite:
      return "ByteStream.Write";
    case Method::kQueryWriteStatus:
      return "ByteStream.QueryWriteStatus";
    case Method::kExecute:
      return "Execute";
    case Method::kWaitExecution:
      return "WaitExecution";
  }
  return "?";
}

bool may_call(Role role, Method method) {
  switch (method) {
    case Method::kGetCapabilities:
    case Method::kGetActionResult:
    case Method::kFindMissingBlobs:
    case Method::kBatchReadBlobs:
    case Method::kGetTree:
    case Method::kRead:
    case Method::kQueryWriteStatus:
      return true;
    case Method::kBatchUpdateBlobs:
    case Method::kWrite:
    case Method::kExecute:
    case Method::kWaitExecution:
      return role != Role::kReadOnly;
    case Method::kUpdateActionResult:
      return role == Role::kWriter;
  }
  return false;
}

Result<std::vector<Token>> parse_tokens(std::string_view text) {
  std::vector<Token> tokens;
  int line_number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (const auto hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) != 0) ++i;
      const std::size_t start = i;
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) == 0) ++i;
      if (i > start) fields.push_back(line.substr(start, i - start));
    }
    if (fields.empty()) continue;
    auto bad = [&](const std::string& why) {
      return make_error(Errc::kInvalidArgument, "line " + std::to_string(line_number) + ": " + why);
    };
    if (fields.size() != 3) return bad("expected ROLE NAME TOKEN");
    Token t;
    if (fields[0] == "readonly") {
      t.role = Role::kReadOnly;
    } else if (fields[0] == "client") {
      t.role = Role::kClient;
    } else if (fields[0] == "writer") {
      t.role = Role::kWriter;
    } else {
      return bad("unknown role '" + std::string(fields[0]) + "' (readonly, client or writer)");
    }
    t.name = std::string(fields[1]);
    t.token = std::string(fields[2]);
    if (t.token.size() < 16)
      return bad("the token of " + t.name + " is shorter than 16 characters");
    if (std::any_of(tokens.begin(), tokens.end(),
                    [&](const Token& o) { return o.token == t.token; })) {
      return bad("the token of " + t.name + " is given twice");
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (header.empty()) return std::nullopt;
  return header;
}

const Token* find_token(const std::vector<Token>& tokens, std::string_view token) {
  const Token* found = nullptr;
  for (const auto& t : tokens) {
    // Constant time in the token's bytes: no early exit on the first difference.
    unsigned char diff = t.token.size() == token.size() ? 0 : 1;
    for (std::size_t i = 0; i < t.token.size(); ++i) {
      diff |= static_cast<unsigned char>(t.token[i] ^ (i < token.size() ? token[i] : 0));
    }
    if (diff == 0) found = &t;
  }
  return found;
}

}  // namespace kiln::reapi
