#!/usr/bin/env bash
# Regenerates the seed corpus fuzz/corpus/<harness>/ from kiln's own code and
# the real tools, never from text copied from elsewhere:
#
#   codec_fuzz          messages encoded by proto/codec (kiln_fuzz_seeds codec)
#   tree_fuzz           trees read by build_tree() (kiln_fuzz_seeds tree): two
#                       of kiln's own folders and a small tree with a symlink
#                       and an executable
#   compiler_args_fuzz  the g++ compile and link commands CMake + Ninja write
#                       for a small project (compile_commands.json, `ninja -t
#                       commands`), once plain and once with response files
#                       (CMAKE_NINJA_FORCE_RESPONSE_FILE, kept by -d keeprsp)
#   depfile_fuzz        the .d files g++ wrote for that build (-MD; kept by -d
#                       keepdepfile), one with -MP -MQ, and one clang++ wrote
#   gtest_xml_fuzz      --gtest_output=xml of tests/fixtures' skewed suite,
#                       passing and (FIXTURE_FAILURES=1) failing
#   ctest_fuzz          `ctest --show-only=json-v1` of the small project, of
#                       an empty one and of a one-test one
#
# Needs the fuzz build (scripts/fuzz.sh configures it). Run from anywhere:
#
#   fuzz/make-corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=out/fuzz
corpus=fuzz/corpus
cmake --build "$build" -j "$(nproc)" --target kiln_fuzz_seeds fixture_skewed_suite >/dev/null
# A fixed place, so the paths inside the seeds stay the same from one run to
# the next (only the GoogleTest timestamps change).
work=/tmp/kiln-fuzz-corpus
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

rm -rf "$corpus"
mkdir -p "$corpus"/{codec_fuzz,tree_fuzz,compiler_args_fuzz,depfile_fuzz,gtest_xml_fuzz,ctest_fuzz}

# codec_fuzz
"$build/bin/kiln_fuzz_seeds" codec "$corpus/codec_fuzz"

# tree_fuzz
"$build/bin/kiln_fuzz_seeds" tree tests/fixtures "$corpus/tree_fuzz/fixtures"
"$build/bin/kiln_fuzz_seeds" tree tests/support "$corpus/tree_fuzz/support"
mkdir -p "$work/tree/src/include" "$work/tree/bin" "$work/tree/empty"
printf '#pragma once\nint greet();\n' >"$work/tree/src/include/greet.h"
printf '#include "greet.h"\nint greet() { return 42; }\n' >"$work/tree/src/greet.cc"
printf '#!/bin/sh\nexec ./tool "$@"\n' >"$work/tree/bin/run"
chmod +x "$work/tree/bin/run"
ln -s ../src/include/greet.h "$work/tree/bin/greet.h"
"$build/bin/kiln_fuzz_seeds" tree "$work/tree" "$corpus/tree_fuzz/symlink_and_executable"

# A small CMake project, built with g++ through Ninja twice: plain, and with
# response files. Its tests give the CTest JSON.
project=$work/project
mkdir -p "$project/include"
printf '#pragma once\nconst char* greeting();\n' >"$project/include/greet.h"
printf '#include "greet.h"\nconst char* greeting() { return "hi kiln"; }\n' >"$project/greet.cc"
printf '#include <cstdio>\n#include "greet.h"\nint main() { std::puts(greeting()); }\n' \
  >"$project/main.cc"
cat >"$project/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(seed LANGUAGES CXX)
enable_testing()
add_library(greet STATIC greet.cc)
target_include_directories(greet PUBLIC include)
target_compile_definitions(greet PRIVATE GREETING_VERSION=2)
add_executable(hello main.cc)
target_link_libraries(hello PRIVATE greet)
add_test(NAME hello.runs COMMAND hello)
set_tests_properties(hello.runs PROPERTIES LABELS "fast;unit" TIMEOUT 2.5
                     PASS_REGULAR_EXPRESSION "hi kiln" ENVIRONMENT "LANG=C;KILN_SEED=1")
