// Between the API's messages and kiln's data model. Pure: protobuf and
// cas/model.h, no store (what needs blobs takes a function that fetches
// them).
//
// A REAPI action becomes a kiln action with the same meaning:
//   - its Command: the same arguments and environment; the working
//     directory as is; output paths, which the API makes relative to the
//     working directory, made relative to the input root as kiln's are;
//     the platform's properties mapped (platform_to_kiln);
//   - its input root: each Directory rewritten as a kiln Directory (the
//     same files and symlinks, so the same file digests: blobs are shared);
//     node properties (mtime, mode) are not carried;
//   - timeout, do_not_cache and salt as they are.
// The kiln action's digest is a different key from the REAPI action's;
// kiln-reapi keeps the REAPI action cache under the REAPI digest.
#pragma once

#include <build/bazel/remote/execution/v2/remote_execution.pb.h>

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "cas/model.h"
#include "reapi/digests.h"

namespace kiln::reapi {

// A message's bytes as the API digests them (deterministic serialization).
std::string serialize(const google::protobuf::MessageLite& message);

// Parses untrusted bytes into `message`; kInvalidArgument naming `what`.
Status parse(std::string_view bytes, google::protobuf::MessageLite& message,
             const std::string& what);

// Platform properties, sorted by (name, value) as kiln keeps them:
//   OSFamily=Linux|linux  -> os=linux
//   ISA=x86-64|x86_64...  -> arch=x86_64 (aarch64/arm64 -> aarch64)
//   any other NAME=VALUE  -> kept as it is (a worker advertising it can
//                            take the action; kiln's own properties such
//                            as toolchain or input-root pass through)
std::vector<cas::Property> platform_to_kiln(const v2::Platform& platform);

// The kiln Command of a REAPI Command (and the Action's platform, which the
// API lets override the Command's). kInvalidArgument for what kiln cannot
// run as asked: no arguments, a working directory or output path that is
// absolute or steps out of the root, output_paths without output_files or
// output_directories (API 2.1's form; kiln-reapi speaks 2.0), duplicate
// environment names.
Result<cas::Command> command_to_kiln(const v2::Command& command,
                                     const v2::Platform& action_platform);

// The kiln Directory of a REAPI Directory, with each subdirectory's kiln
// digest from `child` (given the REAPI digest). kInvalidArgument for
// unsorted or duplicate names, bad names, absolute or escaping symlinks.
using ChildDigest = std::function<Result<cas::Digest>(const cas::Digest& reapi_child)>;
Result<cas::Directory> directory_to_kiln(const v2::Directory& directory, const ChildDigest& child);

// The REAPI Directory of a kiln Directory, with each subdirectory's REAPI
// digest from `child` (given the kiln digest).
v2::Directory directory_to_reapi(const cas::Directory& directory, const ChildDigest& child);

// Output paths come back relative to the working directory.
std::string output_path_to_reapi(const std::string& kiln_path,
                                 const std::string& working_directory);

// Timestamps of kiln's metadata (microseconds since the epoch, 0 = none).
v2::ExecutedActionMetadata metadata_to_reapi(const cas::ExecutionMetadata& metadata);

}  // namespace kiln::reapi
