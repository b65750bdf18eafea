#!/usr/bin/env python3
"""Bad snapshot files against leaktrail: what does each command do with them?

    tools/faults/bad-snapshots.py LEAKTRAIL [--mutations 300] [--seed 1]

Writes a small real heap snapshot with Node, then files that are not quite snapshots:
hand-made cases (empty, not JSON, cut at many points, counts that lie, fields in another
order, trailing bytes, leading zeros, huge header counts, a directory, no permission) and
random mutations of the real one (bytes flipped, inserted, deleted, spans cut out).
Each file goes through `summary` (with the graph), `summary --shallow`, and `leaks` (the
file as FINAL after two good ones). Every outcome is one of:

    refused   exit 2 with a one-line message that names the file
    accepted  exit 0 or 1 (a mutation can leave a valid snapshot)
    PANIC     the process panicked
    SIGNAL    the process died of a signal (SIGBUS, SIGSEGV, SIGABRT)
    HUNG      no answer within 60 s
    OTHER     any other exit or a message that does not name the file

and the script prints one Markdown table row per kind of file, and exits 1 if any
outcome is PANIC, SIGNAL, HUNG or OTHER, a hand-made bad file is not refused, or the
valid one is not read. Python 3.11 standard library only.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile

TIMEOUT = 60


def real_snapshot(dir):
    path = os.path.join(dir, "good.heapsnapshot")
    script = (
        "const kept = []; for (let i = 0; i < 200; i++) kept.push({ id: i, name: 'n' + i });"
        f"require('v8').writeHeapSnapshot({json.dumps(path)});"
    )
    subprocess.run(["node", "-e", script], check=True)
    return path


def hand_made(good):
    """(kind, bytes) pairs; None bytes means a special file made by the caller."""
    data = open(good, "rb").read()
    doc = json.loads(data)
    meta = doc["snapshot"]["meta"]
    out = [
        ("empty file", b""),
        ("not JSON", b"hello, world\n"),
        ("JSON but no snapshot", b'{"nodes": []}'),
        ("an array", b"[1, 2, 3]"),
    ]
    for frac in (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
        out.append(("cut short", data[: int(len(data) * frac)]))

    def dumped(d):
        return json.dumps(d, separators=(",", ":")).encode()

    for field, value in (
        ("node_count", 2**32 - 1),
        ("edge_count", 2**32 - 1),
        ("node_count", doc["snapshot"]["node_count"] + 7),
        ("edge_count", doc["snapshot"]["edge_count"] - 3),
        ("node_count", -1),
    ):
        d = json.loads(data)
        d["snapshot"][field] = value
        out.append((f"a lying {field}", dumped(d)))
    d = json.loads(data)
    d["nodes"] = d["nodes"][:-1]
    out.append(("nodes not a whole number of records", dumped(d)))
    d = json.loads(data)
    d["edges"][2] = len(d["nodes"]) + 60
    out.append(("an edge to a node past the end", dumped(d)))
    d = json.loads(data)
    d["nodes"][1] = len(d["strings"]) + 5
    out.append(("a name past the string table", dumped(d)))
    out.append(("trailing bytes after the closing brace", data + b" {}"))
    out.append(("leading-zero numbers", data.replace(b'"nodes":[', b'"nodes":[0', 1)))
    d = json.loads(data)
    del d["snapshot"]["meta"]["node_fields"]
    out.append(("meta without node_fields", dumped(d)))
    # Fields in another order, the data following it: valid, and must be read.
    d = json.loads(data)
    nf = meta["node_fields"]
    n = len(nf)
    order = list(range(n))
    order[0], order[1] = order[1], order[0]
    d["snapshot"]["meta"]["node_fields"] = [nf[i] for i in order]
    d["snapshot"]["meta"]["node_types"] = [meta["node_types"][i] for i in order]
    nodes = d["nodes"]
    d["nodes"] = [nodes[r + i] for r in range(0, len(nodes), n) for i in order]
    out.append(("VALID: node fields in another order", dumped(d)))
    return out


def mutate(data, rng):
    b = bytearray(data)
    op = rng.choice(["flip", "insert", "delete", "cut", "digit"])
    at = rng.randrange(len(b))
    if op == "flip":
        b[at] = rng.randrange(256)
    elif op == "insert":
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif op == "delete":
        del b[at : at + rng.randint(1, 64)]
    elif op == "cut":
        del b[at : at + rng.randint(64, 4096)]
    else:
        b[at] = ord(str(rng.randrange(10)))
    return bytes(b)


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "HUNG", ""
    err = p.stderr.decode(errors="replace")
    if "panicked" in err:
        return "PANIC", err
    if p.returncode < 0:
        return f"SIGNAL ({signal.Signals(-p.returncode).name})", err
    if p.returncode in (0, 1):
        return "accepted", err
    return ("refused" if p.returncode == 2 else "OTHER"), err


def judge(leaktrail, path, good):
    outcomes = []
    for cmd in (
        [leaktrail, "summary", path],
        [leaktrail, "summary", "--shallow", path],
        [leaktrail, "leaks", good, good, path],
    ):
        outcome, err = run(cmd)
        if outcome == "refused":
            lines = [l for l in err.strip().splitlines() if l.strip()]
            if not lines or os.path.basename(path) not in err:
                outcome = "OTHER"
        outcomes.append(outcome)
    return outcomes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("leaktrail")
    ap.add_argument("--mutations", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bad = False
    with tempfile.TemporaryDirectory() as dir:
        good = real_snapshot(dir)
        rows = {}
        cases = hand_made(good)
        data = open(good, "rb").read()
        cases += [("random mutation", mutate(data, rng)) for _ in range(args.mutations)]
        for i, (kind, content) in enumerate(cases):
            path = os.path.join(dir, f"case-{i}.heapsnapshot")
            with open(path, "wb") as f:
                f.write(content)
            for o in judge(args.leaktrail, path, good):
                rows.setdefault(kind, {}).setdefault(o, 0)
                rows[kind][o] += 1
            os.remove(path)
        # Special files.
        special = os.path.join(dir, "a-directory.heapsnapshot")
        os.mkdir(special)
        rows["a directory"] = {}
        for o in judge(args.leaktrail, special, good):
            rows["a directory"][o] = rows["a directory"].get(o, 0) + 1
        missing = os.path.join(dir, "missing.heapsnapshot")
        rows["a missing file"] = {}
        for o in judge(args.leaktrail, missing, good):
            rows["a missing file"][o] = rows["a missing file"].get(o, 0) + 1
        if os.geteuid() != 0:
            locked = os.path.join(dir, "locked.heapsnapshot")
            with open(locked, "wb") as f:
                f.write(data)
            os.chmod(locked, 0)
            rows["no read permission"] = {}
            for o in judge(args.leaktrail, locked, good):
                rows["no read permission"][o] = rows["no read permission"].get(o, 0) + 1
        print("| bad snapshot file | runs (summary, summary --shallow, leaks) | outcomes |")
        print("|---|---|---|")
        for kind, outcomes in rows.items():
            total = sum(outcomes.values())
            cells = ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items()))
            wrong = any(o.split()[0] in ("PANIC", "SIGNAL", "HUNG", "OTHER") for o in outcomes)
            # Hand-made bad files must be refused, the valid one read; a random mutation
            # may leave a valid snapshot.
            if kind.startswith("VALID"):
                wrong |= set(outcomes) != {"accepted"}
            elif kind != "random mutation":
                wrong |= set(outcomes) != {"refused"}
            bad |= wrong
            print(f"| {kind} | {total} | {cells}{' — WRONG' if wrong else ''} |")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
