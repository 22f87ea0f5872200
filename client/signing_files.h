// Signing key files on disk (formats in signing.h): made from the
// system's random source, written with the secret one private, read with
// the checks ssh makes of a private key.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "client/signing.h"

namespace kiln::client {

// A new key pair from a random seed (libsodium's randombytes: getrandom).
SigningKey generate_signing_key();

// Writes `base` + ".sign.key" (mode 0600) and `base` + ".sign.pub" (0644),
// each atomically and durably. Refuses (kInvalidArgument) to overwrite an
// existing file.
Status write_signing_key_files(const std::string& base, const SigningKey& key,
                               std::string_view comment);

// A secret key file: kInvalidArgument naming the file when group or others
// may read it (chmod 600), when it is not a signing key file or holds no
// seed; the file system's errors (kNotFound, kPermissionDenied, …)
// otherwise, each naming the file.
Result<SigningKey> read_signing_secret_file(const std::string& path);

// A public key from a .sign.pub file (or a .sign.key: only its public key
// is used). Errors as above, without the mode check.
Result<Ed25519PublicKey> read_signing_public_file(const std::string& path);

}  // namespace kiln::client
