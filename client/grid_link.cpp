// kiln-grid's grid_link(): the grid client in-process; see grid_link.h.
#include "client/grid_link.h"

#include <memory>

#include "client/grid/executor.h"

namespace kiln::client {

GridLink grid_link(char** argv) {
  GridLink link;
  // What kiln worked out before handing a compile over, taken out of the
  // environment before anything reads it.
  link.access.handed_over = launcher::take_handoff(argv);
  link.access.make_executor =
      [](cas::Store& store,
         const grid::GridOptions& options) -> std::unique_ptr<exec::ActionExecutor> {
    return std::make_unique<grid::GridExecutor>(store, options);
  };
  link.access.worker_platforms = [](const grid::GridOptions& options) {
    return grid::worker_platforms(options, std::chrono::milliseconds(2000));
  };
  link.up = grid::run_up;
  link.status = grid::run_status;
  link.keygen = grid::run_keygen;
  link.test = testing::run_test;
  link.provenance = run_provenance;
  return link;
}

}  // namespace kiln::client
