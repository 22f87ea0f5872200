#include "client/launcher/compiler_args.h"

#include <gtest/gtest.h>

#include <map>

namespace kiln::client::launcher {
namespace {

using Args = std::vector<std::string>;

using Files = std::map<std::string, std::string>;

std::variant<CompileArgs, Uncacheable> analyze(const Args& argv, const Files& files = {}) {
  return analyze_compile(argv, [&files](const std::string& path) -> std::optional<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  });
}

CompileArgs ok(const Args& argv, const Files& files = {}) {
  auto r = analyze(argv, files);
  if (auto* u = std::get_if<Uncacheable>(&r)) ADD_FAILURE() << "uncacheable: " << u->reason;
  return std::holds_alternative<CompileArgs>(r) ? std::get<CompileArgs>(r) : CompileArgs{};
}

std::string reason(const Args& argv, const Files& files = {}) {
  auto r = analyze(argv, files);
  if (!std::holds_alternative<Uncacheable>(r)) {
    ADD_FAILURE() << "expected uncacheable";
    return {};
  }
  return std::get<Uncacheable>(r).reason;
}

TEST(CompilerArgs, TypicalCMakeCompile) {
  const CompileArgs c = ok({"/usr/bin/c++", "-DNDEBUG", "-I/src/include", "-isystem", "/opt/inc",
                            "-O2", "-g", "-std=c++20", "-fPIC", "-Wall", "-MD", "-MT", "db/x.o",
                            "-MF", "db/x.o.d", "-o", "db/x.o", "-c", "/src/db/x.cc"});
  EXPECT_EQ(c.compiler, "/usr/bin/c++");
  EXPECT_EQ(c.source, "/src/db/x.cc");
  EXPECT_EQ(c.output, "db/x.o");
  EXPECT_EQ(c.language, "c++");
  EXPECT_EQ(c.preprocessor_args, (Args{"-DNDEBUG", "-I/src/include", "-isystem", "/opt/inc"}));
  EXPECT_EQ(c.compiler_args, (Args{"-O2", "-g", "-std=c++20", "-fPIC", "-Wall"}));
  EXPECT_TRUE(c.generate_deps);
  EXPECT_EQ(c.deps_file, "db/x.o.d");
  EXPECT_EQ(c.deps_targets, (std::vector<DepsTarget>{{"db/x.o", false}}));
  EXPECT_TRUE(c.debug);
}

TEST(CompilerArgs, DefaultsFollowGcc) {
  const CompileArgs c = ok({"gcc", "-c", "src/hello.c", "-MMD"});
  EXPECT_EQ(c.output, "hello.o");
  EXPECT_EQ(c.language, "c");
  EXPECT_TRUE(c.deps_skip_system);
  EXPECT_EQ(c.deps_file, "hello.d");
  EXPECT_FALSE(c.debug);
}

TEST(CompilerArgs, JoinedAndSeparateValues) {
  const CompileArgs c =
      ok({"cc", "-c", "a.c", "-oout/a.o", "-D", "X=1", "-include", "pre.h", "-MQ", "$(o)"});
  EXPECT_EQ(c.output, "out/a.o");
  EXPECT_EQ(c.preprocessor_args, (Args{"-D", "X=1", "-include", "pre.h"}));
  EXPECT_EQ(c.deps_targets, (std::vector<DepsTarget>{{"$(o)", true}}));
}

TEST(CompilerArgs, ExplicitLanguage) {
  const CompileArgs c = ok({"g++", "-x", "c++", "-c", "weird.inc", "-o", "w.o"});
  EXPECT_EQ(c.language, "c++");
  EXPECT_TRUE(c.explicit_language);
}

TEST(CompilerArgs, DebugZeroIsNotDebug) {
  EXPECT_FALSE(ok({"cc", "-g", "-g0", "-c", "a.c"}).debug);
}

TEST(CompilerArgs, ResponseFilesAreExpandedWithQuoting) {
  const Files files = {{"args.rsp", "-DA=\"x y\" 'b c.c' -c\n@more.rsp"},
                       {"more.rsp", "-O1 -o out\\ dir/o.o"}};
  const CompileArgs c = ok({"cc", "@args.rsp"}, files);
  EXPECT_EQ(c.source, "b c.c");
  EXPECT_EQ(c.preprocessor_args, (Args{"-DA=x y"}));
  EXPECT_EQ(c.output, "out dir/o.o");
  EXPECT_EQ(reason({"cc", "@missing.rsp"}), "unreadable response file missing.rsp");
  EXPECT_EQ(reason({"cc", "-c", "a.c", "@loop.rsp"}, {{"loop.rsp", "@loop.rsp"}}),
            "response files nested too deeply");
}

TEST(CompilerArgs, ResponseFilesAreBoundedInCountAndArguments) {
  // Files 0..6 each name the next one 20 times, file 7 holds one argument:
  // 423 bytes, within the nesting limit, that expanded to 20^7 reads and as
  // many arguments. Now the reads are bounded.
  Files files;
  std::string refs;
  for (int level = 0; level < 7; ++level) {
    refs.clear();
    for (int i = 0; i < 20; ++i) refs += "@" + std::to_string(level + 1) + " ";
    files[std::to_string(level)] = refs;
  }
  files["7"] = "-DX";
  std::size_t reads = 0;
  const auto counting = [&](const std::string& path) -> std::optional<std::string> {
    ++reads;
    const auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  const Args argv = {"cc", "-c", "a.c", "@0"};
  const auto r = analyze_compile(argv, counting);
  ASSERT_TRUE(std::holds_alternative<Uncacheable>(r));
  EXPECT_EQ(std::get<Uncacheable>(r).reason, "more than 1000 response files");
  EXPECT_EQ(reads, 1000u);

  // Few files, many arguments: 16 reads of a file of 2^16 arguments.
  std::string many;
  for (int i = 0; i < (1 << 16); ++i) many += "-DX ";
  std::string sixteen;
  for (int i = 0; i < 17; ++i) sixteen += "@many ";
  EXPECT_EQ(reason({"cc", "-c", "a.c", "@top"}, {{"top", sixteen}, {"many", many}}),
            "response files give more than 1048576 arguments");
  // Just under both limits is fine.
  std::string sixteen_exact;
  for (int i = 0; i < 15; ++i) sixteen_exact += "@many ";
  EXPECT_EQ(ok({"cc", "-c", "a.c", "@top"}, {{"top", sixteen_exact}, {"many", many}})
                .preprocessor_args.size(),
            15u << 16);
}

TEST(CompilerArgs, UncacheableReasons) {
  EXPECT_EQ(reason({"cc", "a.o", "b.o", "-o", "app"}), "not a source file: a.o (linking?)");
  EXPECT_EQ(reason({"cc", "a.c", "-o", "app"}), "linking (no -c)");
  EXPECT_EQ(reason({"cc", "-E", "a.c"}), "preprocessing only (-E)");
  EXPECT_EQ(reason({"cc", "-c", "a.c", "b.c"}), "several source files");
  EXPECT_EQ(reason({"cc", "-c", "a.c", "-o", "-"}), "output to stdout");
  EXPECT_EQ(reason({"cc", "-c", "a.c", "-save-temps"}), "-save-temps");
  EXPECT_EQ(reason({"cc", "-c", "a.c", "-frobnicate-harder", "-Xclang", "x"}),
            "unknown option -Xclang");
  EXPECT_EQ(reason({"cc", "-c"}), "no source file");
  EXPECT_EQ(reason({"cc", "-c", "-"}), "source from stdin");
  EXPECT_EQ(reason({"cc", "-M", "a.c"}), "dependencies only (-M)");
  EXPECT_EQ(reason({"cc", "--version"}), "not a compile (--version)");
  EXPECT_EQ(reason({"cc", "-c", "a.c", "-Wl,--as-needed"}),
            "linker option -Wl,--as-needed (linking?)");
  EXPECT_EQ(reason({"cc", "-c", "a.c", "-o"}), "-o without a file");
}

TEST(CompilerArgs, EmptyValuesAreUncacheable) {
  // An empty value after -o, -MF, -MT, -MQ or -x was taken as a name: with
  // -o "" the compile was cacheable with no output file (GCC refuses it:
  // "output filename may not be empty"), and with -MD its dependency file
  // was ".d". Found by fuzz/compiler_args_fuzz.
  for (const char* option : {"-o", "-MF", "-MT", "-MQ", "-x", "-D", "-include"}) {
    EXPECT_EQ(reason({"cc", "-MD", "-c", "a.c", option, ""}), "empty argument") << option;
  }
  EXPECT_EQ(reason({"cc", "-c", "a.c", ""}), "empty argument");
}

TEST(CompilerArgs, SplitResponseFile) {
  EXPECT_EQ(split_response_file("  a\tb\n\"c d\" e\\ f ''  "), (Args{"a", "b", "c d", "e f", ""}));
}

TEST(CompilerArgs, LanguageOfExtensions) {
  EXPECT_EQ(language_of("x.cc"), "c++");
  EXPECT_EQ(language_of("x.cpp"), "c++");
  EXPECT_EQ(language_of("x.c"), "c");
  EXPECT_EQ(language_of("x.S"), "assembler-with-cpp");
  EXPECT_EQ(language_of("x.o"), "");
  EXPECT_EQ(language_of("dir.d/file"), "");
}

}  // namespace
}  // namespace kiln::client::launcher
