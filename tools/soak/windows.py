#!/usr/bin/env python3
"""The watcher's own memory per window of a soak, from the store soak.sh writes.

    tools/soak/windows.py OUT_DIR [MINUTES_PER_WINDOW]     (default 10)

Prints a Markdown table of the lowest and highest anonymous memory and RSS (KiB) per
window, and the Theil-Sen slope of each window's lowest anonymous memory from minute 20
on: the lows are what the allocator keeps between requests, the highs are requests in
flight. `leaktrail trend` on the same store gives the slope of the whole series.
"""
import sqlite3
import statistics
import sys


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "soak-out"
    width = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    db = sqlite3.connect(f"file:{out}/self/leaktrail.db?mode=ro", uri=True)
    rows = db.execute("SELECT t, rss, anon FROM samples ORDER BY t").fetchall()
    if not rows:
        sys.exit(f"{out}/self/leaktrail.db: no samples")
    t0 = rows[0][0]
    windows: dict[int, list[tuple[int, int]]] = {}
    for t, rss, anon in rows:
        w = int((t - t0) / 60000 // width)
        windows.setdefault(w, []).append((rss, anon if anon is not None else rss))
    print("| minutes | anon min | anon max | RSS min | RSS max |")
    print("|---|---|---|---|---|")
    lows = []
    for w in sorted(windows):
        rss = [r for r, _ in windows[w]]
        anon = [a for _, a in windows[w]]
        lows.append((w * width + width / 2, min(anon)))
        print(
            f"| {w * width}–{(w + 1) * width} | {min(anon) // 1024:,} | {max(anon) // 1024:,} "
            f"| {min(rss) // 1024:,} | {max(rss) // 1024:,} |"
        )
    late = [(m, a) for m, a in lows if m >= 20]
    if len(late) >= 2:
        slopes = [
            (a2 - a1) / (m2 - m1)
            for i, (m1, a1) in enumerate(late)
            for (m2, a2) in late[i + 1 :]
        ]
        per_hour = statistics.median(slopes) * 60 / 1024 / 1024
        print(f"\nWindow lows from minute 20 on: {per_hour:+.2f} MiB/h (Theil-Sen, {len(late)} windows)")


if __name__ == "__main__":
    main()
