// keys.h: key files and the authorized-keys list, as text.
#include "proto/keys.h"

#include <vector>

namespace kiln::proto {
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// The file's lines with their numbers, comments and blank lines left out.
std::vector<std::pair<int, std::string_view>> content_lines(std::string_view text) {
  std::vector<std::pair<int, std::string_view>> lines;
  int number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++number;
    if (!line.empty() && line.front() != '#') lines.emplace_back(number, line);
  }
  return lines;
}

Error bad_line(std::string_view file_name, int line, const std::string& why) {
  return make_error(Errc::kInvalidArgument,
                    std::string(file_name) + ":" + std::to_string(line) + ": " + why);
}

std::string one_line(std::string_view comment) {
  std::string out(comment);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

bool is_curve_key(std::string_view text) {
  return text.size() == kCurveKeyChars && text.find_first_not_of(kZ85Alphabet) == std::string::npos;
}

std::string format_secret_key_file(const CurveKeyPair& keys, std::string_view comment) {
  return "# kiln CURVE key: keep it secret. " + one_line(comment) +
         "\npublic = " + keys.public_key + "\nsecret = " + keys.secret_key + "\n";
}

std::string format_public_key_file(std::string_view public_key, std::string_view comment) {
  return "# kiln CURVE public key. " + one_line(comment) + "\npublic = " + std::string(public_key) +
         "\n";
}

Result<CurveKeyPair> parse_key_file(std::string_view text, std::string_view file_name) {
  CurveKeyPair keys;
  for (const auto& [number, line] : content_lines(text)) {
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      return bad_line(file_name, number, "expected 'public = KEY' or 'secret = KEY'");
    }
    const std::string_view name = trim(line.substr(0, equals));
    const std::string_view value = trim(line.substr(equals + 1));
    std::string* slot = name == "public"   ? &keys.public_key
                        : name == "secret" ? &keys.secret_key
                                           : nullptr;
    if (slot == nullptr) {
      return bad_line(file_name, number, "unknown entry '" + std::string(name) + "'");
    }
    if (!slot->empty()) return bad_line(file_name, number, std::string(name) + " given twice");
    if (!is_curve_key(value)) {
      return bad_line(file_name, number, std::string(name) + " is not a 40-character Z85 key");
    }
    *slot = std::string(value);
  }
  if (keys.public_key.empty()) {
    return make_error(Errc::kInvalidArgument, std::string(file_name) + ": no public key");
  }
  return keys;
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kWorker:
      return "worker";
    case Role::kClient:
      return "client";
    case Role::kReadOnly:
      return "readonly";
  }
  return "?";
}

Result<AuthorizedKeys> parse_authorized_keys(std::string_view text, std::string_view file_name) {
  AuthorizedKeys keys;
  for (const auto& [number, line] : content_lines(text)) {
    const auto role_end = line.find_first_of(" \t");
    const std::string_view role_name = line.substr(0, role_end);
    const std::string_view rest =
        role_end == std::string_view::npos ? std::string_view() : trim(line.substr(role_end));
    const auto key_end = rest.find_first_of(" \t");
    const std::string_view key = rest.substr(0, key_end);
    const std::string_view name =
        key_end == std::string_view::npos ? std::string_view() : trim(rest.substr(key_end));
    AuthorizedKey entry;
    if (role_name == "worker") {
      entry.role = Role::kWorker;
    } else if (role_name == "client") {
      entry.role = Role::kClient;
    } else if (role_name == "readonly") {
      entry.role = Role::kReadOnly;
    } else {
      return bad_line(file_name, number,
                      "unknown role '" + std::string(role_name) +
                          "' (expected worker, client or readonly, then the key)");
    }
    if (!is_curve_key(key)) {
      return bad_line(file_name, number,
                      "'" + std::string(key) + "' is not a 40-character Z85 public key");
    }
    entry.name = name.empty() ? std::string(key.substr(0, 8)) : std::string(name);
    if (!keys.emplace(std::string(key), std::move(entry)).second) {
      return bad_line(file_name, number,
                      "the key " + std::string(key.substr(0, 8)) + "... is listed twice");
    }
  }
  return keys;
}

std::string format_authorized_keys(const AuthorizedKeys& keys) {
  std::string out = "# kiln-scheduler --authorized-keys: ROLE PUBLIC-KEY NAME (docs/security.md)\n";
  for (const auto& [key, entry] : keys) {
    out += std::string(to_string(entry.role)) + " " + key + " " + one_line(entry.name) + "\n";
  }
  return out;
}

bool is_loopback_endpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  const std::string_view rest = endpoint.substr(6);
  return rest.starts_with("127.") || rest.starts_with("localhost:") || rest.starts_with("[::1]:");
}

}  // namespace kiln::proto
