// compile_key.h: keys and manifests of the compiler launcher.
#include "client/launcher/compile_key.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace kiln::client::launcher {
namespace {

using std::string_view;

bool starts_with(string_view s, string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::vector<string_view> components(string_view path) {
  std::vector<string_view> parts;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == string_view::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// Appends one length-prefixed field, so no two different inputs can make
// the same material.
void field(std::string& out, string_view name, string_view value) {
  out += name;
  out += '=';
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += '\n';
}

constexpr std::array kPathOptionPrefixes = {
    string_view("-I"),         string_view("-isystem"),       string_view("-iquote"),
    string_view("-idirafter"), string_view("-include"),       string_view("-imacros"),
    string_view("-iprefix"),   string_view("-iwithprefix"),   string_view("-isysroot"),
    string_view("--sysroot="), string_view("-fprofile-dir="),
};
constexpr std::array kPrefixMapOptions = {string_view("-fdebug-prefix-map="),
                                          string_view("-ffile-prefix-map="),
                                          string_view("-fmacro-prefix-map=")};

}  // namespace

const std::vector<string_view>& compile_environment_names() {
  static const std::vector<string_view> kNames = {
      // Include search paths.
      "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "OBJCPLUS_INCLUDE_PATH",
      // Where the driver finds its programs.
      "GCC_EXEC_PREFIX", "COMPILER_PATH",
      // __DATE__/__TIME__ for reproducible builds.
      "SOURCE_DATE_EPOCH",
      // The language of diagnostics, replayed on hits.
      "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES"};
  return kNames;
}

void add_compile_environment(const std::map<std::string, std::string>* environment,
                             std::vector<cas::Property>& out) {
  if (environment != nullptr) {
    for (string_view name : compile_environment_names()) {
      if (auto it = environment->find(std::string(name)); it != environment->end()) {
        out.push_back({std::string(name), it->second});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const cas::Property& a, const cas::Property& b) { return a.name < b.name; });
}

std::string PathRewrite::to_key(string_view path, bool* rewritten) const {
  if (rewritten != nullptr) *rewritten = false;
  if (basedir.empty() || !starts_with(path, basedir) ||
      (path.size() > basedir.size() && path[basedir.size()] != '/' && basedir != "/")) {
    return std::string(path);
  }
  // The path relative to the working directory: ".." for every directory
  // of cwd below the common prefix, then the rest of the path as written
  // (its own "." or ".." components are kept, so from_key() restores it).
  const auto cwd_parts = components(cwd);
  const auto path_parts = components(path);
  std::size_t common = 0;
  while (common < cwd_parts.size() && common < path_parts.size() &&
         cwd_parts[common] == path_parts[common] && path_parts[common] != "." &&
         path_parts[common] != "..") {
    ++common;
  }
  std::string relative;
  for (std::size_t i = common; i < cwd_parts.size(); ++i) {
    relative += relative.empty() ? ".." : "/..";
  }
  for (std::size_t i = common; i < path_parts.size(); ++i) {
    if (!relative.empty()) relative += '/';
    relative += path_parts[i];
  }
  if (rewritten != nullptr) *rewritten = true;
  return relative.empty() ? std::string(".") : relative;
}

std::string PathRewrite::from_key(string_view path) const {
  auto parts = components(cwd);
  while (starts_with(path, "..") && (path.size() == 2 || path[2] == '/')) {
    if (!parts.empty()) parts.pop_back();
    path.remove_prefix(std::min<std::size_t>(path.size(), 3));
  }
  if (path == ".") path = {};
  std::string out;
  for (string_view p : parts) {
    out += '/';
    out += p;
  }
  if (!path.empty()) {
    out += '/';
    out += path;
  }
  return out.empty() ? "/" : out;
}

std::string map_arg_paths(string_view arg, const std::function<std::string(string_view)>& map) {
  if (starts_with(arg, "/")) return map(arg);
  for (string_view prefix : kPrefixMapOptions) {
    if (!starts_with(arg, prefix)) continue;
    const string_view value = arg.substr(prefix.size());
    const auto equals = value.find('=');
    if (equals == string_view::npos) return std::string(arg);
    return std::string(prefix) + map(value.substr(0, equals)) + std::string(value.substr(equals));
  }
  for (string_view prefix : kPathOptionPrefixes) {
    if (starts_with(arg, prefix) && arg.size() > prefix.size() && arg[prefix.size()] == '/') {
      return std::string(prefix) + map(arg.substr(prefix.size()));
    }
  }
  return std::string(arg);
}

std::string PathRewrite::arg_to_key(string_view arg) const {
  if (basedir.empty()) return std::string(arg);
  return map_arg_paths(arg, [this](string_view path) { return to_key(path); });
}

std::string mapped_directory(const std::string& cwd,
                             const std::vector<std::string>& compiler_args) {
  std::string mapped = cwd;
  for (const std::string& arg : compiler_args) {
    for (string_view prefix :
         {string_view("-fdebug-prefix-map="), string_view("-ffile-prefix-map=")}) {
      if (!starts_with(arg, prefix)) continue;
      const string_view value = string_view(arg).substr(prefix.size());
      const auto equals = value.find('=');
      if (equals == string_view::npos) continue;
      const string_view from = value.substr(0, equals);
      if (starts_with(cwd, from)) {
        mapped = std::string(value.substr(equals + 1)) + cwd.substr(from.size());
      }
    }
  }
  return mapped;
}

TimeMacros scan_time_macros(string_view text) {
  TimeMacros found;
  for (std::size_t at = text.find("__"); at != string_view::npos; at = text.find("__", at + 2)) {
    const string_view rest = text.substr(at);
    if (starts_with(rest, "__DATE__")) found.date = true;
    if (starts_with(rest, "__TIME__") || starts_with(rest, "__TIMESTAMP__")) found.time = true;
    if (found.date && found.time) break;
  }
  return found;
}

std::vector<HeaderProbe> scan_has_include(string_view text) {
  std::vector<HeaderProbe> probes;
  constexpr string_view kProbe = "__has_include";
  for (std::size_t at = text.find(kProbe); at != string_view::npos;
       at = text.find(kProbe, at + kProbe.size())) {
    string_view rest = text.substr(at + kProbe.size());
    if (starts_with(rest, "_next")) rest.remove_prefix(5);
    const auto skip_space = [&] {
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    };
    skip_space();
    if (rest.empty() || rest.front() != '(') continue;
    rest.remove_prefix(1);
    skip_space();
    if (rest.empty() || (rest.front() != '<' && rest.front() != '"')) continue;
    const char close = rest.front() == '<' ? '>' : '"';
    const std::size_t end = rest.find_first_of(std::string{close, '\n'}, 1);
    if (end == string_view::npos || rest[end] != close || end == 1) continue;
    HeaderProbe probe{std::string(rest.substr(1, end - 1)), close == '>'};
    if (std::find(probes.begin(), probes.end(), probe) == probes.end()) {
      probes.push_back(std::move(probe));
    }
  }
  return probes;
}

std::vector<std::string> include_dirs(const std::vector<std::string>& preprocessor_args) {
  std::vector<std::string> dirs;
  for (std::size_t i = 0; i < preprocessor_args.size(); ++i) {
    const std::string& a = preprocessor_args[i];
    for (string_view option : {string_view("-I"), string_view("-iquote"), string_view("-isystem"),
                               string_view("-idirafter")}) {
      if (!starts_with(a, option)) continue;
      if (a.size() > option.size()) {
        dirs.push_back(a.substr(option.size()));
      } else if (i + 1 < preprocessor_args.size()) {
        dirs.push_back(preprocessor_args[++i]);
      }
      break;
    }
  }
  return dirs;
}

std::string direct_key_material(const DirectKeyInput& input) {
  const CompileArgs& args = *input.args;
  std::string out = "kiln-direct-v1\n";
  field(out, "identity", input.identity.to_string());
  field(out, "language", args.language);
  field(out, "explicit-language", args.explicit_language ? "1" : "0");
  for (const std::string& arg : args.preprocessor_args) {
    field(out, "cpp", input.rewrite.arg_to_key(arg));
  }
  for (const std::string& arg : args.compiler_args) field(out, "cc", input.rewrite.arg_to_key(arg));
  field(out, "source", input.rewrite.to_key(args.source));
  field(out, "source-digest", input.source_digest.to_string());
  // With -g the object records the working directory (DW_AT_comp_dir),
  // after the prefix maps; it is in the key as the object will have it.
  if (args.debug) field(out, "comp-dir", mapped_directory(input.rewrite.cwd, args.compiler_args));
  if (input.environment != nullptr) {
    for (string_view name : compile_environment_names()) {
      if (auto it = input.environment->find(std::string(name)); it != input.environment->end()) {
        field(out, "env:" + std::string(name), it->second);
      }
    }
  }
  if (!input.date.empty()) field(out, "date", input.date);
  return out;
}

std::string encode_manifest(const Manifest& manifest) {
  std::string out = "kiln-manifest-v2\n";
  for (const ManifestEntry& entry : manifest.entries) {
    out += "E " + entry.result.to_string() + " " + std::to_string(entry.files.size()) + "\n";
    for (const ManifestFile& file : entry.files) {
      out += file.rewritten ? "r " : "a ";
      out += file.digest.to_string();
      for (const std::int64_t n :
           {static_cast<std::int64_t>(file.stat.device), static_cast<std::int64_t>(file.stat.inode),
            static_cast<std::int64_t>(file.stat.size), file.stat.mtime_ns, file.stat.ctime_ns}) {
        out += ' ';
        out += std::to_string(n);
      }
      out += ' ';
      out += file.path;
      out += '\n';
    }
  }
  return out;
}

std::optional<Manifest> decode_manifest(string_view text, cas::DigestFunction fn) {
  constexpr string_view kHeader = "kiln-manifest-v2\n";
  if (!starts_with(text, kHeader)) return std::nullopt;
  text.remove_prefix(kHeader.size());
  const auto next_line = [&](string_view& line) {
    const auto newline = text.find('\n');
    if (newline == string_view::npos) return false;
    line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    return true;
  };
  const auto digest = [&](string_view s) -> std::optional<cas::Digest> {
    auto d = cas::parse_digest(s);
    if (!d.ok() || d->function != fn) return std::nullopt;
    return *d;
  };
  Manifest manifest;
  string_view line;
  while (next_line(line)) {
    if (!starts_with(line, "E ")) return std::nullopt;
    line.remove_prefix(2);
    const auto space = line.find(' ');
    if (space == string_view::npos) return std::nullopt;
    ManifestEntry entry;
    const auto result = digest(line.substr(0, space));
    if (!result) return std::nullopt;
    entry.result = *result;
    const string_view count_text = line.substr(space + 1);
    std::size_t count = 0;
    const auto [end, ec] =
        std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
    if (ec != std::errc() || end != count_text.data() + count_text.size() || count > 1'000'000) {
      return std::nullopt;
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (!next_line(line) || line.size() < 3 || (line[0] != 'r' && line[0] != 'a') ||
          line[1] != ' ') {
        return std::nullopt;
      }
      string_view rest = line.substr(2);
      const auto word = [&]() -> std::optional<string_view> {
        const auto gap = rest.find(' ');
        if (gap == string_view::npos) return std::nullopt;
        const string_view w = rest.substr(0, gap);
        rest.remove_prefix(gap + 1);
        return w;
      };
      const auto number = [&]() -> std::optional<std::int64_t> {
        const auto w = word();
        std::int64_t n = 0;
        if (!w) return std::nullopt;
        const auto [p, e] = std::from_chars(w->data(), w->data() + w->size(), n);
        if (e != std::errc() || p != w->data() + w->size()) return std::nullopt;
        return n;
      };
      const auto digest_text = word();
      const auto file_digest = digest_text ? digest(*digest_text) : std::nullopt;
      const auto device = number();
      const auto inode = number();
      const auto size = number();
      const auto mtime = number();
      const auto ctime = number();
      const string_view path = rest;
      if (!file_digest || !device || !inode || !size || !mtime || !ctime || path.empty() ||
          path.find('\0') != string_view::npos) {
        return std::nullopt;
      }
      entry.files.push_back(ManifestFile{
          std::string(path), line[0] == 'r', *file_digest,
          FileStat{static_cast<std::uint64_t>(*device), static_cast<std::uint64_t>(*inode),
                   static_cast<std::uint64_t>(*size), *mtime, *ctime}});
    }
    manifest.entries.push_back(std::move(entry));
  }
  if (!text.empty()) return std::nullopt;
  return manifest;
}

void add_manifest_entry(Manifest& manifest, ManifestEntry entry) {
  // The same files with the same contents (their recorded stats may
  // differ) are one entry.
  const auto same_contents = [&](const ManifestEntry& e) {
    return std::equal(e.files.begin(), e.files.end(), entry.files.begin(), entry.files.end(),
                      [](const ManifestFile& a, const ManifestFile& b) {
                        return a.path == b.path && a.rewritten == b.rewritten &&
                               a.digest == b.digest;
                      });
  };
  std::erase_if(manifest.entries, same_contents);
  manifest.entries.insert(manifest.entries.begin(), std::move(entry));
  if (manifest.entries.size() > kMaxManifestEntries) manifest.entries.resize(kMaxManifestEntries);
}

std::string depend_result_material(const cas::Digest& manifest_key,
                                   const std::vector<ManifestFile>& files) {
  std::string out = "kiln-depend-v1\n";
  field(out, "manifest-key", manifest_key.to_string());
  for (const ManifestFile& file : files) {
    field(out, file.rewritten ? "file-r" : "file-a", file.path);
    field(out, "digest", file.digest.to_string());
  }
  return out;
}

}  // namespace kiln::client::launcher
