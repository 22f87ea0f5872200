#include "client/config.h"

#include <gtest/gtest.h>

namespace kiln::client {
namespace {

using Env = std::map<std::string, std::string>;

TEST(Config, DefaultsComeFromTheKeyTable) {
  auto config = Config::load(Env{{"HOME", "/home/u"}}, "", "kiln.conf", {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->entry("max_size").value, "5G");
  EXPECT_EQ(config->entry("max_size").source, ConfigSource::kDefault);
  EXPECT_EQ(config->entry("dir").value, "/home/u/.cache/kiln");
}

TEST(Config, CommandLineBeatsEnvironmentBeatsFileBeatsDefault) {
  const std::string file =
      "# comment\n\n max_size = 1G \ndir=/from/file\ndigest_function = sha256\n";
  const Env env{{"KILN_MAXSIZE", "2G"}, {"KILN_DIR", "/from/env"}};
  auto config = Config::load(env, file, "kiln.conf", {{"dir", "/from/cli"}});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->entry("dir").value, "/from/cli");
  EXPECT_EQ(config->entry("dir").source, ConfigSource::kCommandLine);
  EXPECT_EQ(config->entry("max_size").value, "2G");
  EXPECT_EQ(config->entry("max_size").source, ConfigSource::kEnvironment);
  EXPECT_EQ(config->entry("digest_function").value, "sha256");
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

TEST(Config, ValuesAreTyped) {
  auto config = Config::load({{"HOME", "/home/u"}}, "", "kiln.conf", {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->dir(), std::filesystem::path("/home/u/.cache/kiln"));
  EXPECT_EQ(config->max_size(), 5ULL << 30);
  EXPECT_FALSE(config->has_scheduler());
  EXPECT_EQ(config->digest_function(), cas::DigestFunction::kXxh3_128);
  EXPECT_FALSE(config->disable());
  EXPECT_FALSE(config->readonly());
  EXPECT_EQ(config->remote_timeout(), std::chrono::seconds(10));
  EXPECT_EQ(config->sandbox(), SandboxChoice::kAuto);
  EXPECT_TRUE(config->sandbox_paths().empty());

  const Env env{{"KILN_SCHEDULER", "tcp://10.0.0.1:7010"},
                {"KILN_READONLY", "yes"},
                {"KILN_REMOTE_TIMEOUT", "3"},
                {"KILN_MAXSIZE", "0"}};
  config = Config::load(env, "digest_function = sha256\nrecache = on\n", "k.conf", {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->scheduler(), "tcp://10.0.0.1:7010");
  EXPECT_TRUE(config->has_scheduler());
  EXPECT_TRUE(config->readonly());
  EXPECT_TRUE(config->recache());
  EXPECT_EQ(config->remote_timeout(), std::chrono::seconds(3));
  EXPECT_EQ(config->max_size(), 0u);
  EXPECT_EQ(config->digest_function(), cas::DigestFunction::kSha256);

  config = Config::load({{"KILN_SANDBOX", "none"}}, "sandbox_paths = /srv/tools::/opt/x\n",
                        "k.conf", {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->sandbox(), SandboxChoice::kNone);
  EXPECT_EQ(config->sandbox_paths(), (std::vector<std::filesystem::path>{"/srv/tools", "/opt/x"}));
  config = Config::load({}, "sandbox = bubblewrap\n", "k.conf", {});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->sandbox(), SandboxChoice::kBubblewrap);
}

// A value its key cannot take is an error naming the key, the value and
// where it was set: never a silent default.
TEST(Config, ABadValueNamesTheKeyAndWhereItWasSet) {
  struct Case {
    Env env;
    std::string file;
    std::string message;
  };
  const Case cases[] = {
      {{{"KILN_REMOTE_TIMEOUT", "abc"}},
       "",
       "remote_timeout: 'abc' is not a whole number of seconds (0 to 86400) (set by "
       "KILN_REMOTE_TIMEOUT)"},
      {{{"KILN_REMOTE_TIMEOUT", "-1"}}, "", "remote_timeout: '-1'"},
      {{{"KILN_REMOTE_TIMEOUT", "10s"}}, "", "remote_timeout: '10s'"},
      {{{"KILN_REMOTE_TIMEOUT", ""}}, "", "remote_timeout: ''"},
      {{}, "\nremote_timeout = 99999999\n", "(set by k.conf:2)"},
      {{{"KILN_MAXSIZE", "huge"}}, "", "max_size: 'huge' is not a size"},
      {{{"KILN_READONLY", "maybe"}}, "", "readonly: 'maybe' is not a boolean"},
      {{{"KILN_DISABLE", "2"}},
       "",
       "disable: '2' is not a boolean (true/false, 1/0, yes/no) (set by KILN_DISABLE)"},
      {{}, "recache = sometimes\n", "recache: 'sometimes' is not a boolean"},
      {{{"KILN_DIGEST_FUNCTION", "md5"}}, "", "digest_function: 'md5' is not xxh3-128 or sha256"},
      {{{"KILN_SCHEDULER", "localhost:7010"}},
       "",
       "scheduler: 'localhost:7010' is not a scheduler endpoint"},
      {{{"KILN_SANDBOX", "docker"}},
       "",
       "sandbox: 'docker' is not auto, bubblewrap or none (set by KILN_SANDBOX)"},
      {{{"KILN_SANDBOX_PATHS", "/usr/local/x:tools"}},
       "",
       "sandbox_paths: '/usr/local/x:tools' holds 'tools', which is not an absolute path"},
  };
  for (const Case& c : cases) {
    auto config = Config::load(c.env, c.file, "k.conf", {});
    ASSERT_FALSE(config.ok()) << c.message;
    EXPECT_EQ(config.error().code, Errc::kInvalidArgument);
    EXPECT_NE(config.error().message.find(c.message), std::string::npos) << config.error().message;
  }
  // The command line's own origin.
  auto config = Config::load({}, "", "k.conf", {{"scheduler", "nope"}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("(set by the command line)"), std::string::npos)
      << config.error().message;
}

TEST(Config, EntriesSayWhereTheyCameFrom) {
  auto config = Config::load({{"KILN_DIR", "/d"}}, "\nmax_size = 1G\n", "k.conf", {});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->entry("dir").origin, "KILN_DIR");
  EXPECT_EQ(config->entry("max_size").origin, "k.conf:2");
  EXPECT_EQ(config->entry("logfile").origin, "default");
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
