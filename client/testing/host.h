// What the suites ask of this machine before and while they run tests:
// finding a program as the shell would, running a listing command
// (`--gtest_list_tests`, `ctest --show-only`, `ldd`) and the platform's
// name for the duration book.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cas/model.h"
#include "client/cli.h"
#include "exec/runner.h"

namespace kiln::client::testing {

// A listing that takes longer than this is a broken binary.
inline constexpr std::chrono::milliseconds kListTimeout{60000};

// `name` as the shell would find it: a path if it has a '/', else on the
// PATH of ctx.environment (/usr/bin:/bin when unset); nullopt if none.
std::optional<std::filesystem::path> find_program(const std::string& name, const Context& ctx);

// "NAME=VALUE" for each of `env`.
std::vector<std::string> environment_list(const std::vector<cas::Property>& env);

// Runs a listing command in `cwd` with `env` and waits, up to kListTimeout.
// Throws CommandError (kTestExitSetup) "cannot run <what>: …" when it
// cannot start; a non-zero exit or a timeout is the caller's to judge.
exec::RunOutcome run_here(std::vector<std::string> argv, const std::filesystem::path& cwd,
                          std::vector<std::string> env, const std::string& what);

// "Linux-x86_64" (uname's system and machine), "unknown" if uname fails.
std::string platform_name();

// Time on the steady clock since `start`.
std::chrono::milliseconds since(std::chrono::steady_clock::time_point start);

}  // namespace kiln::client::testing
