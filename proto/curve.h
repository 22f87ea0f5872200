// CURVE on kiln's sockets (docs/security.md): making keys and checking a
// pair, through libzmq (which uses libsodium).
//
// A ROUTER with CurveServerKeys (keys.h) is a CURVE server: every
// connection must complete a CurveZMQ handshake (Curve25519, then every
// frame encrypted and authenticated), and ZeroMQ asks the process's ZAP
// handler (zap.h) whether the client's public key may connect to that
// socket's `zap_domain`. A CURVE server without a ZAP handler accepts any
// key, so the scheduler binds its handler before its sockets. A DEALER with
// CurveClientKeys proves its own key and checks the server's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/keys.h"

namespace kiln::proto {

// A fresh random pair (libzmq's zmq_curve_keypair). kInternal when libzmq
// was built without CURVE.
Result<CurveKeyPair> generate_curve_keypair();

// The public key that belongs to `secret_key`. kInvalidArgument when it is
// not a key.
Result<std::string> curve_public_key(std::string_view secret_key);

// `keys` as read from a secret key file, checked: its public key must be
// the secret key's (kInvalidArgument naming `where` otherwise).
Status check_key_pair(const CurveKeyPair& keys, std::string_view where);

// The keys a daemon connects to the scheduler with, from its command line:
// its own secret key file (`--key`) and the scheduler's public key, Z85 or
// a key file (`--scheduler-key`); nullopt with `no_auth` (plain TCP).
// kInvalidArgument, naming the option, when they are missing, unreadable
// or do not belong together, or given with no_auth.
Result<std::optional<CurveClientKeys>> scheduler_client_keys(const std::string& key_file,
                                                             const std::string& scheduler_key,
                                                             bool no_auth);

}  // namespace kiln::proto
