#include "reapi/translate.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <set>

namespace kiln::reapi {
namespace {

// Joins the working directory and a path relative to it, resolving "." and
// ".." that stay inside the root. kInvalidArgument if it leaves it.
Result<std::string> join_inside(const std::string& dir, const std::string& path, const char* what) {
  if (path.empty() || path.front() == '/') {
    return make_error(Errc::kInvalidArgument,
                      std::string(what) + " '" + path + "' is not a relative path");
  }
  std::vector<std::string> parts;
  auto add = [&](std::string_view text) -> Status {
    while (!text.empty()) {
      const auto slash = text.find('/');
      const std::string_view part = text.substr(0, slash);
      text = slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
      if (part.empty() || part == ".") continue;
      if (part == "..") {
        if (parts.empty()) {
          return make_error(Errc::kInvalidArgument,
                            std::string(what) + " '" + path + "' steps out of the input root");
        }
        parts.pop_back();
        continue;
      }
      parts.emplace_back(part);
    }
    return {};
  };
  if (auto s = add(dir); !s.ok()) return s.error();
  if (auto s = add(path); !s.ok()) return s.error();
  std::string joined;
  for (const auto& p : parts) joined += (joined.empty() ? "" : "/") + p;
  if (joined.empty()) {
    return make_error(Errc::kInvalidArgument, std::string(what) + " '" + path + "' names the root");
  }
  if (auto s = cas::validate_relative_path(joined); !s.ok()) {
    return make_error(Errc::kInvalidArgument,
                      std::string(what) + " '" + path + "': " + s.error().message);
  }
  return joined;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

google::protobuf::Timestamp timestamp(std::uint64_t us) {
  google::protobuf::Timestamp t;
  t.set_seconds(static_cast<std::int64_t>(us / 1000000));
  t.set_nanos(static_cast<std::int32_t>((us % 1000000) * 1000));
  return t;
}

}  // namespace

std::string serialize(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

Status parse(std::string_view bytes, google::protobuf::MessageLite& message,
             const std::string& what) {
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return make_error(Errc::kInvalidArgument, what + " is not a valid " + message.GetTypeName());
  }
  return {};
}

std::vector<cas::Property> platform_to_kiln(const v2::Platform& platform) {
  std::vector<cas::Property> out;
  for (const auto& p : platform.properties()) {
    if (p.name() == "OSFamily") {
      out.push_back({"os", lower(p.value())});
    } else if (p.name() == "ISA") {
      std::string arch = lower(p.value());
      if (arch == "x86-64" || arch == "amd64" || arch == "x86_64") arch = "x86_64";
      if (arch == "arm64" || arch == "aarch64") arch = "aarch64";
      out.push_back({"arch", arch});
    } else {
      out.push_back({p.name(), p.value()});
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<cas::Command> command_to_kiln(const v2::Command& command,
                                     const v2::Platform& action_platform) {
  cas::Command out;
  if (command.arguments().empty()) {
    return make_error(Errc::kInvalidArgument, "the Command has no arguments");
  }
  out.arguments.assign(command.arguments().begin(), command.arguments().end());
  std::set<std::string> names;
  for (const auto& e : command.environment_variables()) {
    if (!names.insert(e.name()).second) {
      return make_error(Errc::kInvalidArgument,
                        "environment variable " + e.name() + " is given twice");
    }
    out.environment.push_back({e.name(), e.value()});
  }
  std::sort(out.environment.begin(), out.environment.end(),
            [](const cas::Property& a, const cas::Property& b) { return a.name < b.name; });
  if (!command.working_directory().empty()) {
    auto dir = join_inside("", command.working_directory(), "working_directory");
    if (!dir.ok()) return dir.error();
    out.working_directory = *dir;
  }
  if (command.output_files().empty() && command.output_directories().empty() &&
      !command.output_paths().empty()) {
    return make_error(Errc::kInvalidArgument,
                      "output_paths (API 2.1) is not supported: this server speaks API 2.0; "
                      "send output_files and output_directories");
  }
  for (const auto& f : command.output_files()) {
    auto path = join_inside(out.working_directory, f, "output file");
    if (!path.ok()) return path.error();
    out.output_files.push_back(*path);
  }
  for (const auto& d : command.output_directories()) {
    auto path = join_inside(out.working_directory, d, "output directory");
    if (!path.ok()) return path.error();
    out.output_directories.push_back(*path);
  }
  std::sort(out.output_files.begin(), out.output_files.end());
  std::sort(out.output_directories.begin(), out.output_directories.end());
  for (const auto* list : {&out.output_files, &out.output_directories}) {
    if (std::adjacent_find(list->begin(), list->end()) != list->end()) {
      return make_error(Errc::kInvalidArgument, "an output path is given twice");
    }
  }
  // The Action's platform replaces the Command's (API 2.2).
  out.platform =
      platform_to_kiln(action_platform.properties().empty() ? command.platform() : action_platform);
  return out;
}

Result<cas::Directory> directory_to_kiln(const v2::Directory& directory, const ChildDigest& child) {
  cas::Directory out;
  for (const auto& f : directory.files()) {
    auto digest = from_proto(f.digest());
    if (!digest.ok())
      return make_error(Errc::kInvalidArgument, "file " + f.name() + ": " + digest.error().message);
    out.files.push_back({f.name(), *digest, f.is_executable()});
  }
  for (const auto& d : directory.directories()) {
    auto digest = from_proto(d.digest());
    if (!digest.ok())
      return make_error(Errc::kInvalidArgument,
                        "directory " + d.name() + ": " + digest.error().message);
    auto kiln_digest = child(*digest);
    if (!kiln_digest.ok()) return kiln_digest.error();
    out.directories.push_back({d.name(), *kiln_digest});
  }
  for (const auto& s : directory.symlinks()) {
    if (!s.target().empty() && s.target().front() == '/') {
      return make_error(Errc::kInvalidArgument, "symlink " + s.name() + " -> " + s.target() +
                                                    ": absolute symlinks are not allowed");
    }
    out.symlinks.push_back({s.name(), s.target()});
  }
  // The kiln encoding checks names, order and uniqueness.
  if (auto encoded = cas::encode_directory(out, cas::DigestFunction::kSha256); !encoded.ok()) {
    return make_error(Errc::kInvalidArgument, "Directory: " + encoded.error().message);
  }
  return out;
}

v2::Directory directory_to_reapi(const cas::Directory& directory, const ChildDigest& child) {
  v2::Directory out;
  for (const auto& f : directory.files) {
    auto* node = out.add_files();
    node->set_name(f.name);
    *node->mutable_digest() = to_proto(f.digest);
    node->set_is_executable(f.executable);
  }
  for (const auto& d : directory.directories) {
    auto* node = out.add_directories();
    node->set_name(d.name);
    auto digest = child(d.digest);
    if (digest.ok()) *node->mutable_digest() = to_proto(*digest);
  }
  for (const auto& s : directory.symlinks) {
    auto* node = out.add_symlinks();
    node->set_name(s.name);
    node->set_target(s.target);
  }
  return out;
}

std::string output_path_to_reapi(const std::string& kiln_path,
                                 const std::string& working_directory) {
  if (working_directory.empty()) return kiln_path;
  const std::string prefix = working_directory + "/";
  if (kiln_path.compare(0, prefix.size(), prefix) == 0) return kiln_path.substr(prefix.size());
  // Outside the working directory: as many ".." as it is deep.
  std::string up;
  for (char c : prefix) {
    if (c == '/') up += "../";
  }
  return up + kiln_path;
}

v2::ExecutedActionMetadata metadata_to_reapi(const cas::ExecutionMetadata& m) {
  v2::ExecutedActionMetadata out;
  out.set_worker(m.worker_id);
  // mutable_* makes a field present: only the phases that happened.
  const std::pair<std::uint64_t, google::protobuf::Timestamp* (v2::ExecutedActionMetadata::*)()>
      phases[] = {
          {m.queued_us, &v2::ExecutedActionMetadata::mutable_queued_timestamp},
          {m.worker_start_us, &v2::ExecutedActionMetadata::mutable_worker_start_timestamp},
          {m.worker_end_us, &v2::ExecutedActionMetadata::mutable_worker_completed_timestamp},
          {m.input_fetch_start_us,
           &v2::ExecutedActionMetadata::mutable_input_fetch_start_timestamp},
          {m.input_fetch_end_us,
           &v2::ExecutedActionMetadata::mutable_input_fetch_completed_timestamp},
          {m.execution_start_us, &v2::ExecutedActionMetadata::mutable_execution_start_timestamp},
          {m.execution_end_us, &v2::ExecutedActionMetadata::mutable_execution_completed_timestamp},
          {m.output_upload_start_us,
           &v2::ExecutedActionMetadata::mutable_output_upload_start_timestamp},
          {m.output_upload_end_us,
           &v2::ExecutedActionMetadata::mutable_output_upload_completed_timestamp},
      };
  for (const auto& [us, field] : phases) {
    if (us != 0) *(out.*field)() = timestamp(us);
  }
  return out;
}

}  // namespace kiln::reapi
