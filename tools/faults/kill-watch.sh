#!/usr/bin/env bash
# Fault test: `kill -9` of `leaktrail watch` at random moments. What is lost?
#
#   tools/faults/kill-watch.sh [KILLS] [OUT_DIR]      (default 20 kills, a temporary dir)
#   LEAKTRAIL_BIN=path/to/leaktrail   another build (default: target/release, else
#                                     target/debug, else `cargo build --release`)
#   KILL_WATCH_SEED=N                 the same moments again (bash's $RANDOM seed)
#   KILL_WATCH_NO_SQLITE=1            count as if the sqlite3 CLI were not installed
#
# Starts a leaking Node workload (scenarios/slow-leak.js, --forever, its inspector on a
# port of its own), then KILLS times: starts `leaktrail watch --pid` on it into one store
# (a sample every 100 ms, a heap snapshot every second, so kills land in samples, in
# snapshots and in their censuses), waits a random 50–3000 ms, counts the samples stored,
# `kill -9`s the watcher, and reopens the store: it must pass SQLite's quick_check, open
# with `leaktrail trend`, and hold every sample counted before the kill. A last watcher
# then runs to its end on the same store.
#
# One row per kill:
#   moment   ms from the watcher's start to the kill
#   run      samples this watcher had stored when killed (0: killed while starting)
#   before   samples in the store, counted just before the kill
#   after    samples in the store after the kill, on reopening
#   gap      ms from the newest stored sample to the kill
#   lost     "nothing";
#            "sample in flight": a sample was due (the newest stored is more than one
#            interval old) and the watcher was not writing a snapshot: the one it was
#            taking or writing is not stored;
#            "snapshot in flight": the newest incarnation has a raw snapshot file without a
#            census (the kill came while the file was written or parsed): its summary is
#            not stored; the file stays until it is an hour old, then the next watcher
#            deletes it;
#            "N STORED": samples counted before the kill are gone (a failure).
#            Without sqlite3 the two in-flight cases are not told apart: "<=1 in flight".
#   store    quick_check's answer and whether `leaktrail trend` opens the store
#   workload whether the watched process outlived its watcher's kill (if not: how it
#            ended; another is started for the next kills)
#
# Samples are counted with the sqlite3 CLI when it is installed (every sample in the
# store), else from `leaktrail trend --format json` (the newest incarnation's samples: each
# watcher started with --pid records one, so "before" and "after" are this watcher's).
# Exit status: 1 when a kill lost a stored sample or left a store that does not open;
# else 2 when the workload died; else 0.
set -euo pipefail

kills="${1:-20}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
scenarios="${LEAKTRAIL_SCENARIOS:-$here/scenarios}"
interval_ms=100
# A sample whose turn came less than this long ago may not be stored yet without being
# late: reading /proc and asking the inspector take a few milliseconds.
slack_ms=30

if [ -n "${LEAKTRAIL_BIN:-}" ]; then
  bin="$LEAKTRAIL_BIN"
elif [ -x "$here/target/release/leaktrail" ]; then
  bin="$here/target/release/leaktrail"
elif [ -x "$here/target/debug/leaktrail" ]; then
  bin="$here/target/debug/leaktrail"
else
  (cd "$here" && cargo build --release --locked)
  bin="$here/target/release/leaktrail"
fi
if [ -n "${KILL_WATCH_SEED:-}" ]; then
  RANDOM="$KILL_WATCH_SEED"
fi

if [ -n "${2:-}" ]; then
  out="$2"
  # Never into a directory with something in it: the script deletes nothing of anyone's.
  if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    echo "kill-watch: $out is not empty; give a new or empty directory" >&2
    exit 1
  fi
  mkdir -p "$out"
else
  out="$(mktemp -d -t leaktrail-kill-watch.XXXXXX)"
fi
store="$out/store"
db="$store/leaktrail.db"