add_test(NAME hello.fails COMMAND hello --bad WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(hello.fails PROPERTIES WILL_FAIL TRUE SKIP_RETURN_CODE 77
                     FAIL_REGULAR_EXPRESSION "error" DEPENDS hello.runs)
add_test(NAME hello.off COMMAND hello)
set_tests_properties(hello.off PROPERTIES DISABLED TRUE RESOURCE_LOCK db)
add_test(NAME not.built COMMAND no_such_target_here)
EOF
to_fields() {  # a shell command line -> NUL-separated argv (compiler_args_fuzz's input)
  python3 -c 'import shlex, sys; sys.stdout.write("\0".join(shlex.split(sys.stdin.read())))'
}
for mode in plain rsp; do
  extra=()
  [ "$mode" = rsp ] && extra=(-DCMAKE_NINJA_FORCE_RESPONSE_FILE=ON)
  cmake -S "$project" -B "$work/$mode" -G Ninja --no-warn-unused-cli -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="-Wall -Wextra" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${extra[@]}" >/dev/null
  ninja -C "$work/$mode" -d keeprsp -d keepdepfile >/dev/null
  # The compiler's lines only (not ar and ranlib); the link line is wrapped
  # in ": && … && :".
  (cd "$work/$mode" && ninja -t commands hello) | sed 's/^: && //; s/ && :$//' |
    grep -E '^[^ ]*g\+\+ ' | while IFS= read -r line; do
    name=$(printf '%s' "$line" | sha1sum | cut -c1-12)
    printf '%s' "$line" | to_fields >"$corpus/compiler_args_fuzz/$mode-$name"
    # A response file the command names: its name and text after the argv.
    for rsp in $(printf '%s\n' "$line" | grep -o '@[^ ]*' | cut -c2-); do
      if [ -f "$work/$mode/$rsp" ]; then
        printf '\0\1\0%s\0' "$rsp" >>"$corpus/compiler_args_fuzz/$mode-$name"
        cat "$work/$mode/$rsp" >>"$corpus/compiler_args_fuzz/$mode-$name"
      fi
    done
  done
done
while IFS= read -r depfile; do
  { printf '\0'; cat "$depfile"; } >"$corpus/depfile_fuzz/gcc-$(basename "$depfile")"
done < <(find "$work/plain" -name '*.d')
# A target with a space and a '$', which -MQ quotes for Make.
# shellcheck disable=SC2016
g++ -I"$project/include" -MD -MP -MQ 'obj dir/$greet.o' -MF "$work/mp.d" -c "$project/greet.cc" \
  -o "$work/greet.o"
{ printf '\1'; cat "$work/mp.d"; } >"$corpus/depfile_fuzz/gcc-mp-mq.d"
clang++ -I"$project/include" -MD -MP -MF "$work/clang.d" -c "$project/main.cc" -o "$work/main.o"
{ printf '\3'; cat "$work/clang.d"; } >"$corpus/depfile_fuzz/clang-mp.d"

# ctest_fuzz
ctest --test-dir "$work/plain" --show-only=json-v1 >"$corpus/ctest_fuzz/project.json"
# Two more projects: no test at all, and one test with a short TIMEOUT (a
# small seed, where mutations land on the properties more often).
ctest_project() {  # NAME CMAKE-LINES…
  local name=$1
  shift
  mkdir -p "$work/$name"
  printf 'cmake_minimum_required(VERSION 3.20)\nproject(%s NONE)\nenable_testing()\n' "$name" \
    >"$work/$name/CMakeLists.txt"
  printf '%s\n' "$@" >>"$work/$name/CMakeLists.txt"
  cmake -S "$work/$name" -B "$work/$name/build" -G Ninja >/dev/null
  ctest --test-dir "$work/$name/build" --show-only=json-v1 >"$corpus/ctest_fuzz/$name.json"
}
ctest_project empty
ctest_project single 'add_test(NAME quick COMMAND true)' \
  'set_tests_properties(quick PROPERTIES TIMEOUT 0.001)'

# gtest_xml_fuzz
suite=$build/bin/fixture_skewed_suite
FIXTURE_TIME_SCALE=0.01 "$suite" --gtest_filter='Skewed.T00:Skewed.T03:Output.Prints' \
  --gtest_output="xml:$corpus/gtest_xml_fuzz/passing.xml" >/dev/null
FIXTURE_FAILURES=1 FIXTURE_TIME_SCALE=0.01 "$suite" --gtest_filter='Broken.*:Skewed.T01' \
  --gtest_output="xml:$corpus/gtest_xml_fuzz/failing.xml" >/dev/null || true

find "$corpus" -type f | sort | xargs wc -c | tail -1
