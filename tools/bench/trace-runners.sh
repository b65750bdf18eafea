#!/bin/bash
# Times each runner on scenarios/test-project alone, under trace (with its default
# allocation sampling: V8's sampling heap profiler in the test workers), and under trace with
# snapshots at file boundaries (--snapshot-every 2s, the default --snapshot-at files);
# MODES="files nosampling clock budget zerodisk" adds trace --no-allocation-sampling
# (the profiler's own cost),  snapshots on the clock (--snapshot-at clock), at
# file boundaries within --snapshot-budget 0.5, and streamed into censuses with no snapshot
# file (--no-raw-snapshots). Prints each run's exit status and time, the
# ratio of each snapshot run to the run alone and to the trace without snapshots, the
# files tied to a PID (and thread), the snapshot cost the report gives, and each worker's
# verdict: every process that runs tests and every worker thread lane (Vitest threads),
# with its heap diff's verdict or, without one, its snapshot count. Keeps the JSON reports
# (and snapshots) in a new private temporary directory.
# Usage: bash tools/bench/trace-runners.sh [path/to/leaktrail] (RUNNERS="jest mocha" to pick)
set -u
cd "$(dirname "$0")/../../scenarios/test-project"
T=${1:-../../target/debug/leaktrail}
OUT=$(mktemp -d); chmod 700 "$OUT"; echo "reports in $OUT"
declare -A R
R[jest]="node node_modules/jest/bin/jest.js --maxWorkers=2"
R[vitest-forks]="node node_modules/vitest/vitest.mjs run --maxWorkers=2 --pool=forks"
R[vitest-threads]="node node_modules/vitest/vitest.mjs run --maxWorkers=2 --pool=threads"
R[mocha]="node node_modules/mocha/bin/mocha.js --parallel --jobs 2"
R[node-test]="node --test test/"
secs() { echo "$(date +%s.%N) - $1" | bc; }
summary() {
  python3 -c 'import json,sys
r = json.load(open(sys.argv[1])); c = r.get("snapshot_cost") or {}
files = r["files"]
tied = [f for f in files if f.get("pid") is not None]
threads = [f for f in tied if (f.get("thread") or 0) > 0]
out = "files tied to a PID %d/%d%s" % (len(tied), len(files), " (%d to a thread)" % len(threads) if threads else "")
if c:
    out += "; %d snapshots (%d between files, %d skipped for the budget), %.1f s writing, longest %.1f s" % (c.get("snapshots", 0), c.get("at_file_boundaries", 0), c.get("skipped_for_budget", 0), c.get("write_seconds", 0), c.get("longest_write_seconds", 0))
print(out)
for k in r.get("allocations") or []:
    s = (k.get("sites") or [{}])[0]
    print("    allocation sites after %s in PID %d%s (heap %+.1f MiB, read %.2f s): top %s %s:%s %.1f MiB of %.1f MiB sampled" % (k["file"].rsplit("/", 1)[-1], k["pid"], " thread %d" % k["thread"] if k["thread"] else "", (k["heap"] - k["base_heap"]) / 2**20, k["read_seconds"], s.get("function") or "(anonymous)", (s.get("url") or "").rsplit("/", 1)[-1], s.get("line"), (s.get("bytes") or 0) / 2**20, k["sampled_bytes"] / 2**20))
leaky = {(f.get("pid"), f.get("thread") or 0) for f in files if f["file"].endswith("leaky.test.js")}
for l in r["lanes"]:
    for p in l["processes"]:
        role = p.get("role") or {}
        mark = " <- leaky.test.js" if (p["pid"], 0) in leaky else ""
        if role.get("runs_tests") and not role.get("in_threads"):
            h = (p.get("heap") or {}).get("diff") or (p.get("census_heap") or {}).get("diff") or {}
            v = (h.get("verdict") or {}).get("kind") or "no heap diff (%d snapshots)" % (len(p["snapshots"]) + len(p.get("censuses") or []))
            g = p.get("growth")
            print("    %s PID %d [%s]: %s; RSS growth %s%s" % (l["lane"], p["pid"], role.get("runner", "") + " worker", v, "-" if g is None else "%+.1f MiB" % (g / 2**20), mark))
        for t in p.get("threads") or []:
            mark = " <- leaky.test.js" if (t["pid"], t["thread"]) in leaky else ""
            hg = t.get("heap_growth")
            print("    %s PID %d thread %d: %s (grew: %s); own heap kept %s, %d snapshots%s" % (t["lane"], t["pid"], t["thread"], t["verdict"]["kind"], t["verdict"]["grew"], "-" if hg is None else "%+.1f MiB" % (hg / 2**20), len(t["snapshots"]) + len(t.get("censuses") or []), mark))' "$1" 2>/dev/null || echo "no report"
}
for name in ${RUNNERS:-jest vitest-forks vitest-threads mocha node-test}; do
  cmd=${R[$name]}
  s=$(date +%s.%N); $cmd >/dev/null 2>&1; rc1=$?; a=$(secs $s)
  s=$(date +%s.%N); $T trace --format json --interval 200ms -- $cmd 2>/dev/null > $OUT/b-$name-t.json; rc2=$?; b=$(secs $s)
  rm -rf $OUT/b-$name-snap; s=$(date +%s.%N); $T trace --format json --interval 200ms --snapshot-every 2s --out $OUT/b-$name-snap -- $cmd 2>/dev/null > $OUT/b-$name-s.json; rc3=$?; c=$(secs $s)
  printf '%s alone=%.1f rc=%s trace=%.1f rc=%s (%.2fx alone) snapshots=%.1f rc=%s (%.2fx alone, %.2fx trace)\n' \
    "$name" "$a" "$rc1" "$b" "$rc2" "$(echo "$b / $a" | bc -l)" "$c" "$rc3" "$(echo "$c / $a" | bc -l)" "$(echo "$c / $b" | bc -l)"
  echo "  trace: $(summary $OUT/b-$name-t.json)"
  echo "  trace + snapshots: $(summary $OUT/b-$name-s.json)"
  for mode in ${MODES:-files}; do
    case $mode in
      clock) extra="--snapshot-at clock" ;;
      budget) extra="--snapshot-budget 0.5" ;;
      zerodisk) extra="--no-raw-snapshots" ;;
      nosampling)
        rm -rf $OUT/b-$name-$mode; s=$(date +%s.%N); $T trace --format json --interval 200ms --no-allocation-sampling -- $cmd 2>/dev/null > $OUT/b-$name-$mode.json; rc=$?; d=$(secs $s)
        printf '  %s=%.1f rc=%s (%.2fx alone): %s\n' "$mode" "$d" "$rc" "$(echo "$d / $a" | bc -l)" "$(summary $OUT/b-$name-$mode.json)"
        continue ;;
      *) continue ;;
    esac
    rm -rf $OUT/b-$name-$mode; s=$(date +%s.%N); $T trace --format json --interval 200ms --snapshot-every 2s $extra --out $OUT/b-$name-$mode -- $cmd 2>/dev/null > $OUT/b-$name-$mode.json; rc=$?; d=$(secs $s)
    printf '  %s=%.1f rc=%s (%.2fx alone): %s\n' "$mode" "$d" "$rc" "$(echo "$d / $a" | bc -l)" "$(summary $OUT/b-$name-$mode.json)"
  done
done
