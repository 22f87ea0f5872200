// curve.h: CURVE keys through libzmq.
#include "proto/curve.h"

#include <zmq.h>

#include <array>

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

}  // namespace kiln::proto
