#!/usr/bin/env python3
"""Slow clients against `leaktrail serve`: opens N connections that each send half a
request (the request line and one header, never the blank line that ends the headers) and
wait, times normal requests while they are held, and prints one Markdown table row:

    | slow connections | requests answered | p50 | p99 | slow connections closed |

    tools/faults/slow-clients.py http://127.0.0.1:7878/metrics [--slow 1000]
        [--requests 50] [--every 0.1] [--timeout 5] [--wait 30] [--token T] [--header]

A request counts as answered when a 2xx answer arrives whole within --timeout (other
statuses are counted apart: a missing token shows as 401); its latency runs from
connecting to the end of the answer. A slow connection counts as closed
when the server ends it (end of stream or reset); the cell says how many closed within a
second of opening (made room for by the cap) and when the last closed (the header
timeout), counted from when all were open. Exits 1 when a request went unanswered or a
slow connection was still open --wait seconds after all were open.

The first request waits while the server accepts the burst of slow connections still
queued, so p99 over few requests shows that wait. Python 3.11 standard library only. The
token comes from --token or LEAKTRAIL_TOKEN; the slow connections never send it.
"""

import argparse
import math
import os
import resource
import selectors
import socket
import sys
import threading
import time
import urllib.parse


def parse_args():
    p = argparse.ArgumentParser(
        description="Slow connections against leaktrail serve while normal requests are timed."
    )
    p.add_argument("url", help="a route of the server, e.g. http://127.0.0.1:7878/metrics")
    p.add_argument("--slow", type=int, default=1000, help="slow connections (1000)")
    p.add_argument("--requests", type=int, default=50, help="normal requests timed (50)")
    p.add_argument("--every", type=float, default=0.1, help="seconds between them (0.1)")
    p.add_argument("--timeout", type=float, default=5.0, help="per request, seconds (5)")
    p.add_argument(
        "--wait", type=float, default=30.0,
        help="seconds after all are open to wait for the slow ones to close (30)",
    )
    p.add_argument("--token", default=os.environ.get("LEAKTRAIL_TOKEN"))
    p.add_argument("--header", action="store_true", help="print the table's header first")
    args = p.parse_args()
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        p.error(f"{args.url}: an http:// URL with a host")
    if args.slow < 0 or args.requests < 1:
        p.error("--slow must be 0 or more, --requests 1 or more")
    return args, url


def raise_open_files(need):
    """Lifts this process's soft open-file limit towards `need` (never above the hard one):
    each slow connection is a file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


def request_bytes(url, token, complete):
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    head = f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
    if not complete:
        return head.encode()
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    return (head + "Connection: close\r\n\r\n").encode()


def timed_request(address, payload, timeout):
    """One request on a new connection: (its status, or None when no answer came whole in
    time; seconds)."""
    start = time.monotonic()
    deadline = start + timeout
    try:
        with socket.create_connection(address, timeout=timeout) as s:
            s.sendall(payload)
            answer = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, time.monotonic() - start
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None, time.monotonic() - start
    status = None
    if answer.startswith(b"HTTP/1.") and b"\r\n\r\n" in answer:
        parts = answer.split(b" ", 2)
        if len(parts) > 1 and parts[1].isdigit():
            status = int(parts[1])
    return status, time.monotonic() - start


class Watcher(threading.Thread):
    """Notes when the server closes each slow connection."""

    def __init__(self):
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.closed_at = []
        self.open = 0
        self.running = True

    def add(self, sock):
        sock.setblocking(False)
        with self.lock:
            self.open += 1
        self.selector.register(sock, selectors.EVENT_READ)

    def run(self):
        while self.running:
            if not self.selector.get_map():
                time.sleep(0.02)
                continue
            for key, _ in self.selector.select(timeout=0.05):
                sock = key.fileobj
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    continue  # an answer (a refusal); the close follows
                now = time.monotonic()
                self.selector.unregister(sock)
                sock.close()
                with self.lock:
                    self.open -= 1
                    self.closed_at.append(now)

    def still_open(self):
        with self.lock:
            return self.open


def percentile(sorted_values, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def main():
    args, url = parse_args()
    address = (url.hostname, url.port or 80)
    raise_open_files(args.slow + 256)
    watcher = Watcher()
    watcher.start()
    half = request_bytes(url, args.token, complete=False)
    made = failed = 0
    for _ in range(args.slow):
        try:
            s = socket.create_connection(address, timeout=1.0)
            s.sendall(half)
        except OSError:
            failed += 1
            continue
        watcher.add(s)
        made += 1
    all_open = time.monotonic()

    full = request_bytes(url, args.token, complete=True)
    latencies = []
    answered = 0
    other = {}
    for i in range(args.requests):
        status, seconds = timed_request(address, full, args.timeout)
        if status is not None and 200 <= status < 300:
            answered += 1
        elif status is not None:
            other[status] = other.get(status, 0) + 1
        latencies.append(seconds)
        if i + 1 < args.requests:
            time.sleep(args.every)

    deadline = all_open + args.wait
    while watcher.still_open() and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.running = False
    left_open = watcher.still_open()
    closed = sorted(t - all_open for t in watcher.closed_at)

    latencies.sort()
    ms = lambda s: f"{s * 1000:.1f} ms"
    slow_cell = f"{made}" + (f" ({failed} could not connect)" if failed else "")
    answered_cell = f"{answered}/{args.requests}"
    if other:
        answered_cell += " (" + ", ".join(f"{n} × {s}" for s, n in sorted(other.items())) + ")"
    if closed:
        at_once = sum(1 for t in closed if t < 1.0)
        closed_cell = (
            f"{len(closed)}/{made}: {at_once} within 1 s, the last after {max(closed[-1], 0):.1f} s"
        )
    else:
        closed_cell = f"0/{made}"
    if left_open:
        closed_cell += f"; {left_open} still open after {args.wait:g} s"
    if args.header:
        print("| slow connections | requests answered | p50 | p99 | slow connections closed |")
        print("|---|---|---|---|---|")
    print(
        f"| {slow_cell} | {answered_cell} | {ms(percentile(latencies, 50))} "
        f"| {ms(percentile(latencies, 99))} | {closed_cell} |"
    )
    return 0 if answered == args.requests and not left_open else 1


if __name__ == "__main__":
    sys.exit(main())
