// kiln's grid_link(): every grid path hands over to kiln-grid; see
// grid_link.h.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "client/grid_link.h"

namespace kiln::client {
namespace {

namespace fs = std::filesystem;

// Replaces this process with kiln-grid from this executable's directory,
// with the same arguments and environment. Returns only by throwing.
[[noreturn]] void hand_over(char** argv) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw CommandError(kExitFailure, "cannot locate this executable: " + ec.message());
  const fs::path grid = self.parent_path() / "kiln-grid";
  std::cout.flush();
  std::cerr.flush();
  ::execv(grid.c_str(), argv);  // uses environ: the environment is unchanged
  const int error = errno;
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
  GridLink link;
  link.access.handoff = [argv] { hand_over(argv); };
  link.up = [argv](Context&, const grid::UpOptions&) -> int { hand_over(argv); };
  link.status = [argv](Context&, const grid::StatusOptions&) -> int { hand_over(argv); };
  link.test = [argv](Context&, const testing::TestOptions&) -> int { hand_over(argv); };
  return link;
}

}  // namespace kiln::client
