#include "client/config.h"

#include <gtest/gtest.h>

namespace kiln::client {
namespace {

using Env = std::map<std::string, std::string>;

TEST(Config, DefaultsComeFromTheKeyTable) {
  auto config = Config::load(Env{{"HOME", "/home/u"}}, "", "kiln.conf", {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->get("max_size"), "5G");
  EXPECT_EQ(config->entry("max_size").source, ConfigSource::kDefault);
  EXPECT_EQ(config->get("dir"), "/home/u/.cache/kiln");
}

TEST(Config, CommandLineBeatsEnvironmentBeatsFileBeatsDefault) {
  const std::string file =
      "# comment\n\n max_size = 1G \ndir=/from/file\ndigest_function = sha256\n";
  const Env env{{"KILN_MAXSIZE", "2G"}, {"KILN_DIR", "/from/env"}};
  auto config = Config::load(env, file, "kiln.conf", {{"dir", "/from/cli"}});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->get("dir"), "/from/cli");
  EXPECT_EQ(config->entry("dir").source, ConfigSource::kCommandLine);
  EXPECT_EQ(config->get("max_size"), "2G");
  EXPECT_EQ(config->entry("max_size").source, ConfigSource::kEnvironment);
  EXPECT_EQ(config->get("digest_function"), "sha256");
  EXPECT_EQ(config->entry("digest_function").source, ConfigSource::kFile);
}

TEST(Config, UnknownKeyInFileNamesFileAndLine) {
  auto config = Config::load({}, "max_size = 1G\nmax_sise = 2G\n", "/etc/kiln.conf", {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(config.error().message, "/etc/kiln.conf:2: unknown key 'max_sise'");
}

TEST(Config, LineWithoutEqualsIsAnError) {
  auto config = Config::load({}, "max_size 1G\n", "k.conf", {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, "k.conf:1: expected 'key = value'");
}

TEST(Config, UnknownOverrideIsAnError) {
  auto config = Config::load({}, "", "k.conf", {{"nope", "1"}});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, "unknown setting 'nope'");
}

TEST(Config, PathsFollowXdg) {
  EXPECT_EQ(default_cache_dir({{"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}}), "/x/kiln");
  EXPECT_EQ(config_file_path({{"HOME", "/h"}}), "/h/.config/kiln/kiln.conf");
  EXPECT_EQ(config_file_path({{"XDG_CONFIG_HOME", "/c"}}), "/c/kiln/kiln.conf");
  EXPECT_EQ(config_file_path({{"KILN_CONFIG", "/k.conf"}, {"HOME", "/h"}}), "/k.conf");
}

TEST(Config, EveryKeyHasAnEnvironmentVariableAndHelp) {
  for (const ConfigKey& key : config_keys()) {
    EXPECT_EQ(key.env.substr(0, 5), "KILN_") << key.name;
    EXPECT_FALSE(key.help.empty()) << key.name;
  }
}

}  // namespace
}  // namespace kiln::client
