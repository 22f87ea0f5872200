// key_files.h: key files through base/files.h.
#include "proto/key_files.h"

#include <sys/stat.h>

#include <cerrno>

#include "base/files.h"
#include "base/os_error.h"

namespace kiln::proto {

Status write_key_files(const std::string& base, const CurveKeyPair& keys,
                       std::string_view comment) {
  for (const std::string& path : {base + ".key", base + ".pub"}) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      return make_error(Errc::kInvalidArgument, path + " exists: kiln never overwrites a key");
    }
  }
  if (auto s = base::write_file_atomically(base + ".key", format_secret_key_file(keys, comment),
                                           {.mode = 0600, .durable = true});
      !s.ok()) {
    return s;
  }
  return base::write_file_atomically(base + ".pub",
                                     format_public_key_file(keys.public_key, comment),
                                     {.mode = 0644, .durable = true});
}

Result<CurveKeyPair> read_secret_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return base::os_error(errno, "key file " + path);
  if ((st.st_mode & 077) != 0) {
    return make_error(Errc::kInvalidArgument,
                      "key file " + path +
                          " may be read by others: chmod 600 it (or make a new key: kiln keygen)");
  }
  auto text = base::read_file(path, {.max_bytes = 4096});
  if (!text.ok()) return text.error();
  auto keys = parse_key_file(*text, path);
  if (!keys.ok()) return keys.error();
  if (keys->secret_key.empty()) {
    return make_error(Errc::kInvalidArgument,
                      path + " holds only a public key (the secret one is in NAME.key)");
  }
  return keys;
}

Result<std::string> read_public_key(const std::string& key_or_path) {
  if (is_curve_key(key_or_path)) return key_or_path;
  auto text = base::read_file(key_or_path, {.max_bytes = 4096});
  if (!text.ok()) {
    return make_error(text.error().code, "'" + key_or_path +
                                             "' is neither a Z85 public key nor a readable key "
                                             "file (" +
                                             text.error().message + ")");
  }
  auto keys = parse_key_file(*text, key_or_path);
  if (!keys.ok()) return keys.error();
  return keys->public_key;
}

}  // namespace kiln::proto
