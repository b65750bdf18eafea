#!/usr/bin/env bash
# Soak test of `leaktrail watch --serve`: is the watcher's own memory flat over time?
#
#   tools/soak/soak.sh [MINUTES] [OUT_DIR]        (default 60 minutes, ./soak-out)
#   LEAKTRAIL_BIN=path/to/leaktrail tools/soak/soak.sh …   (another build)
#
# Starts `leaktrail watch --serve` on a clean scenario run with --forever (samples every
# second, a snapshot every 2 minutes, each parsed into a summary), polls every API route
# every 10 s like a dashboard and a Prometheus scraper would, and watches the watcher with
# a second `leaktrail watch --pid --process-only` (the watcher alone, without the service it
# started; RSS only, every 5 s). At the end `leaktrail trend`
# judges the watcher's RSS series: the slope per hour with its interval is the figure;
# `windows.py` adds the lowest and highest memory per 10 minutes (when python3 is there).
# Run it alone: a build or test run beside it shows in the watcher's memory.
set -euo pipefail
minutes="${1:-60}"
out="${2:-soak-out}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${LEAKTRAIL_BIN:-$here/target/release/leaktrail}"
scenarios="${LEAKTRAIL_SCENARIOS:-$here/scenarios}"
port="${SOAK_PORT:-7879}"
[ -x "$bin" ] || (cd "$here" && cargo build --release --locked)
rm -rf "$out" && mkdir -p "$out"

"$bin" watch --quiet --store "$out/service" --serve --listen "127.0.0.1:$port" \
  --sample-every 1s --snapshot-every 2m --min-snapshot-gap 1m --keep 3 \
  --duration "$((minutes + 1))m" \
  -- node "$scenarios/runner.js" "$scenarios/lru-cache-bounded.js" --forever \
  > "$out/service.log" 2>&1 &
watcher=$!
sleep 3

( while kill -0 "$watcher" 2>/dev/null; do
    for route in /api/memory/trend /api/memory/trend.md /api/memory/snapshots \
                 /api/memory/diff-analysis "/api/memory/samples?since=0" /metrics /; do
      curl -s -o /dev/null "http://127.0.0.1:$port$route" || true
    done
    sleep 10
  done ) &
poller=$!

"$bin" watch --quiet --pid "$watcher" --no-inspector --process-only --name leaktrail-watch \
  --store "$out/self" --sample-every 5s --duration "${minutes}m"
kill "$poller" 2>/dev/null || true
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true

# trend's exit status (1 when leaking) is the script's, after the window table.
verdict=0
"$bin" trend --store "$out/self" --format markdown | tee "$out/self-trend.md" || verdict=$?
if command -v python3 >/dev/null; then
  python3 "$here/tools/soak/windows.py" "$out" | tee "$out/windows.md"
fi
exit "$verdict"
