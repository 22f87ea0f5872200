// grid_options: what each use of the grid waits for.
#include "client/grid/options.h"

#include <gtest/gtest.h>

namespace kiln::client::grid {
namespace {

using namespace std::chrono_literals;

Config config_of(const std::map<std::string, std::string>& env) {
  auto config = Config::load(env, "", "k.conf", {});
  if (!config.ok()) throw std::runtime_error(config.error().message);
  return std::move(config).value();
}

TEST(GridOptions, ACompileWaitsRemoteTimeoutAtEachStep) {
  const GridOptions o =
      grid_options(config_of({{"KILN_SCHEDULER", "tcp://h:1"}, {"KILN_REMOTE_TIMEOUT", "3"}}),
                   GridUse::kCompile);
  EXPECT_EQ(o.endpoint, "tcp://h:1");
  EXPECT_EQ(o.request_timeout, 3s);
  EXPECT_EQ(o.resubmit_interval, 3s);
  EXPECT_EQ(o.grace, 3s);
  EXPECT_EQ(o.default_action_timeout, 10min);
  EXPECT_EQ(o.store_mutex, nullptr);
}

TEST(GridOptions, ARemoteTimeoutOfZeroStillWaitsASecond) {
  const GridOptions o =
      grid_options(config_of({{"KILN_SCHEDULER", "tcp://h:1"}, {"KILN_REMOTE_TIMEOUT", "0"}}),
                   GridUse::kCompile);
  EXPECT_EQ(o.request_timeout, 1s);
  EXPECT_EQ(o.grace, 1s);
}

TEST(GridOptions, AnActionWaitsForItsOwnTimeout) {
  const GridOptions o = grid_options(
      config_of({{"KILN_SCHEDULER", "tcp://h:1"}, {"KILN_REMOTE_TIMEOUT", "3"}}), GridUse::kAction);
  EXPECT_EQ(o.endpoint, "tcp://h:1");
  EXPECT_EQ(o.request_timeout, 30s);
  EXPECT_EQ(o.resubmit_interval, 5s);
  EXPECT_EQ(o.default_action_timeout, 10min);
  EXPECT_EQ(o.grace, 1min);
}

TEST(GridOptions, NoSchedulerNoEndpoint) {
  EXPECT_EQ(grid_options(config_of({}), GridUse::kAction).endpoint, "");
}

}  // namespace
}  // namespace kiln::client::grid
