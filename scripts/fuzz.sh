#!/usr/bin/env bash
# Runs every go test -fuzz target in the module, one after the other, each for
# FUZZTIME. `go test -fuzz` takes one target of one package at a time, so the
# targets are found with `go test -list`; a new Fuzz function is picked up
# without editing this file.
#
#   scripts/fuzz.sh [FUZZTIME]       # default 10s; make fuzz, .ci/run (3s)
#   FUZZ=FuzzReader scripts/fuzz.sh 10m   # only targets matching FUZZ (a regexp)
#   FUZZMINIMIZE=10s scripts/fuzz.sh      # minimise failing inputs harder (default 100x)
#
# A failure stops the run; the failing input is saved under the package's
# testdata/fuzz/<Target>/ and from then on runs as a seed in plain `go test`
# (commit it with the fix). Each run prints the executions and the count of
# new interesting inputs (`new interesting: N`).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${1:-${FUZZTIME:-10s}}"
FILTER="${FUZZ:-.}"
GO="${GO:-go}"

pkgs=$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
for pkg in $pkgs; do
  for target in $("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E "$FILTER" || true); do
    echo "== $target ($pkg, $FUZZTIME)"
    # Minimising is capped at FUZZMINIMIZE executions an input: uncapped, a
    # new interesting input grown from a 16 KB seed stalls every worker for
    # up to a minute (measured: FuzzReader 537 execs/s, then 0 for 57 s).
    "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "${FUZZMINIMIZE:-100x}" "$pkg"
  done
done
