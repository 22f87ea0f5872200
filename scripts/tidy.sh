#!/usr/bin/env bash
# clang-tidy over kiln's translation units, with the checks the project
# keeps as errors (.clang-tidy's WarningsAsErrors: the naming convention
# of docs/contributing.md, override, nullptr, definitions in headers).
#
#   scripts/tidy.sh [--all | --changed [BASE]] [--full] [BUILD_DIR]
#
#   --all        every translation unit of the build (what CI runs)
#   --changed    only those changed since BASE (default: the merge base with
#                origin/main, else HEAD~1), including the sources next to
#                changed headers; nothing to do is success
#   --full       every check .clang-tidy enables (bugprone, performance, the
#                static analyzer: slow) instead of only the enforced ones;
#                the others still only warn
#   BUILD_DIR    a configured build with compile_commands.json (default
#                out/test, as scripts/test.sh makes it)
#
# Exits non-zero when an enforced check fires. Headers are checked through
# the sources that include them (HeaderFilterRegex).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
base=""
full=0
build=out/test
while [ $# -gt 0 ]; do
  case $1 in
    --all) mode=all; shift ;;
    --changed)
      mode=changed; shift
      if [ $# -gt 0 ] && [ "${1#-}" = "$1" ] && git rev-parse -q --verify "$1^{commit}" >/dev/null; then
        base=$1; shift
      fi ;;
    --full) full=1; shift ;;
    -*) echo "tidy.sh: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
[ -f "$build/compile_commands.json" ] ||
  { echo "tidy.sh: no $build/compile_commands.json (configure a build first)" >&2; exit 2; }
command -v run-clang-tidy >/dev/null || { echo "tidy.sh: run-clang-tidy not found (apt-get install clang-tidy)" >&2; exit 2; }

# The project's own sources in the compilation database (not generated code).
mapfile -t units < <(python3 - "$build/compile_commands.json" "$PWD" <<'EOF'
import json, os, sys
root = sys.argv[2]
for entry in json.load(open(sys.argv[1])):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, root)
    if not rel.startswith(("..", "out/")):
        print(rel)
EOF
)

if [ "$mode" = changed ]; then
  if [ -z "$base" ]; then
    base=$(git merge-base HEAD origin/main 2>/dev/null || git rev-parse -q --verify HEAD~1 || true)
  fi
  [ -n "$base" ] || { echo "tidy.sh: no base to compare with; use --all" >&2; exit 2; }
  mapfile -t changed < <({ git diff --name-only "$base" -- '*.h' '*.cpp'; git ls-files -o --exclude-standard -- '*.h' '*.cpp'; } | sort -u)
  selected=()
  for unit in "${units[@]}"; do
    for file in "${changed[@]}"; do
      if [ "$unit" = "$file" ] || [ "${unit%.cpp}" = "${file%.h}" ]; then selected+=("$unit"); break; fi
    done
  done
  units=("${selected[@]+"${selected[@]}"}")
  echo "tidy.sh: ${#units[@]} translation unit(s) changed since $(git rev-parse --short "$base")"
fi
[ ${#units[@]} -gt 0 ] || exit 0

checks=()
if [ "$full" -eq 0 ]; then
  enforced=$(sed -n "s/^WarningsAsErrors: *'\(.*\)'/\1/p" .clang-tidy)
  checks=(-checks="-*,$enforced")
fi
echo "tidy.sh: clang-tidy on ${#units[@]} translation units ($([ "$full" -eq 1 ] && echo 'every check' || echo "enforced: $enforced"))"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# run-clang-tidy takes regular expressions: anchor each path.
patterns=()
for unit in "${units[@]}"; do patterns+=("$PWD/${unit//./\\.}\$"); done
status=0
run-clang-tidy -p "$build" -quiet -j "$(nproc)" "${checks[@]}" "${patterns[@]}" >"$log" 2>&1 || status=$?
# Only the findings (run-clang-tidy also echoes each command it runs).
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '(warning|error): ' | sed "s#^$PWD/##" | sort -u || true
if [ "$status" -ne 0 ]; then
  echo "tidy.sh: clang-tidy found errors (an enforced check: see above)" >&2
  exit 1
fi
echo "tidy.sh: clean"
