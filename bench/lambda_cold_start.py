#!/usr/bin/env python3
"""Cold start of the `api` Lambda function, as Lambda starts it.

A stand-in for the Lambda Runtime API (the HTTP interface Lambda gives a
custom runtime) hands one API Gateway HTTP API event to a freshly executed
`bootstrap` and times process exec -> the function's response arriving
(its `POST /runtime/invocation/<id>/response`). Baseline, measured in the same
run: the same binary started as today's server (`serve --role api`), exec ->
first 200 from the same route over HTTP.

usage: lambda_cold_start.py BOOTSTRAP --database-url URL [--runs N] [--port P]
Prints one JSON line per figure (milliseconds: median, min, max) and the ratio.
"""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENT = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/api/store/products", "rawQueryString": "limit=2",
    "headers": {"accept": "application/json", "host": "x.execute-api.us-east-1.amazonaws.com"},
    "queryStringParameters": {"limit": "2"},
    "requestContext": {"accountId": "123456789012", "apiId": "x", "domainName": "x.execute-api.us-east-1.amazonaws.com",
                       "domainPrefix": "x", "http": {"method": "GET", "path": "/api/store/products", "protocol": "HTTP/1.1",
                       "sourceIp": "198.51.100.7", "userAgent": "bench"}, "requestId": "r", "routeKey": "$default",
                       "stage": "$default", "time": "29/Nov/2026:10:00:00 +0000", "timeEpoch": 0},
    "isBase64Encoded": False,
}


class Runtime:
    """One invocation per process start: the first /next gets the event,
    later ones wait (the process is killed after its response)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.handed = False
            self.done = threading.Event()
            self.response = None
            self.at = None


def handler(rt):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path.endswith("/runtime/invocation/next"):
                with rt.lock:
                    first = not rt.handed
                    rt.handed = True
                if not first:
                    rt.done.wait(30)
                    time.sleep(30)
                    return
                body = json.dumps(EVENT).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:cielo-api")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.end_headers()

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n)
            now = time.perf_counter()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            rt.response = (self.path, data)
            rt.at = now
            rt.done.set()
    return H


def env_for(port, args, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}", "AWS_LAMBDA_FUNCTION_NAME": "cielo-api",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/cielo-api", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "CIELO_LAMBDA_ROLE": "api", "CIELO_DATABASE_URL": args.database_url, "CIELO_DATABASE_MAX_CONNECTIONS": "2",
        "CIELO_DATA_DIR": data_dir, "CIELO_LOG_LEVEL": "warn", "CIELO_SECRET_KEY": "b" * 64,
    })
    return env


def lambda_start(args, rt, port, data_dir):
    rt.reset()
    t0 = time.perf_counter()
    p = subprocess.Popen([args.bootstrap], env=env_for(port, args, data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ok = rt.done.wait(30)
    p.kill()
    _, err = p.communicate()
    if not ok:
        sys.exit(f"the function did not answer: {err.decode()[-2000:]}")
    path, body = rt.response
    if not path.endswith("/response") or json.loads(body).get("statusCode") != 200:
        sys.exit(f"unexpected answer {path}: {body[:500]!r}")
    return (rt.at - t0) * 1000


def server_start(args, data_dir, port):
    env = env_for(0, args, data_dir)
    for k in [k for k in env if k.startswith("AWS_LAMBDA_")]:
        del env[k]
    t0 = time.perf_counter()
    p = subprocess.Popen([args.bootstrap, "serve", "--role", "api", "--no-demo", "--bind", f"127.0.0.1:{port}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/api/store/products?limit=2"
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return (time.perf_counter() - t0) * 1000
            except OSError:
                if p.poll() is not None:
                    sys.exit(f"the server exited: {p.stderr.read().decode()[-2000:]}")
                time.sleep(0.001)
    finally:
        p.kill()
        p.wait()


def summary(name, xs):
    return {"figure": name, "median_ms": round(statistics.median(xs), 1), "min_ms": round(min(xs), 1),
            "max_ms": round(max(xs), 1), "runs": len(xs)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--port", type=int, default=26510)
    ap.add_argument("--server-port", type=int, default=26511)
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="cielo-cold-start-")
    # The deploy's migration step, once.
    env = env_for(0, args, data_dir)
    for k in [k for k in env if k.startswith("AWS_LAMBDA_")]:
        del env[k]
    subprocess.run([args.bootstrap, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    rt = Runtime()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), handler(rt))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    lam, base = [], []
    for _ in range(args.runs):  # interleaved, so both see the same load
        lam.append(lambda_start(args, rt, args.port, data_dir))
        base.append(server_start(args, data_dir, args.server_port))
    a, b = summary("lambda_api_cold_start", lam), summary("server_api_start_baseline", base)
    print(json.dumps(a))
    print(json.dumps(b))
    print(json.dumps({"figure": "ratio_lambda_over_server", "value": round(a["median_ms"] / b["median_ms"], 2),
                      "loadavg_1m": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
