// options.h: GridOptions from the configuration.
#include "client/grid/options.h"

#include <algorithm>

namespace kiln::client::grid {

GridOptions grid_options(const Config& config, GridUse use) {
  GridOptions options;
  options.endpoint = config.scheduler();
  if (use == GridUse::kCompile) {
    const std::chrono::milliseconds wait =
        std::max(std::chrono::seconds(1), config.remote_timeout());
    options.request_timeout = wait;
    options.resubmit_interval = wait;
    options.default_action_timeout = std::chrono::minutes(10);
    options.grace = wait;
  }
  return options;
}

}  // namespace kiln::client::grid
