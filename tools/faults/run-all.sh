#!/usr/bin/env bash
# The fault script of issue #16: every fault test in one go, each printing its table.
#
#   tools/faults/run-all.sh              (builds target/release/leaktrail if missing)
#   LEAKTRAIL_BIN=path tools/faults/run-all.sh
#
# About 5 minutes on 2 cores. Exits 1 when any part found something wrong; the tables
# say what happened to each case and what was lost. See tools/faults/README.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
LT=${LEAKTRAIL_BIN:-target/release/leaktrail}
if [ ! -x "$LT" ]; then
  cargo build --release --locked || exit 2
fi
LT=$(realpath "$LT")
status=0
part() { echo; echo "## $1"; echo; }

part "Bad snapshot files"
python3 tools/faults/bad-snapshots.py "$LT" || status=1

part "Snapshots cut while they are read"
echo "| case | tries | outcomes | message |"
echo "|---|---|---|---|"
tools/faults/truncate-while-reading.sh "$LT" 8 || status=1

part "kill -9 of watch at random moments"
LEAKTRAIL_BIN=$LT tools/faults/kill-watch.sh 20 || status=1

part "1,000 slow connections against serve while normal requests are timed"
work=$(mktemp -d)
trap 'kill $serve 2>/dev/null; rm -rf "$work"' EXIT
"$LT" watch --quiet --store "$work/store" --sample-every 200ms --duration 5s -- \
  node scenarios/runner.js scenarios/stream-registry-no-ttl.js --forever >/dev/null 2>&1
"$LT" serve --store "$work/store" --listen 127.0.0.1:0 --header-timeout 5s 2>"$work/serve.err" &
serve=$!
for _ in $(seq 50); do grep -q "http://" "$work/serve.err" && break; sleep 0.1; done
url=$(grep -o "http://[0-9.:]*" "$work/serve.err" | head -1)
if [ -n "$url" ]; then
  python3 tools/faults/slow-clients.py "$url/metrics" --slow 1000 --header || status=1
else
  echo "serve did not start: $(cat "$work/serve.err")"; status=1
fi
kill $serve 2>/dev/null

part "run against workloads that never print, print garbage, crash, ignore SIGTERM"
tools/faults/run-workloads.sh "$LT" || status=1
exit $status
