// grid_options: what each use of the grid waits for.
#include "client/grid/options.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "client/grid/known_grid.h"
#include "proto/key_files.h"
#include "tests/support/temp_dir.h"

namespace kiln::client::grid {
namespace {

using namespace std::chrono_literals;

// Plain TCP unless the test says otherwise, so no key files are needed.
Config config_of(std::map<std::string, std::string> env,
                 const std::string& config_file = "k.conf") {
  env.try_emplace("KILN_SCHEDULER_KEY", "none");
  auto config = Config::load(env, "", config_file, {});
  if (!config.ok()) throw std::runtime_error(config.error().message);
  return std::move(config).value();
}

GridOptions options_of(const Config& config, GridUse use) {
  auto options = grid_options(config, use);
  if (!options.ok()) throw std::runtime_error(options.error().message);
  return std::move(options).value();
}

TEST(GridOptions, ACompileWaitsRemoteTimeoutAtEachStep) {
  const GridOptions o =
      options_of(config_of({{"KILN_SCHEDULER", "tcp://127.0.0.1:1"}, {"KILN_REMOTE_TIMEOUT", "3"}}),
                 GridUse::kCompile);
  EXPECT_EQ(o.endpoint, "tcp://127.0.0.1:1");
  EXPECT_EQ(o.request_timeout, 3s);
  EXPECT_EQ(o.resubmit_interval, 3s);
  EXPECT_EQ(o.grace, 3s);
  EXPECT_EQ(o.default_action_timeout, 10min);
  EXPECT_EQ(o.store_mutex, nullptr);
}

TEST(GridOptions, ARemoteTimeoutOfZeroStillWaitsASecond) {
  const GridOptions o =
      options_of(config_of({{"KILN_SCHEDULER", "tcp://127.0.0.1:1"}, {"KILN_REMOTE_TIMEOUT", "0"}}),
                 GridUse::kCompile);
  EXPECT_EQ(o.request_timeout, 1s);
  EXPECT_EQ(o.grace, 1s);
}

TEST(GridOptions, AnActionWaitsForItsOwnTimeout) {
  const GridOptions o =
      options_of(config_of({{"KILN_SCHEDULER", "tcp://127.0.0.1:1"}, {"KILN_REMOTE_TIMEOUT", "3"}}),
                 GridUse::kAction);
  EXPECT_EQ(o.endpoint, "tcp://127.0.0.1:1");
  EXPECT_EQ(o.request_timeout, 30s);
  EXPECT_EQ(o.resubmit_interval, 5s);
  EXPECT_EQ(o.default_action_timeout, 10min);
  EXPECT_EQ(o.grace, 1min);
}

TEST(GridOptions, NoSchedulerNoEndpoint) {
  EXPECT_EQ(options_of(config_of({}), GridUse::kAction).endpoint, "");
}

}  // namespace
}  // namespace kiln::client::grid
