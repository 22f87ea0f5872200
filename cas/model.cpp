// Canonical encoding of kiln's data model (cas/model.h).
//
// How it works: a value is first checked against the rules of its type
// (sorted lists, unique and valid names, digests of the one digest function),
// then copied into a Cap'n Proto builder and turned into canonical form with
// capnp::canonicalize(). Empty texts, data and lists are left unset (null),
// so a field at its default costs nothing and adding a field to the schema
// leaves existing digests unchanged. The converters for digests, platform
// properties, Action and ActionResult are wire_model.cpp's (one copy for
// blobs and messages alike); Directory and Command are only blobs.
//
// Decoding treats bytes as hostile: they are copied into an aligned buffer
// and read as one segment with a traversal limit of a few times their size
// and a nesting limit of 32; every kj::Exception is turned into an Error. The
// decoded value is then checked by re-encoding it and comparing the bytes:
// only the exact canonical bytes of a valid value are accepted, so one value
// has exactly one byte form (and one digest). As a consequence bytes carrying
// fields unknown to this build are refused rather than silently dropped.
#include "cas/model.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "cas/wire_model.h"
#include "proto/model.capnp.h"

namespace kiln::cas {

namespace {

namespace schema = ::kiln::schema;

Error invalid(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

std::string quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\0') {
      out += "\\0";
    } else {
      out.push_back(c);
    }
  }
  out += "'";
  return out;
}

// Prefixes an error's message with where it happened.
Error in(std::string_view where, const Error& e) {
  return Error{e.code, std::string(where) + ": " + e.message};
}

// ---- Rules on plain values ----------------------------------------------

Status check_no_nul(std::string_view what, std::string_view text) {
  if (text.find('\0') != std::string_view::npos)
    return invalid(std::string(what) + " contains NUL");
  return {};
}

Status check_digest(std::string_view what, const Digest& d, DigestFunction fn) {
  if (d.function != fn) {
    return invalid(std::string(what) + " " + d.to_string() + " is " +
                   std::string(to_string(d.function)) + ", expected " + std::string(to_string(fn)));
  }
  for (std::size_t i = hash_size(fn); i < d.hash.size(); ++i) {
    if (d.hash[i] != 0) return invalid(std::string(what) + " has bytes past its hash length");
  }
  return {};
}

// Strictly increasing keys: sorted and unique.
template <typename T, typename Key>
Status check_strictly_sorted(std::string_view what, const std::vector<T>& items, Key key) {
  for (std::size_t i = 1; i < items.size(); ++i) {
    if (!(key(items[i - 1]) < key(items[i]))) {
      const bool dup = key(items[i - 1]) == key(items[i]);
      return invalid(std::string(what) + (dup ? " has a duplicate: " : " are not sorted: ") +
                     quoted(std::string_view(key(items[i]))) + (dup ? "" : " after ") +
                     (dup ? "" : quoted(std::string_view(key(items[i - 1])))));
    }
  }
  return {};
}

Status check_directory(const Directory& dir, DigestFunction fn) {
  const auto name_of = [](const auto& node) -> const std::string& { return node.name; };
  if (auto s = check_strictly_sorted("file names", dir.files, name_of); !s) return s;
  if (auto s = check_strictly_sorted("directory names", dir.directories, name_of); !s) return s;
  if (auto s = check_strictly_sorted("symlink names", dir.symlinks, name_of); !s) return s;
  std::vector<std::string_view> names;
  names.reserve(dir.files.size() + dir.directories.size() + dir.symlinks.size());
  for (const auto& f : dir.files) {
    if (auto s = validate_name(f.name); !s) return in("file", s.error());
    if (auto s = check_digest("file " + quoted(f.name) + " digest", f.digest, fn); !s) return s;
    names.push_back(f.name);
  }
  for (const auto& d : dir.directories) {
    if (auto s = validate_name(d.name); !s) return in("directory", s.error());
    if (auto s = check_digest("directory " + quoted(d.name) + " digest", d.digest, fn); !s)
      return s;
    names.push_back(d.name);
  }
  for (const auto& l : dir.symlinks) {
    if (auto s = validate_name(l.name); !s) return in("symlink", s.error());
    if (l.target.empty()) return invalid("symlink " + quoted(l.name) + " has an empty target");
    if (l.target.size() > kMaxSymlinkTargetBytes) {
      return invalid("symlink " + quoted(l.name) + " target of " + std::to_string(l.target.size()) +
                     " bytes is longer than " + std::to_string(kMaxSymlinkTargetBytes));
    }
    if (l.target.front() == '/') {
      return invalid("symlink " + quoted(l.name) + " target " + quoted(l.target) + " is absolute");
    }
    if (auto s = check_no_nul("symlink " + quoted(l.name) + " target", l.target); !s) return s;
    names.push_back(l.name);
  }
  std::sort(names.begin(), names.end());
  if (auto it = std::adjacent_find(names.begin(), names.end()); it != names.end()) {
    return invalid("name " + quoted(*it) + " appears in more than one list");
  }
  return {};
}

