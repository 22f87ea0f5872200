// handoff.h: the KILN_HANDOFF record, written and checked.
#include "client/launcher/handoff.h"

#include <array>
#include <charconv>
#include <optional>

#include "client/invocation.h"

namespace kiln::client::launcher {
namespace {

using std::string_view;

constexpr string_view kVersion = "v2";
constexpr std::array<string_view, 8> kFields = {"pid",      "argv",   "compiler",   "identity",
                                                "manifest", "direct", "invocation", "start"};

// The command line as one digest: each argument length-prefixed, so no two
// argument lists share one.
cas::Digest argv_digest(std::span<const std::string> argv) {
  std::string text;
  for (const std::string& arg : argv) {
    text += std::to_string(arg.size());
    text += ':';
    text += arg;
  }
  return cas::digest_of(cas::DigestFunction::kXxh3_128, text);
}

bool needs_escape(char c) { return c == '%' || c == ';' || static_cast<unsigned char>(c) < 0x20; }

std::string escape(string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (!needs_escape(c)) {
      out += c;
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out += '%';
    out += kHex[byte >> 4];
    out += kHex[byte & 0xF];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Only the escapes escape() writes are accepted, so one value has one form.
std::optional<std::string> unescape(string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      if (needs_escape(text[i])) return std::nullopt;
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    const char c = static_cast<char>(high * 16 + low);
    if (!needs_escape(c)) return std::nullopt;
    out += c;
    i += 2;
  }
  return out;
}

Error invalid(const std::string& why) {
  return Error{Errc::kInvalidArgument, "handoff record: " + why};
}

}  // namespace

std::string encode_handoff(const Handoff& handoff, std::int64_t pid,
                           std::span<const std::string> argv) {
  std::string out(kVersion);
  const std::array<std::string, kFields.size()> values = {
      std::to_string(pid),          argv_digest(argv).to_string(),     escape(handoff.compiler),
      handoff.identity.to_string(), handoff.manifest_key.to_string(),  handoff.direct ? "1" : "0",
      escape(handoff.invocation),   std::to_string(handoff.started_us)};
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    out += ';';
    out += kFields[i];
    out += '=';
    out += values[i];
  }
  return out;
}

Result<Handoff> decode_handoff(string_view text, std::int64_t pid,
                               std::span<const std::string> argv) {
  // Split into the version and exactly the expected fields, in order.
  std::array<string_view, kFields.size()> values;
  std::size_t semicolon = text.find(';');
  if (text.substr(0, semicolon) != kVersion)
    return invalid("not a " + std::string(kVersion) + " record");
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if (semicolon == string_view::npos) return invalid("no " + std::string(kFields[i]));
    text.remove_prefix(semicolon + 1);
    semicolon = text.find(';');
    const string_view field = text.substr(0, semicolon);
    const std::size_t equals = field.find('=');
    if (equals == string_view::npos || field.substr(0, equals) != kFields[i]) {
      return invalid("expected " + std::string(kFields[i]) + " at \"" + std::string(field) + "\"");
    }
    values[i] = field.substr(equals + 1);
  }
  if (semicolon != string_view::npos) return invalid("trailing fields");

  std::int64_t record_pid = 0;
  const string_view pid_text = values[0];
  const auto [end, ec] =
      std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), record_pid);
  if (ec != std::errc() || end != pid_text.data() + pid_text.size()) return invalid("bad pid");
  if (record_pid != pid) return invalid("made by another process");
  auto record_argv = cas::parse_digest(values[1]);
  if (!record_argv.ok()) return invalid("bad argv digest");
  if (*record_argv != argv_digest(argv)) return invalid("made for another command line");

  Handoff handoff;
  auto compiler = unescape(values[2]);
  if (!compiler || compiler->empty() || compiler->front() != '/') return invalid("bad compiler");
  handoff.compiler = std::move(*compiler);
  auto identity = cas::parse_digest(values[3]);
  if (!identity.ok() || identity->function != cas::DigestFunction::kXxh3_128) {
    return invalid("bad identity");
  }
  handoff.identity = *identity;
  auto manifest = cas::parse_digest(values[4]);
  if (!manifest.ok()) return invalid("bad manifest key");
  handoff.manifest_key = *manifest;
  if (values[5] != "0" && values[5] != "1") return invalid("bad direct flag");
  handoff.direct = values[5] == "1";
  auto invocation = unescape(values[6]);
  if (!invocation || (!invocation->empty() && !check_invocation_id(*invocation).ok())) {
    return invalid("bad invocation");
  }
  handoff.invocation = std::move(*invocation);
  const string_view start = values[7];
  const auto [start_end, start_ec] =
      std::from_chars(start.data(), start.data() + start.size(), handoff.started_us);
  if (start_ec != std::errc() || start_end != start.data() + start.size() ||
      handoff.started_us < 0) {
    return invalid("bad start time");
  }
  return handoff;
}

}  // namespace kiln::client::launcher