workload=""
watcher=""
cleanup() {
  # Only what this script started, by PID.
  [ -n "$watcher" ] && kill -9 "$watcher" 2>/dev/null || true
  [ -n "$workload" ] && kill "$workload" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

have_sqlite=0
if [ -z "${KILL_WATCH_NO_SQLITE:-}" ] && command -v sqlite3 >/dev/null; then
  have_sqlite=1
fi

# "<samples> <newest sample's time, ms> <newest incarnation's id>" of the store ("0 0 0"
# when it has none yet). sqlite3 counts the whole store, trend the newest incarnation.
# sqlite3 reads like any second reader of the store (`leaktrail serve` is one).
count_samples() {
  if [ ! -f "$db" ]; then
    echo "0 0 0"
    return
  fi
  if [ "$have_sqlite" = 1 ]; then
    sqlite3 -readonly -cmd ".timeout 5000" -separator ' ' "$db" \
      "SELECT count(*), coalesce(max(t), 0), (SELECT coalesce(max(id), 0) FROM incarnations)
       FROM samples;" 2>/dev/null || echo "? 0 0"
  else
    local json
    json="$("$bin" trend --store "$store" --format json 2>/dev/null)" || true
    # The newest incarnation's sample count: the largest "samples" of its memory series.
    local n t
    n="$(printf '%s\n' "$json" | sed -n 's/^ *"samples": \([0-9][0-9]*\),*$/\1/p' | sort -n | tail -1)"
    # Its newest sample's time: the second number of its "window": [first, last].
    t="$(printf '%s\n' "$json" | sed -n '/"window": \[/{n;n;s/[^0-9]//gp;}' | sort -n | tail -1)"
    local inc
    inc="$(printf '%s\n' "$json" | sed -n '/"incarnation": {/{n;s/[^0-9]//gp;}' | sort -n | tail -1)"
    echo "${n:-0} ${t:-0} ${inc:-0}"
  fi
}

# The raw snapshot file of the newest incarnation that has no census (a snapshot in flight
# at the kill), as "<name> <mtime, ms>"; nothing when there is none. With sqlite3 only.
snapshot_in_flight() {
  local inc=$1 f name
  [ -f "$db" ] || return 0
  for f in "$store"/snapshots/*-"$inc"-*.heapsnapshot; do
    [ -e "$f" ] || continue
    name="$(basename "$f")"
    if [ "$(sqlite3 -readonly -cmd ".timeout 5000" "$db" \
      "SELECT count(*) FROM snapshots WHERE file = '$name';")" = 0 ]; then
      echo "$name $(date -r "$f" +%s%3N)"
    fi
  done | tail -1
}

# SQLite's verdict on the file, and whether leaktrail opens it (trend: exit 0 or 1).
check_store() {
  # Killed before it made the store: nothing to open, nothing lost (and sqlite3 would
  # create the file it was asked to check).
  if [ ! -f "$db" ]; then
    echo "none yet"
    return
  fi
  local check="-"
  if [ "$have_sqlite" = 1 ]; then
    check="$(sqlite3 -cmd ".timeout 5000" "$db" "PRAGMA quick_check;" 2>&1 | head -1)"
  fi
  local rc=0
  "$bin" trend --store "$store" >/dev/null 2>&1 || rc=$?
  if [ "$rc" -le 1 ]; then
    echo "$check, opens"
  else
    echo "$check, DOES NOT OPEN (trend exit $rc)"
  fi
}

# Starts the workload; sets $workload. Watched once it runs its steps (its inspector is up
# by then).
start_workload() {
  node --inspect=127.0.0.1:0 "$scenarios/runner.js" "$scenarios/slow-leak.js" --forever \
    --print-every 1000 >>"$out/workload.log" 2>&1 &
  workload=$!
  local seen
  seen=$(grep -c '^iteration=' "$out/workload.log" 2>/dev/null || true)
  for _ in $(seq 100); do
    [ "$(grep -c '^iteration=' "$out/workload.log" 2>/dev/null || true)" -gt "$seen" ] && return
    sleep 0.1
  done
  echo "kill-watch: the workload did not start:" >&2
  tail -20 "$out/workload.log" >&2
  exit 1
}

# The name of the signal that ended a process, from its exit status.
how_it_ended() {
  local status=$1
  if [ "$status" -gt 128 ]; then
    echo "SIG$(kill -l $((status - 128)))"
  else
    echo "exit $status"
  fi
}

start_workload
watch_args=(--store "$store" --sample-every "${interval_ms}ms" --snapshot-every 1s
  --min-snapshot-gap 1s --keep 2)

echo "kill -9 of leaktrail watch at random moments: $kills kills, a sample every ${interval_ms} ms"
echo "binary $bin; store $store; samples counted by $([ "$have_sqlite" = 1 ] && echo "sqlite3 (whole store)" || echo "leaktrail trend (newest incarnation)")"
echo
fmt='%-4s %7s %4s %7s %7s %6s  %-20s %-12s %s\n'
# shellcheck disable=SC2059
printf "$fmt" kill moment run before after gap lost store workload
failed=0
workload_deaths=0
for k in $(seq "$kills"); do
  read -r at_start _ inc_start < <(count_samples)
  "$bin" watch --pid "$workload" "${watch_args[@]}" >>"$out/watch.log" 2>&1 &
  watcher=$!
  # Not a job of this shell's: bash would print "Killed" for it on its own stderr.
  disown "$watcher"
  started=$(now_ms)
  moment=$((50 + RANDOM % 2951))
  until_ms=$((started + moment))
  while [ "$(now_ms)" -lt "$until_ms" ]; do sleep 0.01; done
  read -r before _ inc_before < <(count_samples)
  watcher_state=""
  kill -9 "$watcher" 2>/dev/null || watcher_state="watch had ended"
  killed=$(now_ms)
  # Gone once bash has reaped it (it reaps children it has disowned too).
  for _ in $(seq 500); do
    kill -0 "$watcher" 2>/dev/null || break
    sleep 0.01
  done
  watcher=""
  read -r after newest inc_after < <(count_samples)
  store_state="$(check_store)"
  case "$store_state" in
    "none yet" | "ok, opens" | "-, opens") ;;
    *) failed=1 ;;
  esac
  if [ "$have_sqlite" = 1 ]; then
    run=$((after - at_start))
  elif [ "$inc_after" = "$inc_start" ]; then
    # Killed before it recorded its incarnation: the newest is the previous watcher's.
    run=0
    before="$after"
  else
    run="$after"
    # Counted before this watcher's incarnation existed: it had stored nothing then.
    [ "$inc_before" != "$inc_after" ] && before=0
  fi
  if [ "$newest" -gt 0 ]; then gap=$((killed - newest)); else gap="-"; fi
  sample_due=0
  if [ "$gap" = "-" ] || [ "$gap" -gt $((interval_ms + slack_ms)) ]; then
    sample_due=1
  fi
  if [ "$before" = "?" ] || [ "$after" = "?" ]; then
    lost="UNREADABLE"
    failed=1
  elif [ "$after" -lt "$before" ]; then
    lost="$((before - after)) STORED"
    failed=1
  elif [ -n "$watcher_state" ]; then
    # It ended before the kill (its process had ended): nothing was cut short.
    lost="nothing (not killed)"
  elif [ "$inc_after" = "$inc_start" ]; then
    # Killed before it recorded its incarnation: it had not begun to sample. What the
    # store lacks of the watcher before was counted in that watcher's row.
    lost="nothing (starting)"
  elif [ "$have_sqlite" = 0 ]; then
    if [ "$sample_due" = 1 ]; then lost="<=1 in flight"; else lost="nothing"; fi
  else
    read -r pending pending_mtime < <(snapshot_in_flight "$inc_after"; echo)
    if [ -n "$pending" ]; then
      # A sample due while the file was written was never taken: the watcher was busy
      # with the snapshot. One due before it was the sample in flight.
      if [ "$sample_due" = 1 ] && [ "$pending_mtime" -lt "$newest" ]; then
        lost="sample+snapshot"
      else
        lost="snapshot in flight"
      fi
    elif [ "$sample_due" = 1 ]; then
      lost="sample in flight"
    else
      lost="nothing"
    fi
  fi
  # The watched process must outlive its watcher; if it did not, say how it ended and
  # start another, so the next kills have something to watch.
  workload_state="ran"
  if ! kill -0 "$workload" 2>/dev/null; then
    status=0
    { wait "$workload"; } 2>/dev/null || status=$?
    workload_state="DIED ($(how_it_ended "$status")), restarted"
    workload_deaths=$((workload_deaths + 1))
    start_workload
  fi
  [ -n "$watcher_state" ] && workload_state="$workload_state; $watcher_state"
  actual=$((killed - started))
  # shellcheck disable=SC2059
  printf "$fmt" "$k" "${actual}ms" "$run" "$before" "$after" "$gap" "$lost" "$store_state" \
    "$workload_state"
done

# The watcher comes back and ends on its own on the store the kills left.
read -r before_last _ < <(count_samples)
last_rc=0
"$bin" watch --pid "$workload" "${watch_args[@]}" --duration 2s --quiet >>"$out/watch.log" 2>&1 ||
  last_rc=$?
read -r after_last _ < <(count_samples)
echo
if [ "$have_sqlite" = 1 ]; then
  stored="samples $before_last -> $after_last"
else
  stored="it stored $after_last samples"
fi
echo "after the kills: a watcher ran 2 s on the same store, exit $last_rc; $stored;" \
  "store $(check_store)"
if [ "$workload_deaths" = 0 ]; then
  echo "the workload ran throughout (pid $workload)"
else
  echo "the workload died $workload_deaths time(s) after its watcher was killed (see the rows)"
fi
if [ "$have_sqlite" = 1 ]; then
  echo "incarnations $(sqlite3 -readonly "$db" 'SELECT count(*) FROM incarnations;')," \
    "snapshot censuses $(sqlite3 -readonly "$db" 'SELECT count(*) FROM snapshots;')," \
    "raw snapshot files $(find "$store/snapshots" -type f | wc -l)"
fi
[ "$last_rc" = 0 ] || failed=1
if [ "$failed" = 0 ] && [ "$workload_deaths" -gt 0 ]; then
  failed=2
fi
exit "$failed"
