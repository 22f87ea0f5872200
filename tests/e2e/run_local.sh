#!/usr/bin/env bash
# `kiln run` on the embedded default (no scheduler): actions run here, their
# results are cached in the local store, and a hit executes nothing.
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/proj" && cd "$WORK/proj"
mkdir -p src
printf 'hello\n' >src/in.txt
# Every execution writes a token of its own (the sandbox lets an action
# write nothing outside its directory): a hit brings back the token of the
# run it replays, so the distinct tokens seen count the real executions.
uuid=/proc/sys/kernel/random/uuid
script="tr a-z A-Z < src/in.txt > out/upper.txt; cat $uuid > out/token; echo said; echo warned >&2"
run_it() { "$KILN" run -i src -o out/upper.txt -o out/token -- sh -c "$script" && cat out/token >>"$WORK/tokens"; }
executions() { sort -u "$WORK/tokens" | wc -l; }

expect_exit 0 run_it
[ "$(cat out/upper.txt)" = HELLO ] || fail "output not written"
[ "$(cat "$WORK/out")" = said ] || fail "stdout not replayed"
[ "$(cat "$WORK/err")" = warned ] || fail "stderr not replayed"
[ "$(executions)" -eq 1 ] || fail "expected one execution"

# A hit: same outputs and output streams, nothing executes.
rm out/upper.txt
expect_exit 0 run_it
[ "$(cat out/upper.txt)" = HELLO ] || fail "output not restored on a hit"
[ "$(cat "$WORK/out")" = said ] || fail "stdout not replayed on a hit"
[ "$(executions)" -eq 1 ] || fail "a cache hit executed the command"

# Touching an input without changing it is still a hit; changing it is not.
touch src/in.txt
expect_exit 0 run_it
[ "$(executions)" -eq 1 ] || fail "touching an input caused a miss"
printf 'changed\n' >src/in.txt
expect_exit 0 run_it
[ "$(cat out/upper.txt)" = CHANGED ] || fail "changed input gave a stale output"
[ "$(executions)" -eq 2 ] || fail "changed input did not execute"

# --no-cache always executes.
expect_exit 0 "$KILN" run --no-cache -i src -o out/upper.txt -o out/token -- sh -c "$script"
cat out/token >>"$WORK/tokens"
[ "$(executions)" -eq 3 ] || fail "--no-cache did not execute"

# Output directories round-trip.
expect_exit 0 "$KILN" run --output-dir gen -- sh -c 'mkdir -p gen/a; echo 1 > gen/a/f; ln -s a/f gen/l'
rm -rf gen
expect_exit 0 "$KILN" run --output-dir gen -- sh -c 'mkdir -p gen/a; echo 1 > gen/a/f; ln -s a/f gen/l'
[ "$(cat gen/a/f)" = 1 ] && [ "$(readlink gen/l)" = a/f ] || fail "output directory not restored"

# The command's exit code passes through; failures are not cached.
expect_exit 3 "$KILN" run -- sh -c "cat $uuid; exit 3"
first=$(cat "$WORK/out")
expect_exit 3 "$KILN" run -- sh -c "cat $uuid; exit 3"
[ "$(cat "$WORK/out")" != "$first" ] || fail "a failed action was cached"

# The environment is part of the key: only PATH and --env reach the command.
export KILN_E2E_SECRET=leak
expect_exit 0 "$KILN" run -- sh -c 'echo "[$KILN_E2E_SECRET]"'
[ "$(cat "$WORK/out")" = "[]" ] || fail "the environment leaked into the action"
expect_exit 0 "$KILN" run --env KILN_E2E_SECRET -- sh -c 'echo "[$KILN_E2E_SECRET]"'
[ "$(cat "$WORK/out")" = "[leak]" ] || fail "--env NAME did not pass the variable"

# Documented exit codes for kiln's own outcomes, one error line each.
expect_exit 124 "$KILN" run --timeout 0.2 -- sleep 10
expect_err "kiln: error: command timed out"
expect_exit 127 "$KILN" run -- /no/such/program
expect_err "kiln: error: cannot run /no/such/program"
expect_exit 1 "$KILN" run -o never -- true
expect_err "kiln: error: declared output 'never' was not produced"
expect_exit 2 "$KILN" run -i ../outside -- true
expect_err "is outside the current directory"
expect_exit 2 "$KILN" run -o /etc/passwd -- true
expect_err "kiln: error:"
expect_exit 2 "$KILN" run -i src/missing -- true
expect_err "kiln: error: input 'src/missing'"
expect_exit 2 "$KILN" run
expect_err "no command given"
# An action that plants a symlink to /etc/passwd as its output is refused.
expect_exit 125 "$KILN" run -o stolen -- ln -s /etc/passwd stolen
expect_err "kiln: error: output stolen"
[ ! -e stolen ] || fail "a refused output was written"
echo "run_local: all scenarios passed"
