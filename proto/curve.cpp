// curve.h: CURVE keys through libzmq.
#include "proto/curve.h"

#include <zmq.h>

#include <array>

#include "proto/key_files.h"

namespace kiln::proto {

Result<CurveKeyPair> generate_curve_keypair() {
  std::array<char, kCurveKeyChars + 1> public_key{};
  std::array<char, kCurveKeyChars + 1> secret_key{};
  if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
    return make_error(Errc::kInternal, std::string("cannot make a CURVE key pair: ") +
                                           zmq_strerror(zmq_errno()) + " (libzmq without CURVE?)");
  }
  return CurveKeyPair{public_key.data(), secret_key.data()};
}

Result<std::string> curve_public_key(std::string_view secret_key) {
  if (!is_curve_key(secret_key)) {
    return make_error(Errc::kInvalidArgument, "not a 40-character Z85 CURVE key");
  }
  const std::string secret(secret_key);
  std::array<char, kCurveKeyChars + 1> public_key{};
  if (zmq_curve_public(public_key.data(), secret.c_str()) != 0) {
    return make_error(Errc::kInternal,
                      std::string("cannot derive a public key: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(public_key.data());
}

Status check_key_pair(const CurveKeyPair& keys, std::string_view where) {
  auto derived = curve_public_key(keys.secret_key);
  if (!derived.ok())
    return make_error(Errc::kInvalidArgument, std::string(where) + ": " + derived.error().message);
  if (*derived != keys.public_key) {
    return make_error(Errc::kInvalidArgument,
                      std::string(where) + ": the public key is not the secret key's");
  }
  return {};
}

Result<std::optional<CurveClientKeys>> scheduler_client_keys(const std::string& key_file,
                                                             const std::string& scheduler_key,
                                                             bool no_auth) {
  if (no_auth) {
    if (!key_file.empty() || !scheduler_key.empty()) {
      return make_error(Errc::kInvalidArgument, "--no-auth excludes --key and --scheduler-key");
    }
    return std::optional<CurveClientKeys>();
  }
  if (key_file.empty() || scheduler_key.empty()) {
    return make_error(Errc::kInvalidArgument,
                      "give --key FILE (kiln keygen) and --scheduler-key KEY, or --no-auth for a "
                      "scheduler started with --no-auth (docs/security.md)");
  }
  auto own = read_secret_key_file(key_file);
  if (!own.ok()) return make_error(Errc::kInvalidArgument, "--key: " + own.error().message);
  if (auto pair = check_key_pair(*own, key_file); !pair.ok()) {
    return make_error(Errc::kInvalidArgument, "--key: " + pair.error().message);
  }
  auto server = read_public_key(scheduler_key);
  if (!server.ok()) {
    return make_error(Errc::kInvalidArgument, "--scheduler-key: " + server.error().message);
  }
  return std::optional<CurveClientKeys>(CurveClientKeys{*server, *own});
}

}  // namespace kiln::proto
