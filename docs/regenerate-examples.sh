#!/usr/bin/env bash
# Regenerates the sample output in README.md and docs/*.md by running leaktrail on the
# bundled examples (examples/, scenarios/), so that every sample is real and can be
# refreshed after a change:
#
#   bash docs/regenerate-examples.sh            # the debug build (cargo build first)
#   LEAKTRAIL=target/release/leaktrail bash docs/regenerate-examples.sh
#
# Each command's output is written to docs/examples/NAME.txt (committed, whole); then every
# block in the Markdown between `<!-- output: NAME [LINES] -->` and `<!-- /output -->` is
# replaced with that file, cut to LINES lines with a `…` line where it was cut. Takes about
# two minutes (a 45 s watch among it). Numbers move from run to run (timings, PIDs, ids):
# that is expected.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$(cd "$ROOT" && realpath "${LEAKTRAIL:-target/debug/leaktrail}")"
OUT="$ROOT/docs/examples"
mkdir -p "$OUT"

# A scratch directory where the commands read as they do in the docs: examples/…,
# scenarios/…, results/… (the repository's folders are linked in).
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/bin" "$WORK/examples"
ln -s "$BIN" "$WORK/bin/leaktrail"
ln -s "$ROOT/scenarios" "$WORK/scenarios"
ln -s "$ROOT/examples/leaky-service.js" "$WORK/examples/leaky-service.js"
cp -R "$ROOT/examples/node-test" "$WORK/examples/node-test" # a copy: Node names scripts by their real path
cd "$WORK"
export PATH="$WORK/bin:$PATH" NO_COLOR=1

# record NAME COMMAND…: runs COMMAND, writes "$ COMMAND" (or "$ $SHOW" when SHOW is set),
# its stdout and its exit status to NAME.txt (stderr, the workload's own output and
# progress, is left out).
record() {
  local name="$1"
  shift
  echo "== $name: $*" >&2
  local status=0
  "$@" >"$OUT/$name.out" 2>"$WORK/$name.err" || status=$?
  {
    echo "\$ ${SHOW:-$*}"
    cat "$OUT/$name.out"
    # Output cut short (head -c) ends mid-line: the status goes on a line of its own.
    if [ -s "$OUT/$name.out" ] && [ -n "$(tail -c 1 "$OUT/$name.out")" ]; then echo " …"; fi
    echo "(exit status $status)"
  } >"$OUT/$name.txt"
  rm -f "$OUT/$name.out"
}

# The bundled example: a leaking order service writes three snapshots.
node examples/leaky-service.js examples/out >/dev/null
S=examples/out
record demo-diff leaktrail diff $S/before.heapsnapshot $S/after.heapsnapshot
record leaks leaktrail leaks $S/before.heapsnapshot $S/middle.heapsnapshot $S/after.heapsnapshot
record summary leaktrail summary $S/after.heapsnapshot --top 10 --largest 3
record diff leaktrail diff $S/before.heapsnapshot $S/after.heapsnapshot --top 8 --listeners
record retainers-class leaktrail retainers $S/after.heapsnapshot --class Order --paths 3
ID="$(grep -- '--> Order @' "$OUT/leaks.txt" | head -n 1 | sed 's/.*Order @\([0-9]*\).*/\1/')"
record retainers-id leaktrail retainers $S/after.heapsnapshot --id "$ID" --paths 2
SHOW="leaktrail leaks $S/before.heapsnapshot $S/middle.heapsnapshot $S/after.heapsnapshot --top 1 --format json | head -c 600" \
  record leaks-json-head sh -c "leaktrail leaks $S/before.heapsnapshot $S/middle.heapsnapshot $S/after.heapsnapshot --top 1 --format json | head -c 600"

# The leak-test harness on a leaking scenario and on a clean look-alike.
record run-leak leaktrail run --iterations 2000 --out results -- \
  node --expose-gc scenarios/runner.js scenarios/stream-registry-no-ttl.js --forever --print-every 25
