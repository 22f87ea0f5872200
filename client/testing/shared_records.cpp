// shared_records.h: the local store and the scheduler, as one Records.
#include "client/testing/shared_records.h"

namespace kiln::client::testing {

SharedRecords::SharedRecords(StoreRecords& local, std::unique_ptr<grid::GridRecords> remote,
                             cas::DigestFunction function,
                             std::function<void(const std::string&)> warn)
    : local_(local), remote_(std::move(remote)), function_(function), warn_(std::move(warn)) {}

void SharedRecords::give_up(const std::string& why) {
  if (!remote_) return;
  remote_.reset();
  unsent_.clear();
  if (warn_) warn_("the scheduler's shared test records are not used (" + why + ")");
}

std::optional<std::string> SharedRecords::get(const RecordKind& kind, std::string_view material) {
  return std::move(get_many(kind, {std::string(material)}).front());
}

std::vector<std::optional<std::string>> SharedRecords::get_many(
    const RecordKind& kind, const std::vector<std::string>& materials) {
  std::vector<std::optional<std::string>> found(materials.size());
  if (remote_) {
    std::vector<cas::Digest> keys;
    keys.reserve(materials.size());
    for (const std::string& m : materials) keys.push_back(record_key(function_, kind, m));
    auto remote = remote_->get(keys);
    if (remote.ok())
      found = std::move(remote).value();
    else
      give_up(remote.error().message);
  }
  for (std::size_t i = 0; i < materials.size(); ++i)
    if (!found[i]) found[i] = local_.get(kind, materials[i]);
  return found;
}

Status SharedRecords::put(const RecordKind& kind, std::string_view material,
                          std::string_view document) {
  if (remote_) unsent_.emplace_back(record_key(function_, kind, material), std::string(document));
  return local_.put(kind, material, document);
}

std::optional<std::string> SharedRecords::put_if_absent(const RecordKind& kind,
                                                        std::string_view material,
                                                        std::string_view document) {
  if (remote_) {
    auto stored = remote_->put_if_absent(record_key(function_, kind, material), document);
    if (stored.ok()) {
      (void)local_.put(kind, material, *stored);
      return std::move(stored).value();
    }
    give_up(stored.error().message);
  }
  return local_.put_if_absent(kind, material, document);
}

void SharedRecords::flush() {
  if (remote_ && !unsent_.empty()) {
    if (auto sent = remote_->put(unsent_); !sent.ok()) give_up(sent.error().message);
    unsent_.clear();
  }
  local_.flush();
}

}  // namespace kiln::client::testing
