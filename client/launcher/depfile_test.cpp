#include "client/launcher/depfile.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace kiln::client::launcher {
namespace {

using Deps = std::vector<std::string>;
using Targets = std::vector<DepfileTarget>;

// Dependency files written by gcc 12.2.0 (Debian 12), captured verbatim.
// The sources include headers named header_with_a_fairly_long_name_number_N.h,
// "inc dir/sp ace.h", "we$ird/ha#sh.h" and "we$ird/back\slash.h".

// g++ -c main.cc -o main.o -MD -MP  (main.cc includes <vector>)
constexpr std::string_view kSystemHeadersMp =
    "main.o: main.cc /usr/include/stdc-predef.h \\\n"
    " header_with_a_fairly_long_name_number_1.h \\\n"
    " header_with_a_fairly_long_name_number_2.h \\\n"
    " header_with_a_fairly_long_name_number_3.h \\\n"
    " header_with_a_fairly_long_name_number_4.h \\\n"
    " header_with_a_fairly_long_name_number_5.h \\\n"
    " header_with_a_fairly_long_name_number_6.h \\\n"
    " header_with_a_fairly_long_name_number_7.h \\\n"
    " header_with_a_fairly_long_name_number_8.h \\\n"
    " header_with_a_fairly_long_name_number_9.h \\\n"
    " header_with_a_fairly_long_name_number_10.h \\\n"
    " header_with_a_fairly_long_name_number_11.h \\\n"
    " header_with_a_fairly_long_name_number_12.h inc\\ dir/sp\\ ace.h \\\n"
    " we$$ird/ha\\#sh.h we$$ird/back\\slash.h /usr/include/c++/12/vector \\\n"
    " /usr/include/c++/12/bits/stl_algobase.h \\\n"
    " /usr/include/x86_64-linux-gnu/c++/12/bits/c++config.h \\\n"
    " /usr/include/x86_64-linux-gnu/c++/12/bits/os_defines.h \\\n"
    " /usr/include/features.h /usr/include/features-time64.h \\\n"
    " /usr/include/x86_64-linux-gnu/bits/wordsize.h \\\n"
    " /usr/include/x86_64-linux-gnu/bits/timesize.h \\\n"
    " /usr/include/x86_64-linux-gnu/sys/cdefs.h \\\n"
    " /usr/include/x86_64-linux-gnu/bits/long-double.h \\\n"
    " /usr/include/x86_64-linux-gnu/gnu/stubs.h \\\n"
    " /usr/include/x86_64-linux-gnu/gnu/stubs-64.h \\\n"
    " /usr/include/x86_64-linux-gnu/c++/12/bits/cpu_defines.h \\\n"
    " /usr/include/c++/12/pstl/pstl_config.h \\\n"
    " /usr/include/c++/12/bits/functexcept.h \\\n"
    " /usr/include/c++/12/bits/exception_defines.h \\\n"
    " /usr/include/c++/12/bits/cpp_type_traits.h \\\n"
    " /usr/include/c++/12/ext/type_traits.h \\\n"
    " /usr/include/c++/12/ext/numeric_traits.h \\\n"
    " /usr/include/c++/12/bits/stl_pair.h /usr/include/c++/12/type_traits \\\n"
    " /usr/include/c++/12/bits/move.h /usr/include/c++/12/bits/utility.h \\\n"
    " /usr/include/c++/12/bits/stl_iterator_base_types.h \\\n"
    " /usr/include/c++/12/bits/stl_iterator_base_funcs.h \\\n"
    " /usr/include/c++/12/bits/concept_check.h \\\n"
    " /usr/include/c++/12/debug/assertions.h \\\n"
    " /usr/include/c++/12/bits/stl_iterator.h \\\n"
    " /usr/include/c++/12/bits/ptr_traits.h /usr/include/c++/12/debug/debug.h \\\n"
    " /usr/include/c++/12/bits/predefined_ops.h \\\n"
    " /usr/include/c++/12/bits/allocator.h \\\n"
    " /usr/include/x86_64-linux-gnu/c++/12/bits/c++allocator.h \\\n"
    " /usr/include/c++/12/bits/new_allocator.h /usr/include/c++/12/new \\\n"
    " /usr/include/c++/12/bits/exception.h \\\n"
    " /usr/include/c++/12/bits/memoryfwd.h \\\n"
    " /usr/include/c++/12/bits/stl_construct.h \\\n"
    " /usr/include/c++/12/bits/stl_uninitialized.h \\\n"
    " /usr/include/c++/12/ext/alloc_traits.h \\\n"
    " /usr/include/c++/12/bits/alloc_traits.h \\\n"
    " /usr/include/c++/12/bits/stl_vector.h \\\n"
    " /usr/include/c++/12/initializer_list \\\n"
    " /usr/include/c++/12/bits/stl_bvector.h \\\n"
    " /usr/include/c++/12/bits/functional_hash.h \\\n"
    " /usr/include/c++/12/bits/hash_bytes.h /usr/include/c++/12/bits/refwrap.h \\\n"
    " /usr/include/c++/12/bits/invoke.h \\\n"
    " /usr/include/c++/12/bits/stl_function.h \\\n"
    " /usr/include/c++/12/backward/binders.h \\\n"
    " /usr/include/c++/12/bits/range_access.h \\\n"
    " /usr/include/c++/12/bits/vector.tcc\n"
    "/usr/include/stdc-predef.h:\n"
    "header_with_a_fairly_long_name_number_1.h:\n"
    "header_with_a_fairly_long_name_number_2.h:\n"
    "header_with_a_fairly_long_name_number_3.h:\n"
    "header_with_a_fairly_long_name_number_4.h:\n"
    "header_with_a_fairly_long_name_number_5.h:\n"
    "header_with_a_fairly_long_name_number_6.h:\n"
    "header_with_a_fairly_long_name_number_7.h:\n"
    "header_with_a_fairly_long_name_number_8.h:\n"
    "header_with_a_fairly_long_name_number_9.h:\n"
    "header_with_a_fairly_long_name_number_10.h:\n"
    "header_with_a_fairly_long_name_number_11.h:\n"
    "header_with_a_fairly_long_name_number_12.h:\n"
    "inc\\ dir/sp\\ ace.h:\n"
    "we$$ird/ha\\#sh.h:\n"
    "we$$ird/back\\slash.h:\n"
    "/usr/include/c++/12/vector:\n"
    "/usr/include/c++/12/bits/stl_algobase.h:\n"
    "/usr/include/x86_64-linux-gnu/c++/12/bits/c++config.h:\n"
    "/usr/include/x86_64-linux-gnu/c++/12/bits/os_defines.h:\n"
    "/usr/include/features.h:\n"
    "/usr/include/features-time64.h:\n"
    "/usr/include/x86_64-linux-gnu/bits/wordsize.h:\n"
    "/usr/include/x86_64-linux-gnu/bits/timesize.h:\n"
    "/usr/include/x86_64-linux-gnu/sys/cdefs.h:\n"
    "/usr/include/x86_64-linux-gnu/bits/long-double.h:\n"
    "/usr/include/x86_64-linux-gnu/gnu/stubs.h:\n"
    "/usr/include/x86_64-linux-gnu/gnu/stubs-64.h:\n"
    "/usr/include/x86_64-linux-gnu/c++/12/bits/cpu_defines.h:\n"
    "/usr/include/c++/12/pstl/pstl_config.h:\n"
    "/usr/include/c++/12/bits/functexcept.h:\n"
    "/usr/include/c++/12/bits/exception_defines.h:\n"
    "/usr/include/c++/12/bits/cpp_type_traits.h:\n"
    "/usr/include/c++/12/ext/type_traits.h:\n"
    "/usr/include/c++/12/ext/numeric_traits.h:\n"
    "/usr/include/c++/12/bits/stl_pair.h:\n"
    "/usr/include/c++/12/type_traits:\n"
    "/usr/include/c++/12/bits/move.h:\n"
    "/usr/include/c++/12/bits/utility.h:\n"
    "/usr/include/c++/12/bits/stl_iterator_base_types.h:\n"
    "/usr/include/c++/12/bits/stl_iterator_base_funcs.h:\n"
    "/usr/include/c++/12/bits/concept_check.h:\n"
    "/usr/include/c++/12/debug/assertions.h:\n"
    "/usr/include/c++/12/bits/stl_iterator.h:\n"
    "/usr/include/c++/12/bits/ptr_traits.h:\n"
    "/usr/include/c++/12/debug/debug.h:\n"
    "/usr/include/c++/12/bits/predefined_ops.h:\n"
    "/usr/include/c++/12/bits/allocator.h:\n"
    "/usr/include/x86_64-linux-gnu/c++/12/bits/c++allocator.h:\n"
    "/usr/include/c++/12/bits/new_allocator.h:\n"
    "/usr/include/c++/12/new:\n"
    "/usr/include/c++/12/bits/exception.h:\n"
    "/usr/include/c++/12/bits/memoryfwd.h:\n"
    "/usr/include/c++/12/bits/stl_construct.h:\n"
    "/usr/include/c++/12/bits/stl_uninitialized.h:\n"
    "/usr/include/c++/12/ext/alloc_traits.h:\n"
    "/usr/include/c++/12/bits/alloc_traits.h:\n"
    "/usr/include/c++/12/bits/stl_vector.h:\n"
    "/usr/include/c++/12/initializer_list:\n"
    "/usr/include/c++/12/bits/stl_bvector.h:\n"
    "/usr/include/c++/12/bits/functional_hash.h:\n"
    "/usr/include/c++/12/bits/hash_bytes.h:\n"
    "/usr/include/c++/12/bits/refwrap.h:\n"
    "/usr/include/c++/12/bits/invoke.h:\n"
    "/usr/include/c++/12/bits/stl_function.h:\n"
    "/usr/include/c++/12/backward/binders.h:\n"
    "/usr/include/c++/12/bits/range_access.h:\n"
    "/usr/include/c++/12/bits/vector.tcc:\n";

// g++ -c "my src.cc" -o "my out.o" -MMD
constexpr std::string_view kSpaceInSource =
    "my\\ out.o: my\\ src.cc header_with_a_fairly_long_name_number_1.h \\\n"
    " header_with_a_fairly_long_name_number_2.h \\\n"
    " header_with_a_fairly_long_name_number_3.h \\\n"
    " header_with_a_fairly_long_name_number_4.h \\\n"
    " header_with_a_fairly_long_name_number_5.h \\\n"
    " header_with_a_fairly_long_name_number_6.h \\\n"
    " header_with_a_fairly_long_name_number_7.h \\\n"
    " header_with_a_fairly_long_name_number_8.h \\\n"
    " header_with_a_fairly_long_name_number_9.h \\\n"
    " header_with_a_fairly_long_name_number_10.h \\\n"
    " header_with_a_fairly_long_name_number_11.h \\\n"
    " header_with_a_fairly_long_name_number_12.h inc\\ dir/sp\\ ace.h \\\n"
    " we$$ird/ha\\#sh.h we$$ird/back\\slash.h\n";

// g++ -c main.cc -o x.o -MMD -MF q.d -MQ 'a$b c.o' -MT 'r$aw t#.o' -MQ 'q#2'
constexpr std::string_view kMqMt =
    "r$aw t#.o q\\#2 a$$b\\ c.o: main.cc \\\n"
    " header_with_a_fairly_long_name_number_1.h \\\n"
    " header_with_a_fairly_long_name_number_2.h \\\n"
    " header_with_a_fairly_long_name_number_3.h \\\n"
    " header_with_a_fairly_long_name_number_4.h \\\n"
    " header_with_a_fairly_long_name_number_5.h \\\n"
    " header_with_a_fairly_long_name_number_6.h \\\n"
    " header_with_a_fairly_long_name_number_7.h \\\n"
    " header_with_a_fairly_long_name_number_8.h \\\n"
    " header_with_a_fairly_long_name_number_9.h \\\n"
    " header_with_a_fairly_long_name_number_10.h \\\n"
    " header_with_a_fairly_long_name_number_11.h \\\n"
    " header_with_a_fairly_long_name_number_12.h inc\\ dir/sp\\ ace.h \\\n"
    " we$$ird/ha\\#sh.h we$$ird/back\\slash.h\n";

// gcc -c odd.c -o odd.o -MMD -MP: headers "odd/sl\ sp.h", "odd/t<TAB>ab.h", "odd/end\#x.h",
// "odd/$$dollar.h"
constexpr std::string_view kOddNamesMp =
    "odd.o: odd.c odd/sl\\\\\\ sp.h odd/t\\\tab.h odd/end\\\\#x.h odd/$$$$dollar.h \\\n"
    " we$$ird/back\\slash.h header_with_a_fairly_long_name_number_1.h\n"
    "odd/sl\\\\\\ sp.h:\n"
    "odd/t\\\tab.h:\n"
    "odd/end\\\\#x.h:\n"
    "odd/$$$$dollar.h:\n"
    "we$$ird/back\\slash.h:\n"
    "header_with_a_fairly_long_name_number_1.h:\n";

// gcc -c 'a very/long directory name with spaces/and more/x.c' -include header_..._2.h -MD -MT
// <long> -MQ <long with spaces and $> -MT short.o
constexpr std::string_view kLongTargets =
    "very/long/target/name/number/one/with/many/components/that/goes/on/and/on.o \\\n"
    " short.o \\\n"
    " second\\ target\\ with\\ spaces\\ and\\ $$\\ dollars\\ that\\ is\\ also\\ quite\\ long.o: "
    "\\\n"
    " a\\ very/long\\ directory\\ name\\ with\\ spaces/and\\ more/x.c \\\n"
    " /usr/include/stdc-predef.h header_with_a_fairly_long_name_number_2.h\n";

// g++ -c e.c -MMD -MQ 'a\ b' -MQ 'c\\ d' -MQ 'e\#f' -MQ 'tab<TAB>x' -MQ 'g\'
constexpr std::string_view kQuotedTargets = "a\\\\\\ b c\\\\\\\\\\ d e\\\\#f tab\\\tx g\\: e.c\n";

Deps parsed(std::string_view text) {
  auto deps = parse_depfile(text);
  if (!deps) {
    ADD_FAILURE() << "not parsed: " << text;
    return {};
  }
  return *deps;
}

TEST(Depfile, ParsesSystemHeadersWithPhonyRules) {
  const Deps deps = parsed(kSystemHeadersMp);
  ASSERT_EQ(deps.size(), 69U);  // 68 phony rules + the source
  EXPECT_EQ(deps[0], "main.cc");
  EXPECT_EQ(deps[1], "/usr/include/stdc-predef.h");
  EXPECT_EQ(deps[2], "header_with_a_fairly_long_name_number_1.h");
  EXPECT_EQ(deps[14], "inc dir/sp ace.h");
  EXPECT_EQ(deps[15], "we$ird/ha#sh.h");
  EXPECT_EQ(deps[16], "we$ird/back\\slash.h");
  EXPECT_EQ(deps[17], "/usr/include/c++/12/vector");
  EXPECT_EQ(deps.back(), "/usr/include/c++/12/bits/vector.tcc");
}

TEST(Depfile, ParsesSourceWithSpace) {
  const Deps deps = parsed(kSpaceInSource);
  ASSERT_EQ(deps.size(), 16U);
  EXPECT_EQ(deps[0], "my src.cc");
  EXPECT_EQ(deps[1], "header_with_a_fairly_long_name_number_1.h");
  EXPECT_EQ(deps.back(), "we$ird/back\\slash.h");
}

TEST(Depfile, ParsesAfterQuotedAndRawTargets) {
  const Deps deps = parsed(kMqMt);
  ASSERT_EQ(deps.size(), 16U);
  EXPECT_EQ(deps[0], "main.cc");
  EXPECT_EQ(deps[13], "inc dir/sp ace.h");
}

TEST(Depfile, ParsesOddNames) {
  EXPECT_EQ(parsed(kOddNamesMp),
            (Deps{"odd.c", "odd/sl\\ sp.h", "odd/t\tab.h", "odd/end\\#x.h", "odd/$$dollar.h",
                  "we$ird/back\\slash.h", "header_with_a_fairly_long_name_number_1.h"}));
}

TEST(Depfile, ParsesAfterLongWrappedTargets) {
  EXPECT_EQ(parsed(kLongTargets),
            (Deps{"a very/long directory name with spaces/and more/x.c",
                  "/usr/include/stdc-predef.h", "header_with_a_fairly_long_name_number_2.h"}));
  EXPECT_EQ(parsed(kQuotedTargets), (Deps{"e.c"}));
}

TEST(Depfile, ParsesCrLfLikeLf) {
  std::string crlf;
  for (const char c : kSystemHeadersMp) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  EXPECT_EQ(parsed(crlf), parsed(kSystemHeadersMp));
}

TEST(Depfile, ParsesHandWrittenCases) {
  EXPECT_EQ(parsed("x.o: a.h b.h a.h c.h b.h\n"), (Deps{"a.h", "b.h", "c.h"}));
  EXPECT_EQ(parsed("a.o b.o: x.c\n"), (Deps{"x.c"}));
  EXPECT_EQ(parsed("x.o:\n"), Deps{});
  EXPECT_EQ(parsed("x.o:"), Deps{});
  EXPECT_EQ(parsed("x.o: y.c"), (Deps{"y.c"}));
  EXPECT_EQ(parsed("\n\n  \nx.o: y.c\n"), (Deps{"y.c"}));
  EXPECT_EQ(parsed("x.o:\\\n y.c\\\n\tz.h\n"), (Deps{"y.c", "z.h"}));
  EXPECT_EQ(parsed("x.o: y.c \\\r\n z.h\r\n"), (Deps{"y.c", "z.h"}));
  EXPECT_EQ(parsed("C:/out/x.o: C:/src/x.c C:\\inc\\y.h\n"), (Deps{"C:/src/x.c", "C:\\inc\\y.h"}));
  EXPECT_EQ(parsed("my\\ x.o: a\\ b.h c\\#d.h e$$f.h g$h.h\n"),
            (Deps{"a b.h", "c#d.h", "e$f.h", "g$h.h"}));
  // 2N backslashes before a blank: N backslashes ending the name.
  EXPECT_EQ(parsed("x.o: a\\\\ b\n"), (Deps{"a\\", "b"}));
  // Old GCC's -MP layout (a blank line before each phony rule) and rules
  // after the first are ignored.
  EXPECT_EQ(parsed("x.o: x.c y.h\n\ny.h:\n\nz.o: q.h\n"), (Deps{"x.c", "y.h"}));
}

TEST(Depfile, RejectsMalformed) {
  EXPECT_EQ(parse_depfile(""), std::nullopt);
  EXPECT_EQ(parse_depfile("\n \n"), std::nullopt);
  EXPECT_EQ(parse_depfile("x.o y.c\n"), std::nullopt);
  EXPECT_EQ(parse_depfile("x.o y.c\nz.o: w.c\n"), std::nullopt);
  EXPECT_EQ(parse_depfile(": y.c\n"), std::nullopt);
  EXPECT_EQ(parse_depfile("C:/x.o\n"), std::nullopt);
  EXPECT_EQ(parse_depfile("garbage"), std::nullopt);
}

TEST(Depfile, QuotesLikeGcc) {
  EXPECT_EQ(quote_make("plain/file.h"), "plain/file.h");
  EXPECT_EQ(quote_make("a b\tc"), "a\\ b\\\tc");
  EXPECT_EQ(quote_make("a#b$c"), "a\\#b$$c");
  EXPECT_EQ(quote_make("a\\b"), "a\\b");
  EXPECT_EQ(quote_make("a\\ b"), "a\\\\\\ b");
  EXPECT_EQ(quote_make("a\\#b"), "a\\\\#b");
}

// render(targets, parse(gcc's file)) must give gcc's file back, byte for byte.
void expect_round_trip(std::string_view gcc_text, const Targets& targets, bool phony) {
  const Deps deps = parsed(gcc_text);
  EXPECT_EQ(render_depfile(targets, deps, phony), gcc_text);
}

TEST(Depfile, RoundTripsSystemHeadersWithPhonyRules) {
  expect_round_trip(kSystemHeadersMp, {{"main.o", true}}, true);
}

TEST(Depfile, RoundTripsSourceWithSpace) {
  expect_round_trip(kSpaceInSource, {{"my out.o", true}}, false);
}

TEST(Depfile, RoundTripsMqMtInGccOrder) {
  expect_round_trip(kMqMt, {{"a$b c.o", true}, {"r$aw t#.o", false}, {"q#2", true}}, false);
}

TEST(Depfile, RoundTripsOddNames) { expect_round_trip(kOddNamesMp, {{"odd.o", true}}, true); }

TEST(Depfile, RoundTripsLongTargets) {
  expect_round_trip(
      kLongTargets,
      {{"very/long/target/name/number/one/with/many/components/that/goes/on/and/on.o", false},
       {"second target with spaces and $ dollars that is also quite long.o", true},
       {"short.o", false}},
      false);
  expect_round_trip(
      kQuotedTargets,
      {{"a\\ b", true}, {"c\\\\ d", true}, {"e\\#f", true}, {"tab\tx", true}, {"g\\", true}},
      false);
}

TEST(Depfile, TargetOrderFollowsGcc) {
  // Observed with gcc 12: the driver passes -MQ before -MT, and each -MT
  // takes the slot of the first quoted target.
  const Deps deps{"e.c"};
  auto first_line = [&deps](const Targets& targets) {
    return render_depfile(targets, deps, false);
  };
  EXPECT_EQ(first_line({{"a", true}, {"b", true}, {"c", true}}), "a b c: e.c\n");
  EXPECT_EQ(first_line({{"a", false}, {"b", false}, {"c", false}}), "a b c: e.c\n");
  EXPECT_EQ(first_line({{"a", true}, {"b", false}}), "b a: e.c\n");
  EXPECT_EQ(first_line({{"a", false}, {"b", true}}), "a b: e.c\n");
  EXPECT_EQ(first_line({{"a", true}, {"b", true}, {"c", false}}), "c b a: e.c\n");
  EXPECT_EQ(first_line({{"a", true}, {"b", true}, {"c", true}, {"d", false}}), "d b c a: e.c\n");
  EXPECT_EQ(first_line({{"a", true}, {"b", false}, {"c", true}, {"d", false}}), "b d a c: e.c\n");
  EXPECT_EQ(first_line({{"a", false}, {"b", true}, {"c", false}, {"d", true}, {"e", true}}),
            "a c e b d: e.c\n");
}

TEST(Depfile, RendersEdgeCases) {
  // No dependencies (source from stdin): gcc writes an empty file.
  EXPECT_EQ(render_depfile(Targets{{"x.o", true}}, Deps{}, true), "");
  // -MP with only the source: no phony rule.
  EXPECT_EQ(render_depfile(Targets{{"x.o", true}}, Deps{"x.c"}, true), "x.o: x.c\n");
  // A name longer than a line is written on its own continuation line.
  const std::string huge(100, 'h');
  EXPECT_EQ(render_depfile(Targets{{"x.o", true}}, Deps{"x.c", huge, "y.h"}, false),
            "x.o: x.c \\\n " + huge + " \\\n y.h\n");
}

}  // namespace
}  // namespace kiln::client::launcher
