// signing_files.h: signing key files through base/files.h.
#include "client/signing_files.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include "base/files.h"
#include "base/os_error.h"

namespace kiln::client {
namespace {

constexpr std::size_t kMaxKeyFileBytes = 4096;

Result<std::string> read_key_text(const std::string& path) {
  auto text = base::read_file(path, {.max_bytes = kMaxKeyFileBytes});
  if (!text.ok()) {
    return make_error(text.error().code, "signing key file " + path + ": " + text.error().message);
  }
  return text;
}

}  // namespace

SigningKey generate_signing_key() {
  if (sodium_init() < 0) std::abort();
  Ed25519Seed seed{};
  randombytes_buf(seed.data(), seed.size());
  SigningKey key = signing_key_from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

Status write_signing_key_files(const std::string& base, const SigningKey& key,
                               std::string_view comment) {
  const std::string secret = base + ".sign.key";
  const std::string public_file = base + ".sign.pub";
  for (const std::string& path : {secret, public_file}) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      return make_error(Errc::kInvalidArgument, path + " exists: kiln never overwrites a key");
    }
  }
  if (auto s = base::write_file_atomically(secret, format_signing_secret_file(key, comment),
                                           {.mode = 0600, .durable = true});
      !s.ok()) {
    return s;
  }
  return base::write_file_atomically(public_file,
                                     format_signing_public_file(key.public_key, comment),
                                     {.mode = 0644, .durable = true});
}

Result<SigningKey> read_signing_secret_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return base::os_error(errno, "signing key file " + path);
  if ((st.st_mode & 077) != 0) {
    return make_error(Errc::kInvalidArgument,
                      "signing key file " + path +
                          " may be read by others: chmod 600 it (or make a new key: kiln keygen "
                          "--signing)");
  }
  auto text = read_key_text(path);
  if (!text.ok()) return text.error();
  auto key = parse_signing_key_file(*text, path);
  if (!key.ok()) return key.error();
  if (!key->has_secret) {
    return make_error(Errc::kInvalidArgument,
                      path + " holds only a public key (the secret one is in NAME.sign.key)");
  }
  return key;
}

Result<Ed25519PublicKey> read_signing_public_file(const std::string& path) {
  auto text = read_key_text(path);
  if (!text.ok()) return text.error();
  auto key = parse_signing_key_file(*text, path);
  if (!key.ok()) return key.error();
  return key->public_key;
}

}  // namespace kiln::client
