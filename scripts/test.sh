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
# The work that needs no watching (the ASan build, clang-tidy, the fuzzers'
# build) runs in the background, one step after another, at the lowest CPU
# priority, from before the optimized build on: the tests leave much of the
# machine idle (waiting on timeouts, heartbeats, a slowed worker, a booting
# container), and those cycles go to the background, which yields the CPU
# to the foreground whenever it wants it. Each background step's output is
# printed where the foreground needs the step, with its start and duration;
# out/ci-logs/ keeps them.
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
fuzz=1
[ "${KILN_TEST_SKIP_FUZZ:-0}" = 1 ] && fuzz=0
# The fuzzers' compiler now, while nothing else runs: apt-get takes a lock
# that a test installing its own packages would wait on, or fail on.
[ "$fuzz" = 1 ] && scripts/install-packages.sh clang libclang-rt-14-dev

# --- background steps --------------------------------------------------------
# step NAME CMD...: runs CMD in a session of its own at the lowest CPU
# priority: nice 19, and, where the kernel groups processes by session for
# scheduling (autogroup; there nice counts only inside a group), its
# session's group at nice 19 too. Output in $logs/NAME.log, then the exit
# status in $logs/NAME.status.
logs=out/ci-logs
rm -rf "$logs"
mkdir -p "$logs"
step() {
  local name=$1 status=0
  shift
  date +%s >"$logs/$name.start"
  setsid --wait bash -c 'echo $$ >"$0"; echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 "$@"' \
    "$logs/$name.pid" "$@" >"$logs/$name.log" 2>&1 || status=$?
  date +%s >"$logs/$name.end"
  echo "$status" >"$logs/$name.status"
  return "$status"
}
# background STEP...: runs the steps one after another in the background,
# stopping at the first that fails. Each STEP names a bash array holding
# the step's name and its command. One chain at a time.
chain_pid=""
background() {
  local name
  for name in "$@"; do
    local -n queued=$name
    echo "== ${queued[0]}: queued in the background ($(date +%T), $(($(date +%s) - started)) s in)"
  done
  (
    for name in "$@"; do
      local -n cmd=$name
      step "${cmd[@]}" || exit 1
    done
  ) &
  chain_pid=$!
}
# await NAME: waits for background step NAME, prints its output, fails if
# it failed (or never ran because an earlier step failed).
await() {
  local name=$1 status
  echo "== $name: waiting for it ($(date +%T), $(($(date +%s) - started)) s in)"
  until [ -e "$logs/$name.status" ]; do
    if ! kill -0 "$chain_pid" 2>/dev/null && [ ! -e "$logs/$name.status" ]; then
      echo "test.sh: $name did not run: an earlier background step failed" >&2
      exit 1
    fi
    sleep 0.5
  done
  cat "$logs/$name.log"
  status=$(cat "$logs/$name.status")
  echo "== $name: done, $(($(cat "$logs/$name.end") - $(cat "$logs/$name.start"))) s from its start at" \
    "$(($(cat "$logs/$name.start") - started)) s in, exit status $status"
  [ "$status" = 0 ] || { echo "test.sh: $name failed (log: $logs/$name.log)" >&2; exit 1; }
}
# On any exit: stop the chain, and the step it is running (its session).
stop_background() {
  local f
  if [ -n "$chain_pid" ]; then kill "$chain_pid" 2>/dev/null || true; fi
  for f in "$logs"/*.pid; do
    if [ -e "$f" ] && [ ! -e "${f%.pid}.status" ]; then kill -- -"$(cat "$f")" 2>/dev/null || true; fi
  done
}
trap stop_background EXIT

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

# The background chain: asan-build (ASan+UBSan, -Werror), clang-tidy (the
# enforced checks, on the ASan build's compilation database), fuzz-build
# (the libFuzzer harnesses: clang, ASan+UBSan). With the ASan pass it starts
# before the optimized build, and takes what that build leaves idle (its
# last links); without, clang-tidy reads the optimized build's generated
# headers, and the chain starts after that build.
chain=()
if [ "$asan" = 1 ]; then
  stage "configure (ASan+UBSan), start the background chain"
  # Executables linked -no-pie: an ASan+UBSan PIE of this size applies 1.4
  # million relative relocations every time it starts, and the tests start
  # one thousands of times; -no-pie takes a quarter off the CPU time of the
  # ASan tests, and the sanitizers check the same.
  cmake -S . -B out/asan -G Ninja -DKILN_WERROR=ON -DKILN_SANITIZE=address \
    -DCMAKE_BUILD_TYPE=Debug "${line_tables[@]}" -DCMAKE_EXE_LINKER_FLAGS=-no-pie \
    -DKILN_UNIT_TESTS=ON -DKILN_BENCHMARKS=OFF >/dev/null
  asan_build=(asan-build cmake --build out/asan -j "$jobs")
  tidy=(clang-tidy scripts/tidy.sh --all out/asan)
  chain+=(asan_build)
else
  tidy=(clang-tidy scripts/tidy.sh --all out/test)
fi
fuzz_build=(fuzz-build scripts/fuzz.sh --build)
chain+=(tidy)
[ "$fuzz" = 1 ] && chain+=(fuzz_build)
[ "$asan" = 1 ] && background "${chain[@]}"

stage "build (optimized, -Werror)"
cmake -S . -B out/test -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${line_tables[@]}" -DKILN_UNIT_TESTS=$unit_tests -DKILN_BENCHMARKS=ON >/dev/null
cmake --build out/test -j "$jobs"
[ "$asan" = 0 ] && background "${chain[@]}"

stage "tests (optimized)"
# With the sanitizer pass, each test runs once: the real-project builds
# (there the compiler does the work, not kiln), the deployment tests and
# the grid under load here, everything else there.
optimized_only='^(real_project|deploy|load)$'
only_here=()
[ "$asan" = 1 ] && only_here=(-L "$optimized_only")
ctest --test-dir out/test --output-on-failure -j "$jobs" --timeout 300 "${only_here[@]}"

if [ "$asan" = 1 ]; then
  await "${asan_build[0]}"
  stage "tests (ASan+UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir out/asan --output-on-failure -j "$jobs" --timeout 600 -LE "$optimized_only"
fi
await "${tidy[0]}"
if [ "$fuzz" = 1 ]; then
  await "${fuzz_build[0]}"
  stage "fuzz (libFuzzer, ASan)"
  scripts/fuzz.sh "${KILN_FUZZ_SECONDS:-15}"
fi
stage "all passed"
