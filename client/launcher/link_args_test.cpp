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

}  // namespace
}  // namespace kiln::client::launcher
