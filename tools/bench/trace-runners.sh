#!/bin/bash
# Times each runner on scenarios/test-project alone, under trace, under trace with
# snapshots at file boundaries (--snapshot-every 2s, the default --snapshot-at files) and
# with snapshots on the clock (--snapshot-at clock) and at file boundaries within
# --snapshot-budget 0.5; prints each run's exit status, the
# ratio of each snapshot run to the run alone and to the trace without snapshots, and the
# snapshot cost the report gives. Keeps the JSON reports (and snapshots) in a new private
# temporary directory.
# Usage: bash tools/bench/trace-runners.sh [path/to/leaktrail] (RUNNERS="jest mocha" to pick)
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
secs() { echo "$(date +%s.%N) - $1" | bc; }
cost() {
  python3 -c 'import json,sys
r = json.load(open(sys.argv[1])); c = r.get("snapshot_cost") or {}
pid = next((f.get("pid") for f in r["files"] if f["file"].endswith("leaky.test.js")), None)
w = next((p for l in r["lanes"] for p in l["processes"] if p["pid"] == pid), None)
v = (((w or {}).get("heap") or {}).get("diff") or {}).get("verdict") or {}
leak = "leaky worker: %d snapshots, %s" % (len(w["snapshots"]), v.get("kind", "no heap diff")) if w else "leaky file not tied to a PID"
print("run %.1f s (before analysis), %d snapshots (%d between files, %d skipped for the budget), %.1f s writing, longest %.1f s; %s" % (c.get("wall_seconds", 0), c.get("snapshots", 0), c.get("at_file_boundaries", 0), c.get("skipped_for_budget", 0), c.get("write_seconds", 0), c.get("longest_write_seconds", 0), leak))' "$1" 2>/dev/null || echo "no report"
}
for name in ${RUNNERS:-jest vitest-forks vitest-threads mocha node-test}; do
  cmd=${R[$name]}
  s=$(date +%s.%N); $cmd >/dev/null 2>&1; rc1=$?; a=$(secs $s)
  s=$(date +%s.%N); $T trace --format json --interval 200ms -- $cmd 2>/dev/null > $OUT/b-$name-t.json; rc2=$?; b=$(secs $s)
  rm -rf $OUT/b-$name-snap; s=$(date +%s.%N); $T trace --format json --interval 200ms --snapshot-every 2s --out $OUT/b-$name-snap -- $cmd 2>/dev/null > $OUT/b-$name-s.json; rc3=$?; c=$(secs $s)
  rm -rf $OUT/b-$name-clock; s=$(date +%s.%N); $T trace --format json --interval 200ms --snapshot-every 2s --snapshot-at clock --out $OUT/b-$name-clock -- $cmd 2>/dev/null > $OUT/b-$name-c.json; rc4=$?; d=$(secs $s)
  rm -rf $OUT/b-$name-budget; s=$(date +%s.%N); $T trace --format json --interval 200ms --snapshot-every 2s --snapshot-budget 0.5 --out $OUT/b-$name-budget -- $cmd 2>/dev/null > $OUT/b-$name-b.json; rc5=$?; e=$(secs $s)
  printf '%s alone=%.1f rc=%s trace=%.1f rc=%s files=%.1f rc=%s (%.2fx alone, %.2fx trace) clock=%.1f rc=%s (%.2fx alone) budget-0.5=%.1f rc=%s (%.2fx alone)\n' \
    "$name" "$a" "$rc1" "$b" "$rc2" "$c" "$rc3" "$(echo "$c / $a" | bc -l)" "$(echo "$c / $b" | bc -l)" "$d" "$rc4" "$(echo "$d / $a" | bc -l)" "$e" "$rc5" "$(echo "$e / $a" | bc -l)"
  echo "  files: $(cost $OUT/b-$name-s.json)"
  echo "  clock: $(cost $OUT/b-$name-c.json)"
  echo "  budget 0.5: $(cost $OUT/b-$name-b.json)"
done