Status check_paths(std::string_view what, const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (auto s = validate_relative_path(p); !s) return in(what, s.error());
  }
  return check_strictly_sorted(what, paths,
                               [](const std::string& p) -> const std::string& { return p; });
}

Status check_command(const Command& c) {
  for (const auto& a : c.arguments) {
    if (auto s = check_no_nul("argument " + quoted(a), a); !s) return s;
  }
  for (const auto& e : c.environment) {
    if (e.name.empty() || e.name.find('=') != std::string::npos) {
      return invalid("environment variable name " + quoted(e.name) + " is empty or contains '='");
    }
    if (auto s = check_no_nul("environment variable " + quoted(e.name), e.name + e.value); !s)
      return s;
  }
  const auto name_of = [](const Property& p) -> const std::string& { return p.name; };
  if (auto s = check_strictly_sorted("environment names", c.environment, name_of); !s) return s;
  if (!c.working_directory.empty()) {
    if (auto s = validate_relative_path(c.working_directory); !s)
      return in("working directory", s.error());
  }
  if (auto s = check_paths("output files", c.output_files); !s) return s;
  if (auto s = check_paths("output directories", c.output_directories); !s) return s;
  for (const auto& p : c.platform) {
    if (auto s = check_no_nul("platform property " + quoted(p.name), p.name + p.value); !s)
      return s;
  }
  for (std::size_t i = 1; i < c.platform.size(); ++i) {
    if (!(c.platform[i - 1] < c.platform[i])) {
      return invalid("platform properties are not sorted by (name, value) and unique at " +
                     quoted(c.platform[i].name));
    }
  }
  return {};
}

Status check_action(const Action& a, DigestFunction fn) {
  if (auto s = check_digest("command digest", a.command_digest, fn); !s) return s;
  return check_digest("input root digest", a.input_root_digest, fn);
}

// ---- Values -> builders ---------------------------------------------------

capnp::Text::Reader text(const std::string& s) { return {s.c_str(), s.size()}; }

template <typename Reader>
std::string canonical_bytes(Reader reader) {
  const kj::Array<capnp::word> words = capnp::canonicalize(reader);
  const auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

void fill_text_list(const std::vector<std::string>& from, capnp::List<capnp::Text>::Builder to) {
  for (unsigned i = 0; i < from.size(); ++i) to.set(i, text(from[i]));
}

void fill_environment(const std::vector<Property>& from,
                      capnp::List<schema::EnvironmentVariable>::Builder to) {
  for (unsigned i = 0; i < from.size(); ++i) {
    if (!from[i].name.empty()) to[i].setName(text(from[i].name));
    if (!from[i].value.empty()) to[i].setValue(text(from[i].value));
  }
}

std::string encode_valid_directory(const Directory& dir) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Directory>();
  if (!dir.files.empty()) {
    auto list = root.initFiles(static_cast<unsigned>(dir.files.size()));
    for (unsigned i = 0; i < dir.files.size(); ++i) {
      list[i].setName(text(dir.files[i].name));
      to_wire(dir.files[i].digest, list[i].initDigest());
      list[i].setIsExecutable(dir.files[i].executable);
    }
  }
  if (!dir.directories.empty()) {
    auto list = root.initDirectories(static_cast<unsigned>(dir.directories.size()));
    for (unsigned i = 0; i < dir.directories.size(); ++i) {
      list[i].setName(text(dir.directories[i].name));
      to_wire(dir.directories[i].digest, list[i].initDigest());
    }
  }
  if (!dir.symlinks.empty()) {
    auto list = root.initSymlinks(static_cast<unsigned>(dir.symlinks.size()));
    for (unsigned i = 0; i < dir.symlinks.size(); ++i) {
      list[i].setName(text(dir.symlinks[i].name));
      list[i].setTarget(text(dir.symlinks[i].target));
    }
  }
  return canonical_bytes(root.asReader());
}

