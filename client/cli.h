// What every `kiln` subcommand shares: the exit codes it may return, the
// error it throws for logistics, and the context main() wires together.
//
// Exit codes (docs/cli.md is the user-facing copy of this table):
//   0  success
//   1  the operation failed (store or I/O error)
//   2  usage or configuration error
//   3  not found: a requested digest is absent (or was corrupt)
#pragma once

#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/result.h"
#include "client/config.h"

namespace kiln::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
};

// Thrown for a failure that ends the command; main() prints
// "kiln: error: <what>" and exits with `code`.
class CommandError : public std::runtime_error {
 public:
  CommandError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Throws the CommandError for `error`: kInvalidArgument is a usage error,
// kNotFound is "not found", anything else a failure.
[[noreturn]] void throw_error(const Error& error, const std::string& context = {});

template <typename T>
T check(Result<T> result, const std::string& context = {}) {
  if (!result.ok()) throw_error(result.error(), context);
  return std::move(result).value();
}

inline void check(const Status& status, const std::string& context = {}) {
  if (!status.ok()) throw_error(status.error(), context);
}

struct Context {
  std::map<std::string, std::string> environment;
  // The arguments after the first "--" (the command of `kiln run`), which
  // main() keeps away from the option parser.
  std::vector<std::string> after_dashes;
  Config config;
  std::ostream& out;
  std::ostream& err;
};

}  // namespace kiln::client
