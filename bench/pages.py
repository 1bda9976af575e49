#!/usr/bin/env python3
"""Page timings: each page's HTML served N times in sequence (one client, keep-alive),
median and p95 of the time to the last byte, with GET /healthz in the same run as
the baseline; and each page's own CSS + JavaScript weight.

usage: bench/pages.py BIN [N]     BIN = a built cielo binary (release for figures you quote)
Starts the binary on a fresh SQLite data directory with the demo catalog,
on 127.0.0.1:$PORT (default 26620).
"""
import http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
PORT = int(os.environ.get("PORT", "26620"))
data = tempfile.mkdtemp(prefix="cielo-pages-bench-")
env = dict(os.environ, RUST_LOG="warn")
srv = subprocess.Popen([BIN, "--data-dir", data, "serve", "--bind", f"127.0.0.1:{PORT}"], env=env)
try:
    conn = None
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
            conn.request("GET", "/readyz"); r = conn.getresponse(); r.read()
            if r.status == 200: break
        except OSError:
            time.sleep(0.2)
    def get(path, cookie=""):
        h = {"cookie": cookie} if cookie else {}
        conn.request("GET", path, headers=h); r = conn.getresponse(); body = r.read()
        return r, body
    # A cart with a line, for the cart page.
    conn.request("POST", "/api/store/carts", body=b"{}", headers={"content-type": "application/json"})
    cart = json.loads(conn.getresponse().read())["id"]
    _, p = get("/api/store/products/star-chart-mug")
    variant = json.loads(p)["variants"][0]["id"]
    conn.request("POST", f"/api/store/carts/{cart}/lines", body=json.dumps({"variant_id": variant, "quantity": 1}),
                 headers={"content-type": "application/json"}); conn.getresponse().read()
    _, p = get("/api/store/products?limit=1&q=star%20map")
    poster = json.loads(p)["products"][0]["handle"]
    pages = {"healthz (baseline)": ("/healthz", ""), "home": ("/", ""), "catalog": ("/shop", ""),
             "catalog search": ("/shop?q=cafe", ""), "product": ("/products/star-chart-mug", ""),
             "designer": (f"/products/{poster}", ""), "cart": ("/cart?country=US", f"cielo_cart={cart}"),
             "checkout": ("/checkout", f"cielo_cart={cart}")}
    rows = []
    for name, (path, cookie) in pages.items():
        for _ in range(20): get(path, cookie)
        times = []
        for _ in range(N):
            t = time.perf_counter(); r, body = get(path, cookie); times.append((time.perf_counter() - t) * 1000)
            assert r.status == 200, (path, r.status)
        times.sort()
        assets = 0
        if not name.startswith("healthz"):
            for a in set(re.findall(rb'(?:href|src)="(/static/[^"?]+\.(?:css|js))', body)):
                _, b = get(a.decode()); assets += len(b)
        rows.append((name, statistics.median(times), times[int(0.95 * (N - 1))], len(body), assets))
    base = rows[0][1]
    print(f"{'page':22} {'p50 ms':>8} {'p95 ms':>8} {'x base':>7} {'HTML B':>8} {'CSS+JS B':>9}")
    for name, p50, p95, size, assets in rows:
        print(f"{name:22} {p50:8.2f} {p95:8.2f} {p50 / base:7.1f} {size:8d} {assets:9d}")
    print(f"N={N} sequential requests per page; load average {os.getloadavg()[0]:.2f}")
finally:
    srv.terminate(); srv.wait()
    shutil.rmtree(data, ignore_errors=True)
