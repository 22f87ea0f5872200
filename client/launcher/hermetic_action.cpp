// hermetic_action.h: the hermetic compile action, byte for byte.
#include "client/launcher/hermetic_action.h"

#include <algorithm>

#include "cas/input_root.h"
#include "client/launcher/compile_key.h"

namespace kiln::client::launcher {
namespace {

constexpr std::string_view kOutDir = ".kiln-out";
constexpr std::string_view kBase = "/.kiln-base";

// Whether `path` is `dir` or below it (both absolute and normalized).
bool within(std::string_view path, std::string_view dir) {
  if (dir == "/") return !path.empty() && path.front() == '/';
  return path.substr(0, dir.size()) == dir &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

// The deepest directory holding both (absolute, normalized).
std::string common_dir(std::string_view a, std::string_view b) {
  std::size_t end = 0;
  for (std::size_t i = 1; i <= a.size() && i <= b.size(); ++i) {
    const bool a_end = i == a.size() || a[i] == '/';
    const bool b_end = i == b.size() || b[i] == '/';
    if (a_end && b_end) end = i;
    if (a_end != b_end || (i < a.size() && i < b.size() && a[i] != b[i])) break;
  }
  return end == 0 ? std::string("/") : std::string(a.substr(0, end));
}

// `path` with `root` replaced by /.kiln-base when it is under it.
std::string relocated(std::string_view path, std::string_view root) {
  if (root.empty() || !within(path, root)) return std::string(path);
  return std::string(kBase) + std::string(path.substr(root.size()));
}

// The directory a symlink at `link` with a relative `target` points to,
// lexically.
std::string lexical_target(const std::string& link, const std::string& target) {
  std::vector<std::string> parts;
  const auto push = [&](std::string_view path) {
    std::size_t start = 0;
    while (start <= path.size()) {
      std::size_t slash = path.find('/', start);
      if (slash == std::string_view::npos) slash = path.size();
      const std::string_view part = path.substr(start, slash - start);
      if (part == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.emplace_back(part);
      }
      start = slash + 1;
    }
  };
  push(link.substr(0, link.rfind('/')));
  push(target);
  std::string out;
  for (const std::string& part : parts) out += "/" + part;
  return out.empty() ? "/" : out;
}

// `path` without its leading '/', or an error when it is not absolute and
// normalized ("/" itself is the root: "").
Result<std::string> relative(const std::string& path, const char* what) {
  if (path == "/") return std::string();
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') {
    return make_error(Errc::kInvalidArgument,
                      std::string(what) + " '" + path + "' is not an absolute path");
  }
  std::string rel = path.substr(1);
  if (auto s = cas::validate_relative_path(rel); !s.ok()) {
    return make_error(Errc::kInvalidArgument, std::string(what) + " '" + path +
                                                  "' is not normalized: " + s.error().message);
  }
  return rel;
}

}  // namespace

std::string relocation_root(const HermeticInput& input, std::string_view basedir,
                            std::string_view comp_dir) {
  if (basedir.empty() || !within(input.cwd, basedir)) return "";
  if (!comp_dir.empty() && comp_dir.front() == '/' && within(comp_dir, basedir)) return "";
  if (input.environment != nullptr) {
    for (std::string_view name : compile_environment_names()) {
      const auto it = input.environment->find(std::string(name));
      if (it != input.environment->end() && it->second.find(basedir) != std::string::npos) {
        return "";
      }
    }
  }
  std::string root = input.cwd;
  const auto include = [&](std::string_view path) {
    if (within(path, basedir)) root = common_dir(root, path);
    return std::string(path);
  };
  for (const HermeticEntry& entry : input.entries) include(entry.path);
  const CompileArgs& args = *input.args;
  for (const auto* group : {&args.preprocessor_args, &args.compiler_args}) {
    for (const std::string& arg : *group) map_arg_paths(arg, include);
  }
  map_arg_paths(args.source, include);
  for (const HermeticEntry& entry : input.entries) {
    if (entry.kind == HermeticEntry::Kind::kSymlink && within(entry.path, root) &&
        !within(lexical_target(entry.path, entry.target), root)) {
      return "";
    }
  }
  return root;
}

Result<HermeticAction> hermetic_action(const HermeticInput& input) {
  const CompileArgs& args = *input.args;
  const auto relocate = [&](std::string_view path) { return relocated(path, input.relocate); };
  const auto relocate_arg = [&](const std::string& arg) {
    return input.relocate.empty() ? arg : map_arg_paths(arg, relocate);
  };
  cas::Command command;
  command.arguments.push_back(input.compiler);
  for (const auto* group : {&args.preprocessor_args, &args.compiler_args}) {
    for (const std::string& arg : *group) command.arguments.push_back(relocate_arg(arg));
  }
  if (args.explicit_language)
    command.arguments.insert(command.arguments.end(), {"-x", args.language});
  command.arguments.insert(command.arguments.end(), {"-c", relocate_arg(args.source), "-o",
                                                     "/" + std::string(kHermeticObject)});
  command.environment.push_back({"PATH", input.path_env});
  add_compile_environment(input.environment, command.environment);
  auto cwd = relative(relocate(input.cwd), "working directory");
  if (!cwd.ok()) return cwd.error();
  command.working_directory = *cwd;
  command.output_files = {kHermeticObject};
  command.platform = input.platform;
  command.platform.push_back({"input-root", "filesystem"});
  std::sort(command.platform.begin(), command.platform.end());

  cas::InputRootBuilder root(input.fn);
  for (const HermeticEntry& entry : input.entries) {
    auto path = relative(relocate(entry.path), "input");
    if (!path.ok()) return path.error();
    Status added;
    switch (entry.kind) {
      case HermeticEntry::Kind::kFile:
        added = root.add_file(*path, entry.digest, entry.executable);
        break;
      case HermeticEntry::Kind::kDirectory:
        if (!path->empty()) added = root.add_directory(*path);
        break;
      case HermeticEntry::Kind::kSymlink:
        added = root.add_symlink(*path, entry.target);
        break;
    }
    if (!added.ok()) return added.error();
  }
  if (auto s = root.add_directory(std::string(kOutDir)); !s.ok()) return s.error();

  HermeticAction out;
  auto encoded_command = cas::encode_command(command);
  if (!encoded_command.ok()) return encoded_command.error();
  out.encoded_command = std::move(encoded_command).value();
  auto tree = root.finish();
  if (!tree.ok()) return tree.error();
  out.input_root = std::move(tree).value();
  out.action.command_digest = cas::digest_of(input.fn, out.encoded_command);
  out.action.input_root_digest = out.input_root.root;
  auto encoded_action = cas::encode_action(out.action, input.fn);
  if (!encoded_action.ok()) return encoded_action.error();
  out.encoded_action = std::move(encoded_action).value();
  out.digest = cas::digest_of(input.fn, out.encoded_action);
  return out;
}

namespace {

constexpr std::string_view kToolchainHeader = "kiln-hermetic-toolchain-v1";

}  // namespace

// Lines: the header, "PATH <value>", then per entry "F <digest> <0|1>
// <path>", "D <path>" or "L <target> <path>" (a target has no spaces or
// newlines: those are not written, and so not parsed).
std::string format_toolchain_entries(const ToolchainEntries& toolchain) {
  std::string text = std::string(kToolchainHeader) + "\nPATH " + toolchain.path_env + "\n";
  for (const HermeticEntry& entry : toolchain.entries) {
    switch (entry.kind) {
      case HermeticEntry::Kind::kFile:
        text += "F " + entry.digest.to_string() + (entry.executable ? " 1 " : " 0 ") + entry.path;
        break;
      case HermeticEntry::Kind::kDirectory:
        text += "D " + entry.path;
        break;
      case HermeticEntry::Kind::kSymlink:
        text += "L " + entry.target + " " + entry.path;
        break;
    }
    text += "\n";
  }
  return text;
}

std::optional<ToolchainEntries> parse_toolchain_entries(std::string_view text,
                                                        cas::DigestFunction fn) {
  ToolchainEntries out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) return std::nullopt;  // cut short
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    if (line_no++ == 0) {
      if (line != kToolchainHeader) return std::nullopt;
      continue;
    }
    if (line_no == 2) {
      if (line.substr(0, 5) != "PATH ") return std::nullopt;
      out.path_env = std::string(line.substr(5));
      continue;
    }
    // Split off the first (and for F and L the second and third) words.
    const auto word = [](std::string_view& rest) {
      const std::size_t space = rest.find(' ');
      std::string_view w = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      return w;
    };
    std::string_view rest = line;
    const std::string_view kind = word(rest);
    HermeticEntry entry;
    if (kind == "F") {
      auto digest = cas::parse_digest(word(rest));
      const std::string_view x = word(rest);
      if (!digest.ok() || digest->function != fn || (x != "0" && x != "1")) return std::nullopt;
      entry.digest = *digest;
      entry.executable = x == "1";
    } else if (kind == "D") {
      entry.kind = HermeticEntry::Kind::kDirectory;
    } else if (kind == "L") {
      entry.kind = HermeticEntry::Kind::kSymlink;
      entry.target = std::string(word(rest));
      if (entry.target.empty()) return std::nullopt;
    } else {
      return std::nullopt;
    }
    if (rest.empty() || rest.front() != '/') return std::nullopt;
    entry.path = std::string(rest);
    out.entries.push_back(std::move(entry));
  }
  if (line_no < 2) return std::nullopt;
  return out;
}

}  // namespace kiln::client::launcher
