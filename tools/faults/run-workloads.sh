#!/usr/bin/env bash
# `leaktrail run` against workloads that go wrong: one Markdown table row each — what
# leaktrail did (exit status, seconds, its first line) and what was lost.
#   tools/faults/run-workloads.sh [LEAKTRAIL]
set -uo pipefail
cd "$(dirname "$0")/../.."
LT=${1:-./target/release/leaktrail}
[ -x "$LT" ] || { echo "build first: cargo build --release (or pass the binary)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
# case name | expected exits (`0|3`) | node script | extra flags
row() {
  local name=$1 want=$2 script=$3; shift 3
  local out="$work/out-$RANDOM"
  local began=$SECONDS
  timeout 300 "$LT" run --quiet --out "$out" "$@" -- node -e "$script" >"$work/stdout" 2>"$work/stderr"
  local code=$?
  local took=$((SECONDS - began))
  local first
  first=$(grep -m1 -v '^$' "$work/stdout" | cut -c1-110 | sed 's/|/\\|/g')
  [ -n "$first" ] || first=$(head -c 110 "$work/stderr" | tr '\n' ' ')
  local samples=0
  [ -f "$out/samples.csv" ] && samples=$(($(wc -l <"$out/samples.csv") - 1))
  local verdict="ok"
  [[ "$code" =~ ^($want)$ ]] || { verdict="UNEXPECTED (wanted $want)"; failed=1; }
  [ "$code" = 124 ] && verdict="HUNG (killed by timeout 300)"
  printf '| %s | exit %s in %s s: %s | %s samples kept in --out | %s |\n' \
    "$name" "$code" "$took" "$first" "$samples" "$verdict"
}

echo "| run against | what happened | kept | |"
echo "|---|---|---|---|"
row "a workload that never prints" 2 "setInterval(() => {}, 1000)" --stall-timeout 5s
row "prints, but never a matching line" 2 "let i = 0; setInterval(() => console.log('step ' + ++i), 10)" --stall-timeout 5s
row "prints the same iteration forever" 2 "setInterval(() => console.log('iteration=7'), 10)"
row "an iteration number that overflows" 2 "setInterval(() => console.log('iteration=99999999999999999999999'), 10)" --stall-timeout 5s
row "stops printing after 300 iterations (default stall limit)" 2 "let i = 0; const t = setInterval(() => { console.log('iteration=' + ++i); if (i === 300) clearInterval(t); }, 5); setInterval(() => {}, 1000)"
row "garbage bytes on stdout between iterations" "0|3" "let i = 0; const t = setInterval(() => { process.stdout.write(Buffer.from([0xff, 0xfe, 0x80])); console.log(' iteration=' + ++i); if (i === 2000) clearInterval(t); }, 1)"
row "a 1 MB line without a newline" "0|3" "process.stdout.write(Buffer.alloc(1 << 20, 0x41)); let i = 0; const t = setInterval(() => { console.log('\\niteration=' + ++i); if (i === 2000) clearInterval(t); }, 1)"
row "crashes mid-run (exit 7)" 2 "let i = 0; setInterval(() => { console.log('iteration=' + ++i); if (i === 200) process.exit(7); }, 2)"
row "dies of SIGSEGV" 2 "let i = 0; setInterval(() => { console.log('iteration=' + ++i); if (i === 200) process.kill(process.pid, 'SIGSEGV'); }, 2)"
row "ignores SIGTERM, bounded by --iterations" "0|3" "process.on('SIGTERM', () => {}); let i = 0; setInterval(() => console.log('iteration=' + ++i), 2)" --iterations 1000

# Ctrl-C of leaktrail itself, with a grandchild in the workload's tree.
out="$work/sigint"
"$LT" run --quiet --out "$out" -- node -e "const c = require('child_process').spawn('sleep', ['300'], { stdio: 'ignore' }); require('fs').writeFileSync('$work/gc.pid', String(c.pid)); let i = 0; setInterval(() => console.log('iteration=' + ++i), 5)" >"$work/stdout" 2>&1 &
lt=$!
sleep 6
kill -INT $lt
began=$SECONDS
wait $lt
code=$?
gc=$(cat "$work/gc.pid" 2>/dev/null || echo 0)
left="the grandchild is gone"
if [ "$gc" != 0 ] && [ -e "/proc/$gc" ] && ! grep -q ') Z' "/proc/$gc/stat" 2>/dev/null; then left="GRANDCHILD ALIVE"; fi
samples=0
[ -f "$out/samples.csv" ] && samples=$(($(wc -l <"$out/samples.csv") - 1))
verdict="ok"; [ "$code" = 130 ] && [ "$left" = "the grandchild is gone" ] || { verdict="UNEXPECTED"; failed=1; }
printf '| SIGINT to leaktrail after 6 s (a grandchild in the tree) | exit %s %s s after the signal; %s | %s samples kept in --out | %s |\n' \
  "$code" $((SECONDS - began)) "$left" "$samples" "$verdict"
exit $failed
