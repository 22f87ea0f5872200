#!/usr/bin/env bash
# Runs kiln's whole test suite on a bare Debian 12 machine (as root, or with
# sudo): installs the packages, checks formatting, builds with -Werror, runs
# clang-tidy's enforced checks on every translation unit (scripts/tidy.sh),
# runs every test through CTest, then builds and runs them again under
# AddressSanitizer + UndefinedBehaviorSanitizer (without the real-project
# builds, label real_project: there the compiler does the work, not kiln).
#
#   scripts/test.sh            everything
#   KILN_TEST_SKIP_ASAN=1 scripts/test.sh   skip the sanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== format check"
git ls-files '*.h' '*.cpp' | xargs clang-format --dry-run -Werror

jobs=$(nproc)

echo "== build (-Werror)"
cmake -S . -B out/test -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build out/test -j "$jobs"
echo "== clang-tidy (enforced checks)"
scripts/tidy.sh --all out/test
echo "== tests"
ctest --test-dir out/test --output-on-failure -j "$jobs" --timeout 300

if [ "${KILN_TEST_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build (ASan+UBSan)"
  cmake -S . -B out/asan -G Ninja -DKILN_WERROR=ON -DKILN_SANITIZE=address \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build out/asan -j "$jobs"
  echo "== tests (ASan+UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir out/asan --output-on-failure -j "$jobs" --timeout 600 -LE real_project
fi
