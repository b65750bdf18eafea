#!/bin/bash
# Times each runner on scenarios/test-project alone, under trace and under trace with
# snapshots (--snapshot-every 2s); keeps the JSON reports (and snapshots) in a new private temporary directory.
# Usage: bash tools/bench/trace-runners.sh [path/to/leaktrail]
set -u
cd "$(dirname "$0")/../../scenarios/test-project"
T=${1:-../../target/debug/leaktrail}
OUT=$(mktemp -d); echo "reports in $OUT"
declare -A R
R[jest]="node node_modules/jest/bin/jest.js --maxWorkers=2"
R[vitest-forks]="node node_modules/vitest/vitest.mjs run --maxWorkers=2 --pool=forks"
R[vitest-threads]="node node_modules/vitest/vitest.mjs run --maxWorkers=2 --pool=threads"
R[mocha]="node node_modules/mocha/bin/mocha.js --parallel --jobs 2"
R[node-test]="node --test test/"
for name in jest vitest-forks vitest-threads mocha node-test; do
  cmd=${R[$name]}
  s=$(date +%s.%N); $cmd >/dev/null 2>&1; rc1=$?; a=$(echo "$(date +%s.%N) - $s" | bc)
  s=$(date +%s.%N); $T trace --format json --interval 200ms -- $cmd 2>/dev/null > $OUT/b-$name-t.json; rc2=$?; b=$(echo "$(date +%s.%N) - $s" | bc)
  rm -rf $OUT/b-$name-snap; s=$(date +%s.%N); $T trace --format json --interval 200ms --snapshot-every 2s --out $OUT/b-$name-snap -- $cmd 2>/dev/null > $OUT/b-$name-s.json; rc3=$?; c=$(echo "$(date +%s.%N) - $s" | bc)
  echo "$name alone=$a rc=$rc1 trace=$b rc=$rc2 snapshots=$c rc=$rc3"
done
