// Named records in the action cache: see record.h.
#include "cas/record.h"

#include <span>
#include <vector>

#include "cas/model.h"

namespace kiln::cas {

Result<std::optional<std::string>> get_record(Store& store, const Digest& key,
                                              const std::string& name) {
  auto encoded = store.get_action_result(key);
  if (!encoded.ok()) return encoded.error();
  if (!*encoded) return std::optional<std::string>();
  auto result = decode_action_result(
      std::as_bytes(std::span((*encoded)->data(), (*encoded)->size())), store.digest_function());
  if (!result.ok()) return result.error();
  if (result->output_files.size() != 1 || result->output_files[0].path != name)
    return std::optional<std::string>();
  return store.get(result->output_files[0].digest);
}

Status put_record(Store& store, const Digest& key, const std::string& name,
                  std::string_view document) {
  const DigestFunction fn = store.digest_function();
  auto digest = store.put(document);
  if (!digest.ok()) return digest.error();
  auto empty = store.put(std::string_view());
  if (!empty.ok()) return empty.error();
  ActionResult result;
  result.output_files.push_back({name, *digest, false});
  result.stdout_digest = *empty;
  result.stderr_digest = *empty;
  auto encoded = encode_action_result(result, fn);
  if (!encoded.ok()) return encoded.error();
  const std::vector<Digest> referenced = {*digest, *empty};
  return store.put_action_result(key, *encoded, referenced);
}

}  // namespace kiln::cas