std::string encode_valid_command(const Command& c) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Command>();
  if (!c.arguments.empty()) {
    fill_text_list(c.arguments, root.initArguments(static_cast<unsigned>(c.arguments.size())));
  }
  if (!c.environment.empty()) {
    fill_environment(c.environment,
                     root.initEnvironment(static_cast<unsigned>(c.environment.size())));
  }
  if (!c.working_directory.empty()) root.setWorkingDirectory(text(c.working_directory));
  if (!c.output_files.empty()) {
    fill_text_list(c.output_files,
                   root.initOutputFiles(static_cast<unsigned>(c.output_files.size())));
  }
  if (!c.output_directories.empty()) {
    fill_text_list(c.output_directories,
                   root.initOutputDirectories(static_cast<unsigned>(c.output_directories.size())));
  }
  if (!c.platform.empty()) {
    to_wire(c.platform, root.initPlatform(static_cast<unsigned>(c.platform.size())));
  }
  return canonical_bytes(root.asReader());
}

std::string encode_valid_action(const Action& a, DigestFunction fn) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Action>();
  to_wire(a, fn, root);
  return canonical_bytes(root.asReader());
}

std::string encode_valid_action_result(const ActionResult& r) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::ActionResult>();
  to_wire(r, root);
  return canonical_bytes(root.asReader());
}

// ---- Readers -> values ----------------------------------------------------

std::string read_text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

Result<Digest> read_digest(std::string_view what, schema::Digest::Reader r, DigestFunction fn) {
  auto d = from_wire(r, fn);
  if (!d.ok()) return in(what, d.error());
  return d;
}

std::vector<std::string> read_text_list(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  for (auto t : list) out.push_back(read_text(t));
  return out;
}

std::vector<Property> read_environment(capnp::List<schema::EnvironmentVariable>::Reader list) {
  std::vector<Property> out;
  for (auto p : list) out.push_back(Property{read_text(p.getName()), read_text(p.getValue())});
  return out;
}

// Nothing is reserved from counts in the message: a list of zero-sized
// structs can claim 2^29 elements in a few words (the traversal limit stops
// the reading, but a reserve() would already have happened).
Result<Directory> parse_directory(schema::Directory::Reader r, DigestFunction fn) {
  Directory dir;
  for (auto f : r.getFiles()) {
    auto d = read_digest("file digest", f.getDigest(), fn);
    if (!d.ok()) return d.error();
    dir.files.push_back(FileNode{read_text(f.getName()), *d, f.getIsExecutable()});
  }
  for (auto n : r.getDirectories()) {
    auto d = read_digest("directory digest", n.getDigest(), fn);
    if (!d.ok()) return d.error();
    dir.directories.push_back(DirectoryNode{read_text(n.getName()), *d});
  }
  for (auto l : r.getSymlinks()) {
    dir.symlinks.push_back(SymlinkNode{read_text(l.getName()), read_text(l.getTarget())});
  }
  return dir;
}

Result<Command> parse_command(schema::Command::Reader r) {
  Command c;
  c.arguments = read_text_list(r.getArguments());
  c.environment = read_environment(r.getEnvironment());
  c.working_directory = read_text(r.getWorkingDirectory());
  c.output_files = read_text_list(r.getOutputFiles());
  c.output_directories = read_text_list(r.getOutputDirectories());
  auto platform = from_wire(r.getPlatform());
  if (!platform.ok()) return in("platform", platform.error());
  c.platform = std::move(platform).value();
  return c;
}

// Reads `bytes` as one canonical `Schema` struct: parse() turns the reader
// into a value (checking what the value type cannot represent, such as hash
// lengths), encode() re-encodes it (checking every other rule), and only
// bytes identical to that re-encoding are accepted.
template <typename Schema, typename Value, typename Parse, typename Encode>
Result<Value> decode(std::span<const std::byte> bytes, std::string_view what, Parse parse,
                     Encode encode) {
  constexpr std::size_t kWord = sizeof(capnp::word);
  if (bytes.empty() || bytes.size() % kWord != 0) {
    return invalid(std::string(what) + ": " + std::to_string(bytes.size()) +
                   " bytes is not a positive multiple of 8");
  }
  const std::size_t words = bytes.size() / kWord;
  try {
    kj::Array<capnp::word> buffer = kj::heapArray<capnp::word>(words);
    std::memcpy(buffer.begin(), bytes.data(), bytes.size());
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 4 * words + 64;
    options.nestingLimit = 32;
    const kj::ArrayPtr<const capnp::word> segments[1] = {buffer.asPtr()};
    capnp::SegmentArrayMessageReader message(kj::arrayPtr(segments, 1), options);
    Result<Value> value = parse(message.template getRoot<Schema>());
    if (!value.ok()) return in(what, value.error());
    Result<std::string> canonical = encode(*value);
    if (!canonical.ok()) return canonical.error();  // already says where
    if (canonical->size() != bytes.size() ||
        std::memcmp(canonical->data(), bytes.data(), bytes.size()) != 0) {
      return invalid(std::string(what) + ": bytes are not in canonical form");
    }
    return value;
  } catch (const kj::Exception& e) {
    return invalid(std::string(what) +
                   ": malformed Cap'n Proto message: " + e.getDescription().cStr());
  } catch (const std::bad_alloc&) {
    return make_error(Errc::kResourceExhausted, std::string(what) + ": out of memory");
  }
}

}  // namespace

