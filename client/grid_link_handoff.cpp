// kiln's grid_link(): every grid path hands over to kiln-grid; see
// grid_link.h. A launcher compile hands over what it has worked out as
// KILN_HANDOFF (client/launcher/handoff.h).
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "client/grid_link.h"

namespace kiln::client {
namespace {

namespace fs = std::filesystem;

// Replaces this process with kiln-grid from this executable's directory,
// with the same arguments and environment, plus `handoff` when given.
// Returns only by throwing.
[[noreturn]] void hand_over(char** argv,
                            const std::optional<launcher::Handoff>& handoff = std::nullopt) {
  if (handoff) {
    std::vector<std::string> args;
    for (char** arg = argv; *arg != nullptr; ++arg) args.emplace_back(*arg);
    const std::string record = launcher::encode_handoff(*handoff, ::getpid(), args);
    ::setenv(launcher::kHandoffVariable, record.c_str(), 1);
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw CommandError(kExitFailure, "cannot locate this executable: " + ec.message());
  const fs::path grid = self.parent_path() / "kiln-grid";
  std::cout.flush();
  std::cerr.flush();
  ::execv(grid.c_str(), argv);  // uses environ: the environment as it is
  const int error = errno;
  ::unsetenv(launcher::kHandoffVariable);
  if (error == ENOENT) {
    throw CommandError(
        kExitFailure,
        "this command needs the grid client kiln-grid, not found next to " + self.string());
  }
  throw CommandError(kExitFailure,
                     "cannot run the grid client " + grid.string() + ": " + std::strerror(error));
}

}  // namespace

GridLink grid_link(char** argv) {
  // A record in our environment was not made for us (kiln is only ever
  // handed over from, never to): drop it before anything reads the
  // environment, so it reaches no compiler and no child.
  (void)launcher::take_handoff(argv);
  GridLink link;
  link.access.handoff = [argv](const std::optional<launcher::Handoff>& handoff) {
    hand_over(argv, handoff);
  };
  link.up = [argv](Context&, const grid::UpOptions&) -> int { hand_over(argv); };
  link.status = [argv](Context&, const grid::StatusOptions&) -> int { hand_over(argv); };
  link.keygen = [argv](Context&, const grid::KeygenOptions&) -> int { hand_over(argv); };
  link.test = [argv](Context&, const testing::TestOptions&) -> int { hand_over(argv); };
  link.provenance = [argv](Context&, const ProvenanceOptions&) -> int { hand_over(argv); };
  return link;
}

}  // namespace kiln::client
