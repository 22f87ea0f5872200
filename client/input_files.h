// Declared inputs and environment, shared by `kiln run` and `kiln test`:
// paths named on the command line become entries of an input root, and
// --env options become the command's environment. Everything here ends up
// in an action digest, so what it accepts is strict: paths must stay inside
// the current directory, and symlinks must be relative.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cas/input_root.h"
#include "cas/model.h"
#include "cas/store.h"
#include "cas/tree.h"
#include "client/cli.h"

namespace kiln::client {

// `given` (a path on the command line) as a path relative to `cwd`, inside
// it; CommandError (usage) naming `what` when it is outside.
std::string path_inside(const std::filesystem::path& cwd, const std::string& given,
                        const char* what);

// Puts every blob of `tree` the store lacks into it.
void store_tree(cas::Store& store, const cas::BuiltTree& tree);

// Adds the file, directory (whole) or relative symlink at `given` to `root`
// at its path relative to `cwd`, storing its blobs. CommandError (usage)
// for a path outside `cwd`, missing, of another type, or an absolute
// symlink.
void add_input(cas::InputRootBuilder& root, cas::Store& store, const std::filesystem::path& cwd,
               const std::string& given, const char* what);

// The input root of `inputs`, stored. A lone "." is the whole of `cwd`.
cas::Digest build_input_root(cas::Store& store, const std::filesystem::path& cwd,
                             const std::vector<std::string>& inputs);

// The command's environment: PATH from ours, plus --env NAME (value from
// ours) or --env NAME=VALUE, sorted by name. Everything in it is part of
// the cache key.
std::vector<cas::Property> command_environment(const Context& ctx,
                                               const std::vector<std::string>& env);

// The command's platform properties from --platform NAME=VALUE options,
// sorted, duplicates dropped; CommandError (usage) for an item that is not
// NAME=VALUE. network=on gives the action the network (exec/sandbox.h).
std::vector<cas::Property> command_platform(const std::vector<std::string>& items);

}  // namespace kiln::client
