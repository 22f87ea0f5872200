// The hermetic action, byte for byte: what its command runs, where, and
// what its input root holds; and the per-toolchain entry list's format.
#include "client/launcher/hermetic_action.h"

#include <gtest/gtest.h>

#include "cas/input_root.h"

namespace kiln::client::launcher {
namespace {

constexpr auto kFn = cas::DigestFunction::kXxh3_128;

CompileArgs debug_compile() {
  CompileArgs args;
  args.compiler = "g++";
  args.source = "/src/proj/a.cc";
  args.output = "obj/a.o";
  args.language = "c++";
  args.preprocessor_args = {"-I/src/proj/include", "-DX=1"};
  args.compiler_args = {"-g", "-O0"};
  args.debug = true;
  return args;
}

HermeticInput input_for(const CompileArgs& args) {
  HermeticInput input;
  input.compiler = "/usr/bin/g++";
  input.args = &args;
  input.cwd = "/src/proj/build";
  input.path_env = "/usr/local/bin:/usr/bin:/bin";
  input.platform = {{"os", "linux"}, {"arch", "x86_64"}};
  input.entries = {
      {HermeticEntry::Kind::kSymlink, "/usr/bin/g++", {}, false, "g++-12"},
      {HermeticEntry::Kind::kFile, "/usr/bin/g++-12", cas::digest_of(kFn, "driver"), true, ""},
      {HermeticEntry::Kind::kFile, "/src/proj/a.cc", cas::digest_of(kFn, "int a;"), false, ""},
      {HermeticEntry::Kind::kDirectory, "/src/proj/build", {}, false, ""},
  };
  return input;
}

cas::Command command_of(const HermeticAction& action) {
  auto command = cas::decode_command(
      std::as_bytes(std::span(action.encoded_command.data(), action.encoded_command.size())));
  EXPECT_TRUE(command.ok()) << command.error().message;
  return command.ok() ? *command : cas::Command{};
}

TEST(HermeticAction, RunsTheOriginalCompileInTheClientsDirectory) {
  const CompileArgs args = debug_compile();
  const std::map<std::string, std::string> env = {{"HOME", "/home/u"}, {"LANG", "C"}};
  HermeticInput input = input_for(args);
  input.environment = &env;
  auto action = hermetic_action(input);
  ASSERT_TRUE(action.ok()) << action.error().message;
  const cas::Command command = command_of(*action);
  EXPECT_EQ(command.arguments,
            (std::vector<std::string>{"/usr/bin/g++", "-I/src/proj/include", "-DX=1", "-g", "-O0",
                                      "-c", "/src/proj/a.cc", "-o", "/.kiln-out/out.o"}));
  EXPECT_EQ(command.working_directory, "src/proj/build");
  EXPECT_EQ(command.output_files, std::vector<std::string>{".kiln-out/out.o"});
  // HOME is not a compile variable; LANG is.
  EXPECT_EQ(command.environment,
            (std::vector<cas::Property>{{"LANG", "C"}, {"PATH", "/usr/local/bin:/usr/bin:/bin"}}));
  EXPECT_EQ(command.platform,
            (std::vector<cas::Property>{
                {"arch", "x86_64"}, {"input-root", "filesystem"}, {"os", "linux"}}));
  // The input root is the file system: the same entries built by hand.
  cas::InputRootBuilder root(kFn);
  ASSERT_TRUE(root.add_symlink("usr/bin/g++", "g++-12").ok());
  ASSERT_TRUE(root.add_file("usr/bin/g++-12", cas::digest_of(kFn, "driver"), true).ok());
  ASSERT_TRUE(root.add_file("src/proj/a.cc", cas::digest_of(kFn, "int a;"), false).ok());
  ASSERT_TRUE(root.add_directory("src/proj/build").ok());
  ASSERT_TRUE(root.add_directory(".kiln-out").ok());
  EXPECT_EQ(action->action.input_root_digest, root.finish()->root);
  EXPECT_EQ(action->digest, cas::digest_of(kFn, action->encoded_action));
}

TEST(HermeticAction, EveryInputIsInTheKey) {
  const CompileArgs args = debug_compile();
  const cas::Digest base = hermetic_action(input_for(args))->digest;
  HermeticInput header = input_for(args);
  header.entries[2].digest = cas::digest_of(kFn, "int b;");
  EXPECT_NE(hermetic_action(header)->digest, base);
  HermeticInput cwd = input_for(args);
  cwd.cwd = "/src/proj";
  EXPECT_NE(hermetic_action(cwd)->digest, base);
  CompileArgs other = args;
  other.compiler_args = {"-g", "-O2"};
  EXPECT_NE(hermetic_action(input_for(other))->digest, base);
  // The output's name is not: -o never reaches the object.
  CompileArgs renamed = args;
  renamed.output = "elsewhere.o";
  EXPECT_EQ(hermetic_action(input_for(renamed))->digest, base);
}

TEST(HermeticAction, RefusesPathsThatAreNotAbsoluteAndNormalOrThatConflict) {
  const CompileArgs args = debug_compile();
  for (const char* bad : {"usr/bin/x", "/usr/../etc/x", "/usr//bin", "/usr/bin/"}) {
    HermeticInput input = input_for(args);
    input.entries.push_back({HermeticEntry::Kind::kFile, bad, cas::digest_of(kFn, "x"), false, ""});
    EXPECT_FALSE(hermetic_action(input).ok()) << bad;
  }
  HermeticInput conflict = input_for(args);
  conflict.entries.push_back(
      {HermeticEntry::Kind::kFile, "/src/proj/a.cc", cas::digest_of(kFn, "other"), false, ""});
  EXPECT_FALSE(hermetic_action(conflict).ok());
  HermeticInput relative_cwd = input_for(args);
  relative_cwd.cwd = "build";
  EXPECT_FALSE(hermetic_action(relative_cwd).ok());
}

TEST(HermeticAction, ACheckoutUnderTheBaseIsKeyedRelativeToItsRoot) {
  // Two checkouts of one tree: /src/proj and /work/copy/proj.
  const auto action_at = [](const std::string& top, const std::string& basedir) {
    CompileArgs args = debug_compile();
    args.debug = false;
    args.compiler_args = {"-O2"};
    args.preprocessor_args = {"-I" + top + "/include", "-DX=1"};
    args.source = top + "/a.cc";
    HermeticInput input = input_for(args);
    input.cwd = top + "/build";
    input.entries[2].path = top + "/a.cc";
    input.entries[3].path = top + "/build";
    input.entries.push_back(
        {HermeticEntry::Kind::kFile, top + "/include/a.h", cas::digest_of(kFn, "h"), false, ""});
    input.relocate = relocation_root(input, basedir, "");
    EXPECT_EQ(input.relocate, top);
    auto action = hermetic_action(input);
    EXPECT_TRUE(action.ok());
    return std::make_pair(input.relocate, command_of(*action));
  };
  const auto [root_a, a] = action_at("/src/proj", "/src");
  const auto [root_b, b] = action_at("/work/copy/proj", "/work");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.working_directory, ".kiln-base/build");
  EXPECT_EQ(a.arguments[1], "-I/.kiln-base/include");
  EXPECT_EQ(hermetic_action(input_for(debug_compile()))->digest,
            hermetic_action(input_for(debug_compile()))->digest);
}

TEST(HermeticAction, NoRelocationWhereThePathWouldReachTheObjectOrLeaveTheCheckout) {
  const CompileArgs args = debug_compile();
  const HermeticInput input = input_for(args);
  EXPECT_EQ(relocation_root(input, "", ""), "");
  EXPECT_EQ(relocation_root(input, "/elsewhere", ""), "");           // cwd outside
  EXPECT_EQ(relocation_root(input, "/src", "/src/proj/build"), "");  // -g records it
  EXPECT_EQ(relocation_root(input, "/src", "."), "/src/proj");       // mapped away
  const std::map<std::string, std::string> env = {{"CPATH", "/src/proj/include"}};
  HermeticInput with_env = input;
  with_env.environment = &env;
  EXPECT_EQ(relocation_root(with_env, "/src", ""), "");
  HermeticInput escaping = input;
  escaping.entries.push_back(
      {HermeticEntry::Kind::kSymlink, "/src/proj/sys", {}, false, "../../usr/include"});
  EXPECT_EQ(relocation_root(escaping, "/src", ""), "");
}

TEST(ToolchainEntries, RoundTripAndRefuseAnythingElse) {
  ToolchainEntries toolchain;
  toolchain.path_env = "/opt/bin:/usr/bin:/bin";
  toolchain.entries = {
      {HermeticEntry::Kind::kSymlink, "/lib64", {}, false, "usr/lib64"},
      {HermeticEntry::Kind::kFile, "/usr/bin/g++-12", cas::digest_of(kFn, "driver"), true, ""},
      {HermeticEntry::Kind::kDirectory, "/usr/lib/gcc/x86_64-linux-gnu/12", {}, false, ""},
      {HermeticEntry::Kind::kFile, "/usr/lib/a b.so", cas::digest_of(kFn, "lib"), false, ""},
  };
  const std::string text = format_toolchain_entries(toolchain);
  EXPECT_EQ(parse_toolchain_entries(text, kFn), toolchain);
  EXPECT_FALSE(parse_toolchain_entries(text, cas::DigestFunction::kSha256));
  EXPECT_FALSE(parse_toolchain_entries(text.substr(0, text.size() - 1), kFn));  // cut short
  EXPECT_FALSE(parse_toolchain_entries("", kFn));
  EXPECT_FALSE(parse_toolchain_entries("kiln-hermetic-toolchain-v1\nPATH /bin\nX /a\n", kFn));
  EXPECT_FALSE(parse_toolchain_entries("kiln-hermetic-toolchain-v1\nPATH /bin\nD rel\n", kFn));
  EXPECT_FALSE(parse_toolchain_entries("kiln-hermetic-toolchain-v0\nPATH /bin\n", kFn));
}

}  // namespace
}  // namespace kiln::client::launcher