Status check_action_result(const ActionResult& r, DigestFunction fn) {
  for (const auto& f : r.output_files) {
    if (auto s = validate_relative_path(f.path); !s) return in("output file", s.error());
    if (auto s = check_digest("output file " + quoted(f.path) + " digest", f.digest, fn); !s)
      return s;
  }
  for (const auto& d : r.output_directories) {
    if (auto s = validate_relative_path(d.path); !s) return in("output directory", s.error());
    if (auto s = check_digest("output directory " + quoted(d.path) + " digest", d.tree_digest, fn);
        !s) {
      return s;
    }
  }
  const auto path_of = [](const auto& o) -> const std::string& { return o.path; };
  if (auto s = check_strictly_sorted("output file paths", r.output_files, path_of); !s) return s;
  if (auto s = check_strictly_sorted("output directory paths", r.output_directories, path_of); !s) {
    return s;
  }
  if (auto s = check_digest("stdout digest", r.stdout_digest, fn); !s) return s;
  if (auto s = check_digest("stderr digest", r.stderr_digest, fn); !s) return s;
  return check_no_nul("worker id", r.metadata.worker_id);
}

Status validate_name(std::string_view name) {
  if (name.empty()) return invalid("name is empty");
  if (name == "." || name == "..") return invalid("name " + quoted(name) + " is reserved");
  if (name.find('/') != std::string_view::npos)
    return invalid("name " + quoted(name) + " contains '/'");
  if (name.find('\0') != std::string_view::npos)
    return invalid("name " + quoted(name) + " contains NUL");
  if (name.size() > kMaxNameBytes) {
    return invalid("name of " + std::to_string(name.size()) + " bytes is longer than " +
                   std::to_string(kMaxNameBytes));
  }
  return {};
}

Status validate_relative_path(std::string_view path) {
  if (path.empty()) return invalid("path is empty");
  if (path.front() == '/') return invalid("path " + quoted(path) + " is absolute");
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (auto s = validate_name(part); !s) return in("path " + quoted(path), s.error());
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

bool is_normal_absolute_path(std::string_view path) {
  if (path.size() < 2 || path.size() > kMaxSymlinkTargetBytes || path.front() != '/') return false;
  return validate_relative_path(path.substr(1)).ok();
}

Result<std::string> encode_directory(const Directory& dir, DigestFunction fn) {
  if (auto s = check_directory(dir, fn); !s) return in("directory", s.error());
  return encode_valid_directory(dir);
}

Result<std::string> encode_command(const Command& command) {
  if (auto s = check_command(command); !s) return in("command", s.error());
  return encode_valid_command(command);
}

Result<std::string> encode_action(const Action& action, DigestFunction fn) {
  if (auto s = check_action(action, fn); !s) return in("action", s.error());
  return encode_valid_action(action, fn);
}

Result<std::string> encode_action_result(const ActionResult& result, DigestFunction fn) {
  if (auto s = check_action_result(result, fn); !s) return in("action result", s.error());
  return encode_valid_action_result(result);
}

Result<Directory> decode_directory(std::span<const std::byte> bytes, DigestFunction fn) {
  return decode<schema::Directory, Directory>(
      bytes, "directory", [fn](schema::Directory::Reader r) { return parse_directory(r, fn); },
      [fn](const Directory& d) { return encode_directory(d, fn); });
}

Result<Command> decode_command(std::span<const std::byte> bytes) {
  return decode<schema::Command, Command>(bytes, "command", parse_command, encode_command);
}

Result<Action> decode_action(std::span<const std::byte> bytes, DigestFunction fn) {
  return decode<schema::Action, Action>(
      bytes, "action", [fn](schema::Action::Reader r) { return from_wire(r, fn); },
      [fn](const Action& a) { return encode_action(a, fn); });
}

Result<ActionResult> decode_action_result(std::span<const std::byte> bytes, DigestFunction fn) {
  return decode<schema::ActionResult, ActionResult>(
      bytes, "action result", [fn](schema::ActionResult::Reader r) { return from_wire(r, fn); },
      [fn](const ActionResult& r) { return encode_action_result(r, fn); });
}

}  // namespace kiln::cas

namespace kiln::cas {

bool worth_caching(const Action& action, const ActionResult& result, bool timed_out,
                   bool all_outputs_present) {
  return !action.do_not_cache && !timed_out && result.exit_code == 0 && all_outputs_present;
}

}  // namespace kiln::cas
