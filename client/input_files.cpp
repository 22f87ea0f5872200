// Declared inputs and environment: see input_files.h.
#include "client/input_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "cas/put_tree.h"

namespace kiln::client {

namespace fs = std::filesystem;

// A path given on the command line, as a relative path inside `cwd`.
std::string path_inside(const fs::path& cwd, const std::string& given, const char* what) {
  const fs::path normal = fs::absolute(given).lexically_normal();
  fs::path rel = normal.lexically_relative(cwd);
  const std::string text = rel.string();
  if (text.empty() || text == ".." || text.rfind("../", 0) == 0) {
    throw CommandError(kExitUsage,
                       std::string(what) + " '" + given + "' is outside the current directory");
  }
  if (!text.empty() && text.back() == '/') return text.substr(0, text.size() - 1);
  return text;
}

void store_tree(cas::Store& store, const cas::BuiltTree& tree) {
  (void)check(cas::put_tree(store, tree));
}

void add_input(cas::InputRootBuilder& root, cas::Store& store, const fs::path& cwd,
               const std::string& given, const char* what) {
  const std::string rel = path_inside(cwd, given, what);
  struct stat st {};
  if (::lstat(given.c_str(), &st) != 0) {
    throw CommandError(kExitUsage, std::string(what) + " '" + given + "': " + std::strerror(errno));
  }
  if (rel == ".") {
    throw CommandError(kExitUsage,
                       std::string(what) + " '" + given + "' is the whole current directory");
  }
  if (S_ISDIR(st.st_mode)) {
    const cas::BuiltTree tree =
        check(cas::build_tree(given, store.digest_function()), std::string(what) + " " + given);
    store_tree(store, tree);
    check(root.add_tree(rel, tree.root));
  } else if (S_ISREG(st.st_mode)) {
    const cas::Digest digest = check(store.put_file(given), std::string(what) + " " + given);
    check(root.add_file(rel, digest, (st.st_mode & S_IXUSR) != 0));
  } else if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(given, ec);
    if (ec || target.is_absolute()) {
      throw CommandError(kExitUsage, std::string(what) + " '" + given +
                                         "' is a symlink with an absolute or unreadable target");
    }
    check(root.add_symlink(rel, target.string()));
  } else {
    throw CommandError(kExitUsage,
                       std::string(what) + " '" + given + "' is not a file, directory or symlink");
  }
}

cas::Digest build_input_root(cas::Store& store, const fs::path& cwd,
                             const std::vector<std::string>& inputs) {
  if (inputs.size() == 1 && path_inside(cwd, inputs.front(), "input") == ".") {
    const cas::BuiltTree tree = check(cas::build_tree(cwd, store.digest_function()), "input .");
    store_tree(store, tree);
    return tree.root;
  }
  cas::InputRootBuilder root(store.digest_function());
  for (const std::string& given : inputs) {
    if (path_inside(cwd, given, "input") == ".")
      throw CommandError(kExitUsage, "--input . must be the only input");
    add_input(root, store, cwd, given, "input");
  }
  const cas::BuiltTree tree = check(root.finish());
  store_tree(store, tree);
  return tree.root;
}

std::vector<cas::Property> command_environment(const Context& ctx,
                                               const std::vector<std::string>& env) {
  std::map<std::string, std::string> chosen;
  if (auto path = ctx.environment.find("PATH"); path != ctx.environment.end())
    chosen["PATH"] = path->second;
  for (const std::string& item : env) {
    const auto equals = item.find('=');
    if (equals == 0 || item.empty())
      throw CommandError(kExitUsage, "--env '" + item + "' has no name");
    if (equals == std::string::npos) {
      auto ours = ctx.environment.find(item);
      if (ours != ctx.environment.end()) chosen[item] = ours->second;
    } else {
      chosen[item.substr(0, equals)] = item.substr(equals + 1);
    }
  }
  std::vector<cas::Property> out;
  for (auto& [name, value] : chosen) out.push_back({name, value});
  return out;
}

std::vector<cas::Property> command_platform(const std::vector<std::string>& items) {
  std::vector<cas::Property> pairs;
  for (const std::string& item : items) {
    const auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw CommandError(kExitUsage, "--platform '" + item + "' is not NAME=VALUE");
    }
    pairs.push_back({item.substr(0, equals), item.substr(equals + 1)});
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

}  // namespace kiln::client
