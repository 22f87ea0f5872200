// `kiln provenance` (kiln-grid only: it signs with libsodium, which the
// lean kiln does not load); see insight_command.h.
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/files.h"
#include "cas/file_digest.h"
#include "client/insight_command.h"
#include "client/provenance.h"
#include "client/signing.h"
#include "client/signing_files.h"

namespace kiln::client {
namespace {

// A key that cannot be used — missing, unreadable, malformed, readable by
// others — is a configuration error (exit 2), named in the message.
[[noreturn]] void key_error(const Error& error) { throw CommandError(kExitUsage, error.message); }

std::string sha256_of(const std::string& file) {
  auto digest = cas::digest_file(cas::DigestFunction::kSha256, file);
  if (!digest.ok()) throw CommandError(kExitFailure, file + ": " + digest.error().message);
  return digest->hex();
}

// Whether `sha256` is the sha256 of one of the statement's subjects.
bool is_subject(const std::string& statement, const std::string& sha256) {
  try {
    const auto j = nlohmann::json::parse(statement);
    for (const auto& subject : j.at("subject")) {
      const auto& digest = subject.at("digest");
      if (digest.contains("sha256") && digest.at("sha256") == sha256) return true;
    }
  } catch (const nlohmann::json::exception&) {
  }
  return false;
}

int verify(Context& ctx, const ProvenanceOptions& opts) {
  auto key = read_signing_public_file(opts.key);
  if (!key.ok()) key_error(key.error());
  auto text = base::read_file(opts.verify, {.max_bytes = std::size_t{64} << 20});
  if (!text.ok()) throw CommandError(kExitFailure, opts.verify + ": " + text.error().message);
  auto envelope = decode_envelope(*text);
  if (!envelope.ok()) {
    throw CommandError(kExitFailure, opts.verify + " does not verify: " + envelope.error().message);
  }
  if (auto verified = dsse_verify(*envelope, *key); !verified.ok()) {
    throw CommandError(kExitFailure, opts.verify + " does not verify: " + verified.error().message);
  }
  if (envelope->payload_type != kInTotoPayloadType) {
    throw CommandError(kExitFailure, opts.verify + " is signed, but its payload is " +
                                         envelope->payload_type + ", not an in-toto statement");
  }
  if (!opts.file.empty() && !is_subject(envelope->payload, sha256_of(opts.file))) {
    throw CommandError(kExitFailure, opts.verify + " is signed, but not for " + opts.file +
                                         " (its SHA-256 is none of the statement's subjects)");
  }
  ctx.out << "verified: " << opts.verify << " signed by " << key_id(*key).substr(0, 16)
          << (opts.file.empty() ? "" : ", subject " + opts.file) << '\n';
  return kExitOk;
}

}  // namespace

int run_provenance(Context& ctx, const ProvenanceOptions& opts) {
  if (!opts.verify.empty()) return verify(ctx, opts);
  // The key first: a bad key fails before the journal is searched.
  std::optional<SigningKey> key;
  if (!ctx.config.signing_key().empty()) {
    auto read = read_signing_secret_file(ctx.config.signing_key());
    if (!read.ok()) key_error(read.error());
    key = *read;
  }
  const Explanation e = explain_file(ctx, opts.file);
  const std::string statement = provenance_statement(
      {e.record, e.invocation.invocation, e.output_path, sha256_of(opts.file), e.file_digest});
  const std::string document =
      key ? encode_envelope(dsse_sign(kInTotoPayloadType, statement, *key)) : statement;
  if (opts.output.empty() || opts.output == "-") {
    ctx.out << document;
  } else {
    check(base::write_file_atomically(opts.output, document), "provenance");
  }
  return kExitOk;
}

}  // namespace kiln::client
