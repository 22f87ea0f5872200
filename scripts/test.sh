#!/usr/bin/env bash
# Runs kiln's whole test suite on a bare Debian 12 machine (as root, or with
# sudo): installs the packages, checks formatting, then two builds, every
# file compiled with -Werror in both:
#
#   out/test  optimized (-O2, line tables), what users run: the executables,
#             fixtures and benchmarks; the real-project builds through kiln
#             (label real_project), the deployment tests (label deploy:
#             the units, image and manifests are for these binaries, and a
#             sanitizer's runtime cannot run under the units' system call
#             filters) and the grid under load (label load: no hostile
#             input, and four to five times the CPU under the sanitizers)
#             run here
#   out/asan  AddressSanitizer + UndefinedBehaviorSanitizer (-O0, line
#             tables): everything, unit tests too; every other test (the
#             unit tests, the end-to-end scenarios with the real binaries on
#             loopback, the purity check) runs here
#
# and clang-tidy's enforced checks on every translation unit
# (scripts/tidy.sh), from out/asan's compilation database; then the libFuzzer
# harnesses (scripts/fuzz.sh: out/fuzz, clang, ASan+UBSan), each for
# KILN_FUZZ_SECONDS (default 15), failing on any crash, leak or timeout.
#
#   scripts/test.sh                          everything (what CI runs)
#   KILN_TEST_SKIP_ASAN=1 scripts/test.sh    one optimized build with every test,
#                                            no sanitizer pass
#   KILN_TEST_SKIP_FUZZ=1 scripts/test.sh    no fuzzing stage
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
stage() { echo "== $* ($(date +%T), $(($(date +%s) - started)) s in)"; }

scripts/install-deps.sh

stage "format check"
git ls-files '*.h' '*.cpp' | xargs clang-format --dry-run -Werror

jobs=$(nproc)
asan=1
[ "${KILN_TEST_SKIP_ASAN:-0}" = 1 ] && asan=0
# Line tables are what a stack trace needs; full debug info costs a quarter
# of the compile time and only a debugger wants it.
line_tables=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_DEBUG="-g1")
unit_tests=OFF
[ "$asan" = 0 ] && unit_tests=ON

stage "build (optimized, -Werror)"
cmake -S . -B out/test -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${line_tables[@]}" -DKILN_UNIT_TESTS=$unit_tests -DKILN_BENCHMARKS=ON >/dev/null
cmake --build out/test -j "$jobs"
stage "tests (optimized)"
# With the sanitizer pass, each test runs once: the real-project builds
# (there the compiler does the work, not kiln), the deployment tests and
# the grid under load here, everything else there.
optimized_only='^(real_project|deploy|load)$'
only_here=()
[ "$asan" = 1 ] && only_here=(-L "$optimized_only")
ctest --test-dir out/test --output-on-failure -j "$jobs" --timeout 300 "${only_here[@]}"

if [ "$asan" = 1 ]; then
  stage "build (ASan+UBSan, -Werror)"
  # Executables linked -no-pie: an ASan+UBSan PIE of this size applies 1.4
  # million relative relocations every time it starts, and the tests start
  # one thousands of times; -no-pie takes a quarter off the CPU time of the
  # ASan tests, and the sanitizers check the same.
  cmake -S . -B out/asan -G Ninja -DKILN_WERROR=ON -DKILN_SANITIZE=address \
    -DCMAKE_BUILD_TYPE=Debug "${line_tables[@]}" -DCMAKE_EXE_LINKER_FLAGS=-no-pie \
    -DKILN_UNIT_TESTS=ON -DKILN_BENCHMARKS=OFF >/dev/null
  cmake --build out/asan -j "$jobs"
  stage "clang-tidy (enforced checks)"
  scripts/tidy.sh --all out/asan
  stage "tests (ASan+UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir out/asan --output-on-failure -j "$jobs" --timeout 600 -LE "$optimized_only"
else
  stage "clang-tidy (enforced checks)"
  scripts/tidy.sh --all out/test
fi
if [ "${KILN_TEST_SKIP_FUZZ:-0}" != 1 ]; then
  stage "fuzz (libFuzzer, ASan)"
  scripts/fuzz.sh "${KILN_FUZZ_SECONDS:-15}"
fi
stage "all passed"
