#!/usr/bin/env bash
# The binary that ships: static, LTO, stripped (profile `dist` in Cargo.toml).
#
#   tools/dist/build.sh [TARGET]     TARGET: the host's *-unknown-linux-gnu by default
#
# Prints the path of the binary on stdout, the rest on stderr. It is static glibc
# (`-C target-feature=+crt-static`): no dynamic loader, no libc.so needed, so the same
# file runs on glibc distributions and on Alpine (musl). The target is named explicitly
# so that RUSTFLAGS reach only the binary, not build scripts and proc macros (which must
# stay dynamic). The build fails unless the result really is a static executable.
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${1:-$(rustc -vV | sed -n 's/^host: //p')}"
case "$target" in
  *-unknown-linux-gnu) ;;
  *) echo "tools/dist/build.sh: $target: only *-unknown-linux-gnu targets are built static here" >&2; exit 2 ;;
esac

start=$(date +%s)
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --profile dist --target "$target" --bin leaktrail >&2
bin="target/$target/dist/leaktrail"

# Static: no program interpreter (PT_INTERP) and no needed shared library (DT_NEEDED).
if readelf -lW "$bin" | grep -q 'Requesting program interpreter' \
  || readelf -dW "$bin" | grep -q '(NEEDED)'; then
  echo "tools/dist/build.sh: $bin is not static:" >&2
  readelf -lW "$bin" | grep -i interpreter >&2 || true
  readelf -dW "$bin" | grep NEEDED >&2 || true
  exit 1
fi
echo "tools/dist/build.sh: $bin: $(stat -c %s "$bin") bytes, static, built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
