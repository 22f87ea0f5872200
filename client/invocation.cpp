// invocation.h: ids, labels and the build driver an id is derived from.
#include "client/invocation.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <span>

namespace kiln::client {
namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool label_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Programs that drive a build: the outermost of a chain of them is the
// invocation. "kiln-grid" and "kiln" for `kiln test` and hand-overs; comm
// is cut to 15 characters by the kernel.
constexpr std::array<std::string_view, 14> kDrivers = {
    "make",      "gmake", "ninja", "samu",  "cmake", "ctest", "kiln",
    "kiln-grid", "scons", "meson", "bazel", "buck2", "cargo", "xcodebuild"};

// Programs passed through on the way up: shells and wrappers that a
// driver runs a command under, or that run a driver.
constexpr std::array<std::string_view, 14> kPassThrough = {
    "sh",   "bash",    "dash",  "zsh",    "ksh",    "env",    "nice",
    "time", "timeout", "xargs", "ionice", "stdbuf", "strace", "nohup"};

bool is_one_of(std::string_view name, std::span<const std::string_view> set) {
  return std::find(set.begin(), set.end(), name) != set.end();
}

}  // namespace

Status check_invocation_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxInvocationIdLength) {
    return make_error(Errc::kInvalidArgument,
                      "an invocation id has 1 to 128 characters, not " + std::to_string(id.size()));
  }
  if (!std::all_of(id.begin(), id.end(), id_char) || id == "." || id == "..") {
    return make_error(Errc::kInvalidArgument,
                      "an invocation id is made of letters, digits, '.', '_' and '-' only");
  }
  return {};
}

Result<Labels> parse_labels(std::string_view text) {
  Labels labels;
  if (text.empty()) return labels;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return make_error(Errc::kInvalidArgument,
                        "label '" + std::string(item) + "' is not NAME=VALUE");
    }
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    if (name.empty() || name.size() > 64 ||
        !std::all_of(name.begin(), name.end(), label_name_char)) {
      return make_error(Errc::kInvalidArgument,
                        "label name '" + std::string(name) +
                            "' must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'");
    }
    if (value.size() > 256 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
      return make_error(Errc::kInvalidArgument, "label '" + std::string(name) +
                                                    "' has a value that is not at most 256 "
                                                    "printable ASCII characters");
    }
    if (std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.first == name; })) {
      return make_error(Errc::kInvalidArgument, "label '" + std::string(name) + "' is given twice");
    }
    labels.emplace_back(std::string(name), std::string(value));
    if (labels.size() > kMaxLabels) {
      return make_error(Errc::kInvalidArgument, "at most 16 labels");
    }
    if (comma == text.size()) break;
  }
  return labels;
}

std::string format_labels(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out += ',';
    out += name + '=' + value;
  }
  return out;
}

bool in_build_chain(std::string_view name) {
  return is_one_of(name, kDrivers) || is_one_of(name, kPassThrough);
}

std::optional<std::size_t> find_anchor(const std::vector<AncestorProcess>& ancestors) {
  std::optional<std::size_t> anchor;
  for (std::size_t i = 0; i < ancestors.size(); ++i) {
    const std::string& name = ancestors[i].name;
    if (is_one_of(name, kDrivers)) {
      anchor = i;
    } else if (!is_one_of(name, kPassThrough)) {
      break;  // a terminal, sshd, a CI agent: above the build
    }
  }
  return anchor;
}

std::string derive_invocation_id(std::string_view boot_id, const AncestorProcess& anchor) {
  const std::string key = std::string(boot_id) + '\n' + std::to_string(anchor.pid) + '\n' +
                          std::to_string(anchor.start_ticks);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(key.data(), key.size())));
  return hex;
}

}  // namespace kiln::client
