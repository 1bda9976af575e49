#!/usr/bin/env python3
"""Times creating a cart and adding a line, N times in sequence, over one
keep-alive connection. Prints p50/p90/p99 in milliseconds.

usage: cart_timing.py BASE_URL VARIANT_ID N
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse

base, variant, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)


def call(method, path, body=None):
    conn.request(method, path, json.dumps(body) if body is not None else None, {"content-type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data)


times = []
for _ in range(n):
    t0 = time.perf_counter()
    cart = call("POST", "/api/store/carts", {})
    call("POST", f"/api/store/carts/{cart['id']}/lines", {"variant_id": variant, "quantity": 1})
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
print(json.dumps({"n": n, "p50_ms": round(statistics.median(times), 2), "p90_ms": round(q(0.90), 2), "p99_ms": round(q(0.99), 2)}))
