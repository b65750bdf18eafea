#!/usr/bin/env bash
# A bounded fuzz run, for CI: bash fuzz/run-bounded.sh [SECONDS]   (default 60)
#
# Fuzzes parse_snapshot — open, then summary, diff, leaks, retainers and the census, the
# path the commands use — for SECONDS, starting from the seeds and from every input that
# ever crashed it (fuzz/artifacts/parse_snapshot/, kept in the repository: a fixed crash
# that comes back fails at once). A new crash is written there and fails the run; commit
# it with the fix (tests/it/fuzz_regressions.rs replays that folder in the ordinary tests).
#
# Runs on the stable toolchain: without AddressSanitizer (`-s none`) cargo-fuzz passes no
# nightly-only flag. The code fuzzed is safe Rust, so ASan would add little but halve the
# executions per second; libFuzzer still catches panics, hangs (-timeout) and runaway
# allocations (-rss_limit_mb, -malloc_limit_mb). The corpus grown during the run is
# thrown away.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== cargo install cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
mkdir -p artifacts/parse_snapshot

echo "== cargo fuzz build"
cargo fuzz build -s none parse_snapshot
echo "== cargo fuzz run (${seconds} s)"
cargo fuzz run -s none parse_snapshot "$corpus" seeds artifacts/parse_snapshot -- \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
