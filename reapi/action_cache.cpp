#include "reapi/action_cache.h"

#include "reapi/translate.h"

namespace kiln::reapi {
namespace {

// Blobs a client may ask to have inlined in GetActionResult, at most.
constexpr std::size_t kMaxInlineBytes = std::size_t{1} << 20;
// The largest Tree blob an UpdateActionResult may name (it is read whole).
constexpr std::uint64_t kMaxTreeBytes = std::uint64_t{256} << 20;

Status check_path(const std::string& path, const char* what) {
  if (auto s = cas::validate_relative_path(path); !s.ok()) {
    return make_error(Errc::kInvalidArgument,
                      std::string(what) + " '" + path + "': " + s.error().message);
  }
  return {};
}

}  // namespace

Result<std::vector<cas::Digest>> referenced_blobs(SharedStore& store,
                                                  const v2::ActionResult& result) {
  std::vector<cas::Digest> out;
  auto add = [&](const v2::Digest& d, const std::string& what) -> Status {
    auto digest = from_proto(d);
    if (!digest.ok())
      return make_error(Errc::kInvalidArgument, what + ": " + digest.error().message);
    out.push_back(*digest);
    return {};
  };
  for (const auto& f : result.output_files()) {
    if (auto s = check_path(f.path(), "output file"); !s.ok()) return s.error();
    if (auto s = add(f.digest(), "output file " + f.path()); !s.ok()) return s.error();
  }
  if (result.has_stdout_digest()) {
    if (auto s = add(result.stdout_digest(), "stdout_digest"); !s.ok()) return s.error();
  }
  if (result.has_stderr_digest()) {
    if (auto s = add(result.stderr_digest(), "stderr_digest"); !s.ok()) return s.error();
  }
  for (const auto& d : result.output_directories()) {
    if (auto s = check_path(d.path(), "output directory"); !s.ok()) return s.error();
    if (auto s = add(d.tree_digest(), "output directory " + d.path()); !s.ok()) return s.error();
    const cas::Digest tree_digest = out.back();
    if (tree_digest.size > kMaxTreeBytes) {
      return make_error(Errc::kInvalidArgument, "the Tree of output directory " + d.path() +
                                                    " is over the limit of 256 MiB");
    }
    auto blob = store.with([&](cas::Store& s) { return s.get(tree_digest); });
    if (!blob.ok()) return blob.error();
    if (!*blob) {
      return make_error(Errc::kNotFound, "blobs/" + tree_digest.to_string() +
                                             " (the Tree of output directory " + d.path() + ")");
    }
    v2::Tree tree;
    if (auto s = parse(**blob, tree, "the Tree of output directory " + d.path()); !s.ok()) {
      return s.error();
    }
    auto add_files = [&](const v2::Directory& dir) -> Status {
      for (const auto& f : dir.files()) {
        if (auto s = add(f.digest(), "file " + f.name() + " in " + d.path()); !s.ok()) return s;
      }
      return {};
    };
    if (auto s = add_files(tree.root()); !s.ok()) return s.error();
    for (const auto& child : tree.children()) {
      if (auto s = add_files(child); !s.ok()) return s.error();
    }
  }
  for (const auto* list : {&result.output_file_symlinks(), &result.output_directory_symlinks(),
                           &result.output_symlinks()}) {
    for (const auto& link : *list) {
      if (auto s = check_path(link.path(), "output symlink"); !s.ok()) return s.error();
    }
  }
  return out;
}

Status put_action_result(SharedStore& store, const cas::Digest& action,
                         const v2::ActionResult& result) {
  auto referenced = referenced_blobs(store, result);
  if (!referenced.ok()) return referenced.error();
  const std::string encoded = serialize(result);
  return store.with([&](cas::Store& s) -> Status {
    auto missing = s.find_missing(*referenced);
    if (!missing.ok()) return missing.error();
    if (!missing->empty()) {
      return make_error(Errc::kNotFound, "blobs/" + missing->front().to_string() +
                                             " is not in the CAS (upload outputs first)");
    }
    return s.put_action_result(action, encoded, *referenced);
  });
}

Result<std::optional<v2::ActionResult>> get_action_result(SharedStore& store,
                                                          const cas::Digest& action) {
  auto entry = store.with([&](cas::Store& s) { return s.get_action_result(action); });
  if (!entry.ok()) return entry.error();
  if (!*entry) return std::optional<v2::ActionResult>{};
  v2::ActionResult result;
  // An entry that does not parse is not this API's (or is damaged): a miss.
  if (!parse(**entry, result, "the cached result").ok()) return std::optional<v2::ActionResult>{};
  return std::optional<v2::ActionResult>{std::move(result)};
}

grpc::Status ActionCacheService::GetActionResult(grpc::ServerContext* context,
                                                 const v2::GetActionResultRequest* request,
                                                 v2::ActionResult* response) {
  if (auto s = gate_.admit(*context, Method::kGetActionResult); !s.ok()) return s;
  if (auto s = check_digest_function(request->digest_function()); !s.ok())
    return to_grpc(s.error());
  auto digest = from_proto(request->action_digest());
  if (!digest.ok()) return invalid("action_digest: " + digest.error().message);
  auto result = get_action_result(store_, *digest);
  if (!result.ok()) return to_grpc(result.error());
  if (!*result) {
    return {grpc::StatusCode::NOT_FOUND, "no cached result for action " + digest->to_string()};
  }
  *response = std::move(**result);
  // Inlining, as asked and as far as the limit allows.
  std::size_t inlined = 0;
  auto inline_blob = [&](const v2::Digest& d, std::string* into) {
    auto parsed = from_proto(d);
    if (!parsed.ok() || parsed->size == 0 || inlined + parsed->size > kMaxInlineBytes) return;
    auto blob = store_.with([&](cas::Store& s) { return s.get(*parsed); });
    if (blob.ok() && *blob) {
      inlined += (*blob)->size();
      *into = std::move(**blob);
    }
  };
  if (request->inline_stdout() && response->has_stdout_digest()) {
    inline_blob(response->stdout_digest(), response->mutable_stdout_raw());
  }
  if (request->inline_stderr() && response->has_stderr_digest()) {
    inline_blob(response->stderr_digest(), response->mutable_stderr_raw());
  }
  for (auto& f : *response->mutable_output_files()) {
    for (const auto& wanted : request->inline_output_files()) {
      if (wanted == f.path()) inline_blob(f.digest(), f.mutable_contents());
    }
  }
  return grpc::Status::OK;
}

grpc::Status ActionCacheService::UpdateActionResult(grpc::ServerContext* context,
                                                    const v2::UpdateActionResultRequest* request,
                                                    v2::ActionResult* response) {
  if (auto s = gate_.admit(*context, Method::kUpdateActionResult); !s.ok()) return s;
  if (auto s = check_digest_function(request->digest_function()); !s.ok())
    return to_grpc(s.error());
  auto digest = from_proto(request->action_digest());
  if (!digest.ok()) return invalid("action_digest: " + digest.error().message);
  v2::ActionResult result = request->action_result();
  // Inlined bytes go to the CAS; the entry names them by digest. (Only
  // where there are some: mutable_* would make an absent digest present.)
  auto store_raw = [&](std::string& raw) -> Result<v2::Digest> {
    auto put = store_.with([&](cas::Store& s) { return s.put(raw); });
    if (!put.ok()) return put.error();
    raw.clear();
    return to_proto(*put);
  };
  std::vector<std::pair<std::string*, v2::Digest*>> inlined;
  if (!result.stdout_raw().empty()) {
    inlined.emplace_back(result.mutable_stdout_raw(), result.mutable_stdout_digest());
  }
  if (!result.stderr_raw().empty()) {
    inlined.emplace_back(result.mutable_stderr_raw(), result.mutable_stderr_digest());
  }
  for (auto& f : *result.mutable_output_files()) {
    if (!f.contents().empty()) inlined.emplace_back(f.mutable_contents(), f.mutable_digest());
  }
  for (auto& [raw, digest_field] : inlined) {
    auto stored = store_raw(*raw);
    if (!stored.ok()) return to_grpc(stored.error());
    *digest_field = *stored;
  }
  if (auto s = put_action_result(store_, *digest, result); !s.ok()) {
    if (s.error().code == Errc::kNotFound) {
      return {grpc::StatusCode::FAILED_PRECONDITION, s.error().message};
    }
    return to_grpc(s.error());
  }
  *response = std::move(result);
  return grpc::Status::OK;
}

}  // namespace kiln::reapi
