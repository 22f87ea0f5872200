// Named records in the action cache: a small document (a compile
// manifest, `kiln test`'s duration book or one test's verdict) kept under a
// key the caller derives, as an ActionResult whose only output file is the
// document. Records share the store's action cache, LRU eviction and blob
// verification with everything else, so they need no table of their own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/store.h"

namespace kiln::cas {

// The document stored under `key` as `name`. nullopt when there is no
// entry, or the entry is not a record called `name` (another kind of
// result, a different name), or its blob is gone. Errors are the store's.
Result<std::optional<std::string>> get_record(Store& store, const Digest& key,
                                              const std::string& name);

// Stores `document` under `key` as `name`, replacing what was there.
Status put_record(Store& store, const Digest& key, const std::string& name,
                  std::string_view document);

}  // namespace kiln::cas
