#!/usr/bin/env bash
# The second suite of scenarios/test-project (other/: a leak through a shared CommonJS
# library, one through an ES module cache, a garbage-heavy and a module-loading clean file,
# ESM and nested async tests) under every runner mode a project uses: each alone (time,
# exit status) and under `leaktrail trace` (JSON and text report in $OUT).
# MODES="jest-inband mocha-serial" bash tools/bench/trace-unseen.sh to run a few.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release/leaktrail}
OUT=${OUT:-/tmp/unseen}
P=$ROOT/scenarios/test-project
mkdir -p "$OUT"
cd "$P" || exit 2
J=node_modules/jest/bin/jest.js
V=node_modules/vitest/vitest.mjs
M=node_modules/mocha/bin/mocha.js
cmd_of() {
  case $1 in
    jest-inband) echo "node $J --config other/jest.config.js --runInBand" ;;
    # A fresh cache: Jest runs in band when the durations it cached are all short.
    jest-workers) echo "node $J --config other/jest.config.js --maxWorkers=2 --cacheDirectory=$OUT/jest-cache-$RANDOM$RANDOM" ;;
    vitest-forks) echo "node $V run --config other/vitest.config.mjs --maxWorkers=2 --pool=forks" ;;
    vitest-threads) echo "node $V run --config other/vitest.config.mjs --maxWorkers=2 --pool=threads" ;;
    vitest-vmthreads) echo "node $V run --config other/vitest.config.mjs --maxWorkers=2 --pool=vmThreads" ;;
    vitest-vmforks) echo "node $V run --config other/vitest.config.mjs --maxWorkers=2 --pool=vmForks" ;;
    vitest-forks-noisolate) echo "node $V run --config other/vitest.config.mjs --maxWorkers=2 --pool=forks --no-isolate" ;;
    vitest-threads-noisolate) echo "node $V run --config other/vitest.config.mjs --maxWorkers=2 --pool=threads --no-isolate" ;;
    mocha-serial) echo "node $M --config other/.mocharc.json" ;;
    mocha-parallel) echo "node $M --config other/.mocharc.json --parallel --jobs 2" ;;
    node-test) echo "node --test other/test/" ;;
    node-test-c1) echo "node --test --test-concurrency=1 other/test/" ;;
  esac
}
MODES=${MODES:-"jest-inband jest-workers vitest-forks vitest-threads vitest-vmthreads vitest-vmforks vitest-forks-noisolate vitest-threads-noisolate mocha-serial mocha-parallel node-test node-test-c1"}
for m in $MODES; do
  c=$(cmd_of "$m")
  s=$(date +%s.%N); $c >"$OUT/$m.alone.log" 2>&1; rc=$?; e=$(date +%s.%N)
  alone=$(echo "$e - $s" | bc)
  s=$(date +%s.%N)
  c=$(cmd_of "$m")
  "$BIN" trace --interval 200ms --format json -- $c >"$OUT/$m.json" 2>"$OUT/$m.trace.log"; trc=$?
  e=$(date +%s.%N)
  traced=$(echo "$e - $s" | bc)
  c=$(cmd_of "$m")
  "$BIN" trace --interval 200ms -- $c >"$OUT/$m.txt" 2>/dev/null
  # With snapshots at file boundaries: each worker's heap verdict.
  c=$(cmd_of "$m"); "$BIN" trace --interval 200ms --snapshot-every 1s --format json -- $c >"$OUT/$m.snap.json" 2>/dev/null
  # The same with one failing test: the runner's exit status must come through unchanged.
  c=$(cmd_of "$m"); OTHER_SUITE_FAIL=1 $c >/dev/null 2>&1; frc=$?
  c=$(cmd_of "$m"); OTHER_SUITE_FAIL=1 "$BIN" trace --interval 200ms --format json -- $c >"$OUT/$m.fail.json" 2>/dev/null; ftrc=$?
  printf '%s alone %.1fs exit %s; traced %.1fs exit %s; failing: alone exit %s, traced exit %s\n' "$m" "$alone" "$rc" "$traced" "$trc" "$frc" "$ftrc"
done
