#!/usr/bin/env bash
# The compiler-behaviour scenarios (tests/e2e/compiler.sh) with a scheduler
# set: `kiln up --workers 2`, every miss expected to compile on the grid in
# headers mode, every object, .d, stdout, stderr and exit code still the
# plain compiler's.
KC_GRID=1 exec bash "$(dirname "$0")/compiler.sh" "$@"
