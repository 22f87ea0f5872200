#!/usr/bin/env bash
# Builds kiln's libFuzzer harnesses (fuzz/) with clang, ASan and UBSan, and
# runs each for SECONDS of wall time (default 60), `nproc` of them at once.
#
#   scripts/fuzz.sh [SECONDS]
#   scripts/fuzz.sh --build     only configure and build them (scripts/test.sh
#                               builds them in the background, then runs them)
#
# Each harness starts from a fresh copy of its checked-in seed corpus
# (fuzz/corpus/<harness>/, never written to) in out/fuzz/corpus/<harness>/,
# and leaves any crash, leak, timeout or out-of-memory input in
# out/fuzz/artifacts/ (<harness>-crash-<sha1>, …; earlier runs' stay). The
# table at the end is the fuzzing figure of scripts/bench/README.md:
# executions per harness, and crashes (goal 0). Exits non-zero when any
# harness crashed, leaked, timed out or failed to run, printing how to
# reproduce it:
#
#   out/fuzz/bin/<harness> out/fuzz/artifacts/<harness>-crash-<sha1>
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=0
seconds=${1:-60}
case $seconds in
  --build) build_only=1 ;;
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS | --build]" >&2; exit 2 ;;
esac

# kiln's own dependencies, then clang; libFuzzer (libclang_rt.fuzzer*.a)
# and the sanitizer runtimes come in libclang-rt-14-dev on Debian 12.
scripts/install-deps.sh
scripts/install-packages.sh clang libclang-rt-14-dev

build=out/fuzz
harnesses=(codec_fuzz tree_fuzz compiler_args_fuzz depfile_fuzz gtest_xml_fuzz ctest_fuzz)

# -O1 and line tables, as libFuzzer's documentation advises; assertions on.
cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DKILN_FUZZ=ON -DKILN_UNIT_TESTS=OFF -DKILN_BENCHMARKS=OFF -DKILN_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${harnesses[@]}"
[ "$build_only" = 1 ] && exit 0

artifacts=$build/artifacts
mkdir -p "$artifacts" "$build/logs"
# One harness: a fresh working corpus, its dictionary (fuzz/<harness>.dict)
# if it has one, a private TMPDIR (tree_fuzz writes trees there; a crash
# leaves them behind), libFuzzer's final statistics.
# The outer timeout is a safety net for a harness that hangs in libFuzzer
# itself; -timeout is the per-input limit, which leaves an artifact.
run_one() {
  local h=$1
  rm -rf "$build/corpus/$h" "$build/tmp/$h"
  mkdir -p "$build/corpus/$h" "$build/tmp/$h"
  touch "$build/logs/$h.started"
  if [ -d "fuzz/corpus/$h" ]; then cp -R "fuzz/corpus/$h/." "$build/corpus/$h/"; fi
  local dict=()
  if [ -f "fuzz/$h.dict" ]; then dict=(-dict="fuzz/$h.dict"); fi
  local status=0
  TMPDIR="$PWD/$build/tmp/$h" timeout --kill-after=10 $((seconds + 120)) \
    "$build/bin/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$h-" "${dict[@]}" "$build/corpus/$h" \
    >"$build/logs/$h.log" 2>&1 || status=$?
  echo "$status" >"$build/logs/$h.status"
}

echo "fuzz.sh: ${#harnesses[@]} harnesses, ${seconds} s each, $(nproc) at once"
running=0
for h in "${harnesses[@]}"; do
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$h" &
  running=$((running + 1))
done
wait

final_stat() { sed -n "s/^stat::$2: *//p" "$build/logs/$1.log" | tail -1; }
# This run's artifacts of harness $1 (earlier runs' stay, and are not counted).
new_artifacts() {
  find "$artifacts" -maxdepth 1 -type f -name "$1-*" -newer "$build/logs/$1.started"
}
failed=()
echo
echo "| harness | executions | exec/s | corpus (seeds) | crashes |"
echo "|---|---:|---:|---:|---:|"
for h in "${harnesses[@]}"; do
  runs=$(final_stat "$h" number_of_executed_units)
  speed=$(final_stat "$h" average_exec_per_sec)
  corpus=$(find "$build/corpus/$h" -type f | wc -l)
  seeds=0
  if [ -d "fuzz/corpus/$h" ]; then seeds=$(find "fuzz/corpus/$h" -type f | wc -l); fi
  found=$(new_artifacts "$h" | wc -l)
  echo "| $h | ${runs:-?} | ${speed:-?} | $corpus ($seeds) | $found |"
  status=$(cat "$build/logs/$h.status")
  if [ "$found" -gt 0 ] || [ "$status" -ne 0 ]; then failed+=("$h"); fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo
  for h in "${failed[@]}"; do
    echo "fuzz.sh: $h failed (exit status $(cat "$build/logs/$h.status"); log: $build/logs/$h.log)" >&2
    grep -E "^(==[0-9]+==)?ERROR|^SUMMARY|invariant broken" "$build/logs/$h.log" | head -5 >&2 || true
    while IFS= read -r artifact; do
      echo "  reproduce: $build/bin/$h $artifact" >&2
    done < <(new_artifacts "$h")
  done
  exit 1
fi
echo
echo "fuzz.sh: no crash, leak or timeout in ${#harnesses[@]} harnesses"
