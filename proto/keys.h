// CURVE keys as kiln writes them down: ZeroMQ's Z85 text (40 characters
// for a 32-byte Curve25519 key) in small key files, and the scheduler's
// list of the keys it admits and what each may do (docs/security.md).
//
//   secret key file (NAME.key, mode 0600)     public key file (NAME.pub)
//     # kiln CURVE key: keep it secret          # kiln CURVE public key
//     public = <40 chars>                        public = <40 chars>
//     secret = <40 chars>
//
//   authorized keys file (kiln-scheduler --authorized-keys FILE)
//     # role   public key                                 name (for logs)
//     worker   rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7   build-07
//     client   Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID   ci-runner
//     readonly 9X?p...                                   alice-laptop
//
// Pure: text in, values out. Reading and writing key files is
// key_files.h's, making keys curve.h's.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kiln::proto {

inline constexpr std::size_t kCurveKeyChars = 40;

// Whether `text` is a Z85-encoded 32-byte key (40 characters of the Z85
// alphabet).
bool is_curve_key(std::string_view text);

struct CurveKeyPair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85; empty for a public key alone
};

// What a socket is set up with to speak CURVE (proto/transport.h).
struct CurveServerKeys {
  std::string secret_key{};  // the server's own, Z85
  std::string zap_domain{};  // tells the ZAP handler (zap.h) which endpoint asks
};

struct CurveClientKeys {
  std::string server_key{};  // the server's public key, Z85
  CurveKeyPair own{};        // this peer's pair
};

// The two file formats. `comment` goes on the first line (no newlines).
std::string format_secret_key_file(const CurveKeyPair& keys, std::string_view comment);
std::string format_public_key_file(std::string_view public_key, std::string_view comment);

// Either kind of key file: `#` lines and blank lines are ignored, every
// other line is `public = KEY` or `secret = KEY`, each at most once, a
// public key always. kInvalidArgument naming the line otherwise.
Result<CurveKeyPair> parse_key_file(std::string_view text, std::string_view file_name);

// What a key may do.
enum class Role {
  kWorker,    // the worker endpoint: sessions, leases, results (the action
              // cache's only writer), CAS transfers
  kClient,    // the client endpoint: submit, cancel, upload inputs, read
  kReadOnly,  // the client endpoint: the action cache, blobs and status only
};
std::string_view to_string(Role role);

struct AuthorizedKey {
  Role role = Role::kClient;
  std::string name;  // for logs; the key's first 8 characters when none is given
};

// The scheduler's allow-list, by public key. Lines: `ROLE KEY [NAME...]`,
// `#` comments and blank lines ignored; ROLE is worker, client or readonly.
// A key listed twice is an error (two roles for one key would be a guess),
// as is an unknown role or a key that is not Z85; each names the line.
using AuthorizedKeys = std::map<std::string, AuthorizedKey, std::less<>>;
Result<AuthorizedKeys> parse_authorized_keys(std::string_view text, std::string_view file_name);
std::string format_authorized_keys(const AuthorizedKeys& keys);

// Whether a ZeroMQ endpoint is reachable only from this machine: tcp:// on
// 127.0.0.0/8, [::1] or localhost, and ipc:// or inproc://. Plain TCP
// without CURVE is allowed only there.
bool is_loopback_endpoint(std::string_view endpoint);

}  // namespace kiln::proto
