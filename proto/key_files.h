// Key files on disk (formats in keys.h): written with the secret one
// private, read with the checks ssh makes. No ZeroMQ here, so the lean
// `kiln` can read keys too; checking that a pair belongs together is
// curve.h's (check_key_pair).
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/keys.h"

namespace kiln::proto {

// Writes `base` + ".key" (both keys, mode 0600) and `base` + ".pub" (the
// public key, mode 0644), each atomically; `comment` goes into both.
// Refuses (kInvalidArgument) to overwrite an existing key file.
Status write_key_files(const std::string& base, const CurveKeyPair& keys, std::string_view comment);

// A secret key file: kInvalidArgument when it is malformed, lacks the
// secret key, or group or others may read it (chmod 600; like ssh, a
// readable secret is refused); the file system's errors otherwise.
Result<CurveKeyPair> read_secret_key_file(const std::string& path);

// A public key given as Z85 text itself, or as the path of a key file
// (public or secret: only its public key is used).
Result<std::string> read_public_key(const std::string& key_or_path);

}  // namespace kiln::proto
