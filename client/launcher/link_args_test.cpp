// Which links the launcher caches.
#include "client/launcher/link_args.h"

#include <gtest/gtest.h>

namespace kiln::client::launcher {
namespace {

std::variant<LinkArgs, Uncacheable> analyze(std::vector<std::string> argv) {
  return analyze_link(argv, [](const std::string& path) -> std::optional<std::string> {
    if (path == "objs.rsp") return "a.o b.o";
    return std::nullopt;
  });
}

std::string reason(std::vector<std::string> argv) {
  auto result = analyze(std::move(argv));
  if (auto* u = std::get_if<Uncacheable>(&result)) return u->reason;
  return "cacheable";
}

TEST(LinkArgs, WhatCMakeEmitsIsCacheable) {
  auto result = analyze({"/usr/bin/c++", "-O3", "-DNDEBUG", "CMakeFiles/t.dir/t.cc.o", "-o", "t",
                         "libleveldb.a", "-lgtest", "-Wl,-rpath,/x", "-pthread"});
  auto* link = std::get_if<LinkArgs>(&result);
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->output, "t");
  EXPECT_EQ(link->args,
            (std::vector<std::string>{"-O3", "-DNDEBUG", "CMakeFiles/t.dir/t.cc.o", "libleveldb.a",
                                      "-lgtest", "-Wl,-rpath,/x", "-pthread"}));
  EXPECT_EQ(reason({"g++", "-shared", "-fPIC", "-Wl,-soname,libx.so.1", "-o", "libx.so.1", "x.o"}),
            "cacheable");
  EXPECT_EQ(reason({"g++", "@objs.rsp", "-o", "prog"}), "cacheable");
}

TEST(LinkArgs, WhatItCannotCache) {
  EXPECT_EQ(reason({"g++", "a.cc", "-o", "a"}), "compile and link in one command");
  EXPECT_EQ(reason({"g++", "a.o"}), "link without -o");
  EXPECT_EQ(reason({"g++", "-o", "a"}), "link without inputs");
  EXPECT_EQ(reason({"g++", "a.o", "-o", "-"}), "output to stdout");
  EXPECT_EQ(reason({"g++", "a.o", "-o", "a", "-Wl,-Map,a.map"}),
            "linker writes another file (-Map)");
  EXPECT_EQ(reason({"g++", "a.o", "-o", "a", "-Wl,--dependency-file=x.d"}),
            "linker writes another file (--dependency-file=x.d)");
  EXPECT_EQ(reason({"g++", "a.o", "-o", "a", "-Xlinker", "--out-implib"}),
            "linker writes another file (--out-implib)");
  EXPECT_EQ(reason({"g++", "a.o", "-o", "a", "-flto"}), "link option -flto");
  EXPECT_EQ(reason({"g++", "a.o", "-o", "a", "--frobnicate"}), "unknown link option --frobnicate");
  EXPECT_EQ(reason({"g++", "-c", "a.o", "-o", "a"}), "not a link (-c)");
  EXPECT_EQ(reason({"g++", "@missing.rsp", "-o", "a"}), "unreadable response file missing.rsp");
}

// A compile, a link, or why neither: what the launcher runs on.
TEST(AnalyzeCommand, ACompileALinkOrWhyNeither) {
  const auto analyze_all = [](std::vector<std::string> argv) {
    return analyze_command(argv, [](const std::string&) { return std::nullopt; });
  };
  const auto why = [&](std::vector<std::string> argv) {
    auto result = analyze_all(std::move(argv));
    auto* u = std::get_if<Uncacheable>(&result);
    return u != nullptr ? u->reason : std::string("cacheable");
  };
  EXPECT_TRUE(std::holds_alternative<CompileArgs>(analyze_all({"gcc", "-c", "a.c", "-o", "a.o"})));
  auto link = analyze_all({"gcc", "a.o", "b.o", "-o", "prog"});
  ASSERT_TRUE(std::holds_alternative<LinkArgs>(link));
  EXPECT_EQ(std::get<LinkArgs>(link).output, "prog");
  // A compile's reason when the command is not a link at all...
  EXPECT_EQ(why({"gcc", "-E", "a.c"}), "preprocessing only (-E)");
  // ...and the link's reason inside "linking (…)" when it is one.
  EXPECT_EQ(why({"gcc", "-c", "a.c", "-o", "-"}), "output to stdout");
  EXPECT_EQ(why({"gcc", "a.o"}), "linking (link without -o)");
  EXPECT_EQ(why({"gcc", "a.o", "-o", "-"}), "linking (output to stdout)");
  EXPECT_EQ(why({"gcc", "a.c", "-o", "a"}), "linking (compile and link in one command)");
}

}  // namespace
}  // namespace kiln::client::launcher
