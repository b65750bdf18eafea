#!/usr/bin/env bash
# A snapshot cut while leaktrail reads it (a file still being written, log rotation):
# leaktrail must end with a message, never a signal or a hang. One Markdown table row.
#
#   tools/faults/truncate-while-reading.sh LEAKTRAIL [TRIES]      (default 8 tries)
#
# Writes a ~110 MB heap snapshot with Node, then TRIES times copies it, starts
# `leaktrail summary` on the copy and truncates the copy to a tenth of its size after a
# delay that moves through the read (5 ms to 400 ms), and records how leaktrail ended.
set -uo pipefail
LT=${1:?usage: truncate-while-reading.sh LEAKTRAIL [TRIES]}
TRIES=${2:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node -e "
const kept = [];
for (let i = 0; i < 400000; i++) kept.push({ id: i, name: 'item-' + i, tags: [i, i + 1] });
require('v8').writeHeapSnapshot('$work/big.heapsnapshot');
"
size=$(stat -c %s "$work/big.heapsnapshot")
declare -A seen
for i in $(seq 1 "$TRIES"); do
  cp "$work/big.heapsnapshot" "$work/cut.heapsnapshot"
  delay_ms=$((5 + (i - 1) * 395 / (TRIES > 1 ? TRIES - 1 : 1)))
  timeout 120 "$LT" summary "$work/cut.heapsnapshot" >/dev/null 2>"$work/err" &
  pid=$!
  sleep "$(awk "BEGIN { print $delay_ms / 1000 }")"
  truncate -s $((size / 10)) "$work/cut.heapsnapshot"
  wait $pid 2>/dev/null
  code=$?
  if [ $code = 124 ]; then
    outcome="HUNG"
  elif [ $code -gt 128 ]; then
    outcome="SIGNAL $(kill -l $((code - 128)))"
  elif grep -q panicked "$work/err"; then
    outcome="PANIC"
  elif [ $code = 2 ] && grep -q "cut.heapsnapshot" "$work/err"; then
    outcome="refused"
  elif [ $code = 0 ]; then
    outcome="read before the cut"
  else
    outcome="OTHER (exit $code)"
  fi
  seen[$outcome]=$((${seen[$outcome]:-0} + 1))
  [ "$outcome" = refused ] && msg=$(head -c 140 "$work/err" | tr '\n' ' ')
done
cells=""
wrong=""
for k in "${!seen[@]}"; do
  cells+="$k ${seen[$k]}, "
  case $k in HUNG|SIGNAL*|PANIC|OTHER*) wrong=" — WRONG" ;; esac
done
printf '| a %s MB snapshot truncated while summary reads it | %s | %s%s | %s |\n' \
  $((size / 1000000)) "$TRIES" "${cells%, }" "$wrong" "${msg:-}"
[ -z "$wrong" ]