record run-files ls results
record run-junit cat results/junit.xml
record run-clean leaktrail run --iterations 2000 --out results-clean -- \
  node --expose-gc scenarios/runner.js scenarios/lru-cache-bounded.js --forever --print-every 25
record run-profile leaktrail run --iterations 1000 --alloc-profile --snapshots 0 --out prof -- \
  node --expose-gc scenarios/runner.js scenarios/event-store-unbounded.js --forever --print-every 25
record flame leaktrail flame prof/alloc.heapprofile -o alloc.svg

# Production: watch a leaking service for 45 s with the server on, read /metrics and the
# API while it runs, then ask trend.
leaktrail watch --store st --name sessions --sample-every 1s --snapshot-every 10s --min-snapshot-gap 10s \
  --duration 45s --serve --listen 127.0.0.1:0 -- \
  node scenarios/runner.js scenarios/event-store-unbounded.js --forever --print-every 1000000 \
  >"$OUT/watch.out" 2>"$WORK/watch.err" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 100); do
  ADDR="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/watch.err" | head -n 1 || true)"
  [ -n "$ADDR" ] && break
  sleep 0.1
done
sleep 40
SHOW="curl -s http://127.0.0.1:PORT/metrics | grep -v '^#'" record metrics sh -c "curl -s $ADDR/metrics | grep -v '^#' | grep -v '_created'"
SHOW="curl -s http://127.0.0.1:PORT/api/memory/snapshots" record api-snapshots sh -c "curl -s '$ADDR/api/memory/snapshots' | head -c 400"
wait "$SERVER_PID" || true
SERVER_PID=""
{
  echo "\$ leaktrail watch --store st --name sessions --sample-every 1s --snapshot-every 10s --min-snapshot-gap 10s --duration 45s --serve --listen 127.0.0.1:0 -- node scenarios/runner.js scenarios/event-store-unbounded.js --forever --print-every 1000000"
  grep -v '^iteration=' "$WORK/watch.err" | sed "s#$WORK/##g" || true
  cat "$OUT/watch.out"
} >"$OUT/watch.txt"
rm -f "$OUT/watch.out"
record trend leaktrail trend --store st --top 5
# The guide: the store's raw snapshots into leaks and retainers, then the leak test.
SNAPS="$(ls st/snapshots/*.heapsnapshot | sort -t- -k3 -n | tail -n 3 | tr '\n' ' ')"
# shellcheck disable=SC2086
record guide-leaks leaktrail leaks $SNAPS --top 3
LAST="$(ls st/snapshots/*.heapsnapshot | sort -t- -k3 -n | tail -n 1)"
record guide-retainers leaktrail retainers "$LAST" --class SessionEvent --paths 2
record guide-run leaktrail run --iterations 1500 --out results-guide -- \
  node --expose-gc scenarios/runner.js scenarios/event-store-unbounded.js --forever --print-every 25

# Test lanes: a node --test suite with one leaking file.
record trace leaktrail trace --interval 200ms --fail-on-growth 8MB -- node --test examples/node-test/

# Shell completion as bash loads it.
SHOW="bash -c 'source <(leaktrail completions bash) && complete -p leaktrail'" record completions bash -c 'source <(leaktrail completions bash) && complete -p leaktrail'

# The scratch directory's absolute path never reaches the docs.
sed -i "s#$WORK/##g" "$OUT"/*.txt

# Paste into the Markdown.
python3 - "$ROOT" <<'EOF'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
block = re.compile(r"(<!-- output: ([\w.-]+)(?: (\d+))? -->\n)(.*?)(<!-- /output -->)", re.S)
def fill(m):
    name, limit = m.group(2), m.group(3)
    lines = (root / "docs/examples" / f"{name}.txt").read_text().rstrip("\n").split("\n")
    if limit and len(lines) > int(limit):
        lines = lines[: int(limit)] + ["…"]
    return m.group(1) + "```text\n" + "\n".join(lines) + "\n```\n" + m.group(5)
for md in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
    text = md.read_text()
    new = block.sub(fill, text)
    if new != text:
        md.write_text(new)
        print(f"updated {md.relative_to(root)}", file=sys.stderr)
EOF
