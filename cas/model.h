// Plain value types for kiln's data model (see proto/model.capnp), and their
// canonical encoding. The rest of kiln works on these types; Cap'n Proto
// readers and builders stay inside model.cpp and the wire edges.
//
// Canonical bytes are Cap'n Proto canonical form of the matching schema
// struct; a value's digest is the digest of those bytes. encode_* sorts and
// normalizes nothing: it fails (kInvalidArgument) if the value breaks an
// ordering or naming rule, so two different inputs can never map to one key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"

namespace kiln::cas {

struct FileNode {
  std::string name;
  Digest digest;
  bool executable = false;
  bool operator==(const FileNode&) const = default;
};

struct DirectoryNode {
  std::string name;
  Digest digest;
  bool operator==(const DirectoryNode&) const = default;
};

struct SymlinkNode {
  std::string name;
  std::string target;
  bool operator==(const SymlinkNode&) const = default;
};

// One directory level. Lists sorted by name (bytewise); names unique across
// all three lists; each name valid per validate_name().
struct Directory {
  std::vector<FileNode> files;
  std::vector<DirectoryNode> directories;
  std::vector<SymlinkNode> symlinks;
  bool operator==(const Directory&) const = default;
};

struct Property {
  std::string name;
  std::string value;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Property&) const = default;
};

struct Command {
  std::vector<std::string> arguments;
  std::vector<Property> environment;            // sorted by name, unique names
  std::string working_directory;                // relative to the input root; "" = root
  std::vector<std::string> output_files;        // sorted, relative
  std::vector<std::string> output_directories;  // sorted, relative
  std::vector<Property> platform;               // sorted by (name, value)
  bool operator==(const Command&) const = default;
};

struct Action {
  Digest command_digest;
  Digest input_root_digest;
  std::uint64_t timeout_ms = 0;
  bool do_not_cache = false;
  std::string salt;
  bool operator==(const Action&) const = default;
};

struct OutputFile {
  std::string path;
  Digest digest;
  bool executable = false;
  bool operator==(const OutputFile&) const = default;
};

struct OutputDirectory {
  std::string path;
  Digest tree_digest;  // the root Directory of the output tree
  bool operator==(const OutputDirectory&) const = default;
};

// Microseconds since the Unix epoch; 0 where a phase did not happen.
struct ExecutionMetadata {
  std::string worker_id;
  std::uint64_t queued_us = 0;
  std::uint64_t worker_start_us = 0;
  std::uint64_t input_fetch_start_us = 0;
  std::uint64_t input_fetch_end_us = 0;
  std::uint64_t execution_start_us = 0;
  std::uint64_t execution_end_us = 0;
  std::uint64_t output_upload_start_us = 0;
  std::uint64_t output_upload_end_us = 0;
  std::uint64_t worker_end_us = 0;
  bool operator==(const ExecutionMetadata&) const = default;
};

struct ActionResult {
  int exit_code = 0;
  std::vector<OutputFile> output_files;
  std::vector<OutputDirectory> output_directories;
  Digest stdout_digest;
  Digest stderr_digest;
  ExecutionMetadata metadata;
  bool operator==(const ActionResult&) const = default;
};

// The longest name of one path component and the longest symlink target
// a Linux file system holds (NAME_MAX; PATH_MAX less its NUL). Longer ones
// cannot come from a real tree, and writing them fails with ENAMETOOLONG.
inline constexpr std::size_t kMaxNameBytes = 255;
inline constexpr std::size_t kMaxSymlinkTargetBytes = 4095;

// A name of one path component: not empty, not "." or "..", no '/' and no
// NUL, at most kMaxNameBytes. Fails with kInvalidArgument naming the
// offence.
Status validate_name(std::string_view name);

// A relative path of valid names joined by '/': no leading '/', no "..",
// no empty components. Used for output paths and working directories.
Status validate_relative_path(std::string_view path);

// An absolute path below "/" of valid names joined by '/' (no ".", "..",
// empty components or trailing '/'), at most kMaxSymlinkTargetBytes long.
bool is_normal_absolute_path(std::string_view path);

// Canonical encodings. `fn` is the digest function of every digest inside;
// a digest of another function is an error. Rules checked besides the ones
// stated on the types: no text contains NUL; symlink targets are non-empty,
// at most kMaxSymlinkTargetBytes
// and relative; environment names are non-empty and have no '='; platform
// properties are unique; ActionResult output paths are valid relative paths,
// sorted and unique within each list (sort them before encoding).
Result<std::string> encode_directory(const Directory& dir, DigestFunction fn);
Result<std::string> encode_command(const Command& command);
Result<std::string> encode_action(const Action& action, DigestFunction fn);
Result<std::string> encode_action_result(const ActionResult& result, DigestFunction fn);

// Decoding untrusted bytes (from the CAS or a peer). Applies Cap'n Proto
// read limits, checks every rule encode_* checks, and every digest's hash
// length against `fn`. Only the exact bytes encode_* would produce are
// accepted (so fields unknown to this build are refused, not dropped).
// Never throws.
Result<Directory> decode_directory(std::span<const std::byte> bytes, DigestFunction fn);
Result<Command> decode_command(std::span<const std::byte> bytes);
Result<Action> decode_action(std::span<const std::byte> bytes, DigestFunction fn);
Result<ActionResult> decode_action_result(std::span<const std::byte> bytes, DigestFunction fn);

}  // namespace kiln::cas

namespace kiln::cas {

// Whether a result belongs in an action cache: the action did not opt out,
// it ran to completion (not timed out) with exit code 0, and produced every
// declared output. The one rule every tier applies.
bool worth_caching(const Action& action, const ActionResult& result, bool timed_out,
                   bool all_outputs_present);

}  // namespace kiln::cas
