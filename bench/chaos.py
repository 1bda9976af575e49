#!/usr/bin/env python3
"""The chaos run: the zero-loss promise under faults (see bench/chaos.sh).

Runs Cielo as separate processes on PostgreSQL (2 api, 2 workers, 2
schedulers), with a print lab and an email provider that fail about 20 % of
their calls (chaos_peers), places CHECKOUTS orders paid through the built-in
test provider whose webhooks this driver delivers itself: three times each,
in random order, some late, 5 % never (the payments catch-up must find
those). Meanwhile it SIGKILLs random api and worker processes and restarts
them. Then an independent checker reads the providers' records and the
database and asserts the promises; it prints the counts and exits 1 on any
violation.
"""

import argparse
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

PAID_STATES = ("paid", "in_production", "shipped", "delivered")
SECRET = "whsec_chaos_run_secret"
PF_TOKEN = "pf-chaos-token"


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def http(method, url, body=None, headers=None, timeout=10, form=None):
    """(status, parsed body); raises OSError when nothing answered."""
    data = None
    h = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        h.setdefault("content-type", "application/json")
    if form is not None:
        data = form.encode()
        h["content-type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=h)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        raise OSError(str(e))
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


class Cluster:
    """The Cielo processes: started, killed, restarted."""

    def __init__(self, args, env, workdir):
        self.args, self.env, self.workdir = args, env, workdir
        self.procs = {}  # name -> (Popen, argv)
        self.lock = threading.Lock()
        self.kills = []
        self.api_ports = [args.base_port + i for i in range(2)]

    def argv(self, role, port=None):
        a = [self.args.cielo, "--config", os.path.join(self.workdir, "chaos.toml"),
             "--data-dir", os.path.join(self.workdir, "data"), "serve", "--no-demo", "--role", role]
        if port:
            a += ["--bind", f"127.0.0.1:{port}"]
        return a

    def start(self, name, argv):
        out = open(os.path.join(self.workdir, f"{name}.log"), "ab")
        p = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        with self.lock:
            self.procs[name] = (p, argv)

    def start_all(self):
        for i, port in enumerate(self.api_ports):
            self.start(f"api{i}", self.argv("api", port))
        for i in range(2):
            self.start(f"worker{i}", self.argv("worker"))
            self.start(f"scheduler{i}", self.argv("scheduler"))
        for port in self.api_ports:
            self.wait_ready(port)

    def wait_ready(self, port, limit=120):
        end = time.time() + limit
        while time.time() < end:
            try:
                if http("GET", f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the api on port {port} never became ready")

    def api(self):
        return f"http://127.0.0.1:{random.choice(self.api_ports)}"

    def kill_one(self, rng):
        with self.lock:
            name = rng.choice([n for n in self.procs if n.startswith(("api", "worker"))])
            p, argv = self.procs[name]
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.kills.append(name)
        log(f"SIGKILL {name} (kill {len(self.kills)})")
        time.sleep(rng.uniform(0.2, 1.5))
        self.start(name, argv)

    def kill_all(self):
        with self.lock:
            procs = list(self.procs.values())
        for p, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def stop_all(self):
        with self.lock:
            procs = list(self.procs.values())
        for p, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in procs:
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qAtX", "-F", "\t", "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


class Deliverer:
    """The payment provider's webhook sender, misbehaving on purpose."""

    def __init__(self, cluster, db_url, rng, lost_rate, copies):
        self.cluster, self.db_url, self.rng = cluster, db_url, rng
        self.lost_rate, self.copies = lost_rate, copies
        self.seen = set()
        self.queue = []  # (due, event_id, payload, attempt)
        self.acked = set()
        self.never = set()
        self.deliveries = 0
        self.stop = False

    def sign(self, payload):
        t = int(time.time())
        mac = hmac.new(SECRET.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
        return f"t={t},v1={mac}"

    def poll_events(self):
        rows = psql(self.db_url, "select id, payload from payments_test_event order by created, id")
        now = time.time()
        for eid, payload in rows:
            if eid in self.seen:
                continue
            self.seen.add(eid)
            if self.rng.random() < self.lost_rate:
                self.never.add(eid)
                continue
            for _ in range(self.copies):
                # Reordered (random delays), some late (5-20 s).
                delay = self.rng.uniform(0, 2)
                if self.rng.random() < 0.1:
                    delay += self.rng.uniform(5, 20)
                self.queue.append((now + delay, eid, payload, 0))

    def run(self):
        last_poll = 0
        final_poll = False
        while not (self.stop and final_poll) or self.queue:
            if time.time() - last_poll > 0.5 and not final_poll:
                # Once the buyers are done, one last look at the log: the
                # last payments' events are sent too.
                final_poll = self.stop
                try:
                    self.poll_events()
                except subprocess.CalledProcessError as e:
                    log("could not read the provider's event log:", e)
                last_poll = time.time()
            now = time.time()
            due = [q for q in self.queue if q[0] <= now]
            self.queue = [q for q in self.queue if q[0] > now]
            self.rng.shuffle(due)
            for _, eid, payload, attempt in due:
                self.deliveries += 1
                ok = False
                try:
                    status, _ = http("POST", self.cluster.api() + "/webhooks/test", body=payload.encode(),
                                     headers={"stripe-signature": self.sign(payload)}, timeout=10)
                    ok = 200 <= status < 300
                except OSError:
                    pass
                if ok:
                    self.acked.add(eid)
                elif attempt < 20:
                    # The provider retries a delivery that was not acknowledged.
                    self.queue.append((time.time() + 1 + attempt, eid, payload, attempt + 1))
            time.sleep(0.05)


def with_retries(fn, what, tries=30):
    for i in range(tries):
        try:
            return fn()
        except (OSError, AssertionError) as e:
            last = e
            time.sleep(0.3 + 0.2 * i)
    raise SystemExit(f"{what}: gave up ({last})")


def checkout(cluster, variant, i):
    """One buyer: cart, line, checkout (idempotent), pay on the test page."""
    email = f"buyer{i}@chaos.test"

    def cart():
        s, b = http("POST", cluster.api() + "/api/store/carts", body={})
        assert s == 201, (s, b)
        return b["id"]

    cart_id = with_retries(cart, "create a cart")

    def line():
        s, b = http("POST", cluster.api() + f"/api/store/carts/{cart_id}/lines",
                    body={"variant_id": variant, "quantity": 1})
        assert s == 200, (s, b)

    with_retries(line, "add a line")
    key = f"chaos-{i}-{cart_id}"

    def check():
        s, b = http("POST", cluster.api() + f"/api/store/carts/{cart_id}/checkout",
                    body={"email": email, "shipping_address": {
                        "name": f"Buyer {i}", "line1": f"{i} Chaos Street", "city": "London",
                        "postal_code": "SW1Y 4JH", "country": "GB"}},
                    headers={"idempotency-key": key})
        assert s in (200, 201), (s, b)
        return b

    res = with_retries(check, "check out")
    path = "/" + res["payment_url"].split("/", 3)[3]

    def pay():
        s, b = http("POST", cluster.api() + path, form="action=pay")
        assert s in (200, 303), (s, b)

    with_retries(pay, "pay")
    return res["order_id"], email


def main():
    cleanup = []
    try:
        run(cleanup)
    finally:
        for f in cleanup:
            f()


def run(cleanup):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cielo", required=True)
    ap.add_argument("--peers", required=True)
    ap.add_argument("--db-url", required=True, help="a fresh PostgreSQL database")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--checkouts", type=int, default=1000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--fault-rate", type=float, default=0.2)
    ap.add_argument("--lost-rate", type=float, default=0.05)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--buyers", type=int, default=6, help="concurrent buyers")
    ap.add_argument("--base-port", type=int, default=26710)
    ap.add_argument("--settle-timeout", type=int, default=600)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--control-no-catch-up", action="store_true",
                    help="a control run: no payments catch-up, so the webhooks never delivered stay "
                         "unpaid and the checker must fail")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    started = time.time()

    peers = subprocess.Popen([args.peers, "--fault-rate", str(args.fault_rate), "--slow-secs", "3",
                              "--token", PF_TOKEN, "--seed", str(args.seed)],
                             stdout=subprocess.PIPE, text=True)
    cleanup.append(peers.kill)
    urls = json.loads(peers.stdout.readline())
    records_base = urls["records"].rsplit("/", 1)[0]

    config = CONFIG
    if args.control_no_catch_up:
        config = config.replace('test_delivery = "never"', 'test_delivery = "never"\ncatch_up_on_start = false')
        config = config.replace(CATCH_UP_ENTRY, "")
    with open(os.path.join(args.workdir, "chaos.toml"), "w") as f:
        f.write(config)
    env = dict(os.environ)
    env.update({
        "CIELO_DATABASE_URL": args.db_url,
        "CIELO_LOG": "warn",
        "CIELO_LOG_FORMAT": "json",
        "CIELO_TEST_WEBHOOK_SECRET": SECRET,
        "CIELO_PRINTFUL_API_TOKEN": PF_TOKEN,
        "CIELO_FULFILLMENT_PRINTFUL_API_BASE": urls["printful"],
        "CIELO_RESEND_API_KEY": "re_test_key",
        "CIELO_NOTIFY_RESEND_API_BASE": urls["resend"],
        "CIELO_SECRET_KEY": "chaos-run-signing-key-0123456789abcdef",
    })
    cluster = Cluster(args, env, args.workdir)
    cleanup.insert(0, cluster.kill_all)
    subprocess.run([args.cielo, "--config", os.path.join(args.workdir, "chaos.toml"),
                    "--data-dir", os.path.join(args.workdir, "data"), "migrate"],
                   env=env, check=True, capture_output=True)
    subprocess.run([args.cielo, "--config", os.path.join(args.workdir, "chaos.toml"),
                    "--data-dir", os.path.join(args.workdir, "data"), "admin", "create",
                    "--email", "admin@chaos.test", "--password-stdin"],
                   env=env, input=b"chaos keeper 2026!\n", check=True, capture_output=True)
    cluster.start_all()
    log("cluster up:", ", ".join(cluster.procs))

    s, b = http("POST", cluster.api() + "/api/store/auth/login",
                body={"email": "admin@chaos.test", "password": "chaos keeper 2026!"})
    assert s == 200, (s, b)
    admin = {"authorization": f"Bearer {b['token']}"}
    s, b = http("POST", cluster.api() + "/api/admin/products", headers=admin, body={
        "title": "Chaos Tee", "status": "published", "variants": [
            {"sku": "CHAOS-TEE", "price": {"amount": 2000, "currency": "USD"},
             "lab": "printful", "lab_product_id": "4012"}]})
    assert s == 201, (s, b)
    variant = b["variants"][0]["id"]

    deliverer = Deliverer(cluster, args.db_url, random.Random(args.seed + 1), args.lost_rate, args.copies)
    dt = threading.Thread(target=deliverer.run, daemon=True)
    dt.start()

    # Buyers.
    orders = {}
    next_i = iter(range(args.checkouts))
    i_lock = threading.Lock()
    failures = []

    def buyer():
        while True:
            with i_lock:
                i = next(next_i, None)
            if i is None:
                return
            try:
                oid, email = checkout(cluster, variant, i)
                with i_lock:
                    orders[oid] = email
            except SystemExit as e:
                failures.append(str(e))

    buyers = [threading.Thread(target=buyer, daemon=True) for _ in range(args.buyers)]
    for t in buyers:
        t.start()

    # The killer: spread the kills over the buying phase (estimated from the
    # first orders' pace), then finish any left.
    kill_rng = random.Random(args.seed + 2)
    while len(cluster.kills) < args.kills and any(t.is_alive() for t in buyers):
        done = len(orders)
        elapsed = time.time() - started
        if done < args.buyers:
            # No pace known yet: a first kill early in the run.
            time.sleep(kill_rng.uniform(1, 5))
            cluster.kill_one(kill_rng)
            continue
        rate = done / max(elapsed, 1)
        remaining = (args.checkouts - done) / rate
        left = args.kills - len(cluster.kills)
        time.sleep(kill_rng.uniform(0.2, 1.8) * max(remaining / (left + 1), 0.5))
        cluster.kill_one(kill_rng)
    for t in buyers:
        t.join()
    while len(cluster.kills) < args.kills:
        time.sleep(kill_rng.uniform(0.5, 2))
        cluster.kill_one(kill_rng)
    bought = time.time()
    log(f"{len(orders)} checkouts paid, {len(cluster.kills)} kills; waiting for the shop to settle")
    deliverer.stop = True
    dt.join()
    log(f"webhooks delivered ({deliverer.deliveries} deliveries)")

    # Settle: every paid order at the lab with its confirmation sent, or time out.
    def progress():
        r = psql(args.db_url, f"""select
            (select count(*) from orders_order where status = 'pending_payment'),
            (select count(*) from orders_order where status in {PAID_STATES}),
            (select count(*) from notify_message where kind = 'order_confirmation' and status = 'sent'),
            (select count(distinct order_id) from fulfillment_lab_order where submit_state = 'accepted'),
            (select count(*) from jobs_job where state in ('pending', 'running') and run_at < {int((time.time() - 2) * 1e6)})""")
        # runnable_jobs is reported, not waited for: the catch-ups keep
        # queueing refreshes of the lab orders in production.
        return [int(x) for x in r[0]]

    end = time.time() + args.settle_timeout
    while time.time() < end:
        pending, paid, confirmed, at_lab, runnable = progress()
        if pending == 0 and confirmed == paid == at_lab:
            break
        time.sleep(2)
    log("settled:", dict(zip(["pending_payment", "paid", "confirmed", "at_lab", "runnable_jobs"], progress())))
    settled = time.time()

    # The checker, while the shop still runs (its alerts are evaluated).
    violations = []

    def check(ok, what):
        if not ok:
            violations.append(what)

    provider_paid = {}
    for eid, payload in psql(args.db_url, "select id, payload from payments_test_event"):
        ev = json.loads(payload)
        if ev["type"] == "checkout.session.completed":
            oid = ev["data"]["object"]["metadata"]["order_id"]
            provider_paid.setdefault(oid, []).append(eid)
    ours = {oid: st for oid, st in psql(args.db_url, "select id, status from orders_order")}
    paid_here = {o for o, st in ours.items() if st in PAID_STATES or st in ("needs_attention", "refunded", "partially_refunded")}
    for oid, events in provider_paid.items():
        check(len(events) == 1, f"{oid}: {len(events)} payment events at the provider")
        check(ours.get(oid) in PAID_STATES, f"{oid}: paid at the provider, {ours.get(oid)} here")
    for oid in paid_here - set(provider_paid):
        violations.append(f"{oid}: paid here without a payment at the provider")
    for oid in orders:
        check(oid in provider_paid, f"{oid}: the buyer paid, the provider has no payment")

    s, lab_counts = http("POST", records_base + "/lab-counts", body=sorted(paid_here), timeout=120)
    assert s == 200, (s, lab_counts)
    for oid in paid_here:
        check(lab_counts.get(oid) == 1, f"{oid}: {lab_counts.get(oid)} lab orders at the lab")
    s, records = http("GET", urls["records"], timeout=60)
    confirmations = {}
    for e in records["emails"]:
        if "Order confirmed" in str(e.get("subject")):
            to = e["to"][0] if isinstance(e["to"], list) else e["to"]
            confirmations[to] = confirmations.get(to, 0) + 1
    check(records["emails_accepted"] == len(records["emails"]),
          f"the email provider accepted {records['emails_accepted']} messages for {len(records['emails'])} idempotency keys")
    for oid in paid_here:
        email = orders.get(oid) or ""
        check(confirmations.get(email) == 1, f"{oid}: {confirmations.get(email)} confirmation emails at the provider")
    for oid, n in psql(args.db_url, "select order_id, count(*) from notify_message where kind = 'order_confirmation' and status = 'sent' group by order_id"):
        check(n == "1", f"{oid}: {n} confirmation messages sent")

    inbox = {r[0] for r in psql(args.db_url, "select event_id from payments_inbox where provider = 'test'")}
    missing_acked = deliverer.acked - inbox
    check(not missing_acked, f"{len(missing_acked)} acknowledged webhooks not in the inbox")
    never_found = {e for e in deliverer.never if e in inbox}

    now_us = int(time.time() * 1e6)
    # Stuck: runnable for 5 minutes, or held by a lease that ran out a minute ago.
    stuck = int(psql(args.db_url, f"select count(*) from jobs_job where (state = 'pending' and run_at < {now_us - 300_000_000}) or (state = 'running' and leased_until < {now_us - 60_000_000})")[0][0])
    check(stuck == 0, f"{stuck} jobs stuck")
    dead = int(psql(args.db_url, "select count(*) from jobs_job where state = 'dead'")[0][0])
    if dead:
        # The alert job runs every 10 s here: give it one round.
        time.sleep(12)
        alerted = int(psql(args.db_url, "select count(*) from ops_alert where rule = 'dead-letters'")[0][0])
        check(alerted > 0, f"{dead} dead jobs and no alert")

    rec = subprocess.run([args.cielo, "--config", os.path.join(args.workdir, "chaos.toml"),
                          "--data-dir", os.path.join(args.workdir, "data"), "reconcile", "--since", "6h", "--json"],
                         env=env, capture_output=True, text=True)
    try:
        report = json.loads(rec.stdout)
    except ValueError:
        report = {"findings": [], "errors": [rec.stdout + rec.stderr]}
    open_findings = [f for f in report.get("findings", []) if f.get("state") == "open"]
    check(rec.returncode == 0 and not open_findings and not report.get("errors"),
          f"reconciliation: exit {rec.returncode}, {len(open_findings)} open findings, errors {report.get('errors')}")
    open_rows = psql(args.db_url, "select kind, subject, detail, created_at from ops_finding where state = 'open'")
    open_stored = len(open_rows)
    for kind, subject, detail, created in open_rows:
        violations.append(f"open finding {kind} {subject} (stored at {created}): {detail}")

    cluster.stop_all()
    peers.terminate()

    counts = {
        "checkouts": args.checkouts,
        "orders_paid_by_buyers": len(orders),
        "provider_payments": len(provider_paid),
        "paid_orders": len(paid_here),
        "lab_orders_at_lab": sum(v for v in lab_counts.values() if isinstance(v, int)),
        "lab_orders_at_lab_all": len(records["printful_orders"]),
        "confirmation_emails_at_provider": sum(confirmations.values()),
        "emails_accepted": records["emails_accepted"],
        "webhook_events": len(deliverer.seen),
        "webhook_deliveries": deliverer.deliveries,
        "webhooks_acknowledged": len(deliverer.acked),
        "webhooks_never_delivered": len(deliverer.never),
        "never_delivered_found_by_catch_up": len(never_found),
        "inbox_events": len(inbox),
        "kills": len(cluster.kills),
        "kills_by_process": {n: cluster.kills.count(n) for n in sorted(set(cluster.kills))},
        "faults_injected": records["faults"],
        "dead_jobs": dead,
        "stuck_jobs": stuck,
        "reconcile_findings": len(report.get("findings", [])),
        "reconcile_open_findings": len(open_findings),
        "buyer_failures": len(failures),
        "seconds_buying": round(bought - started, 1),
        "seconds_to_settle": round(settled - bought, 1),
        "violations": len(violations),
    }
    check(not failures, f"{len(failures)} buyers could not finish: {failures[:3]}")
    print(json.dumps(counts, indent=2))
    for v in violations[:50]:
        print("VIOLATION:", v)
    if violations:
        print(f"FAILED: {len(violations)} violations", file=sys.stderr)
        sys.exit(1)
    print("PASSED: every promise held", file=sys.stderr)


# Short timeouts and retries (the fakes stall for 3 s), leases that expire
# soon after a kill, and the catch-ups every few seconds: the run settles in
# minutes rather than hours. The schedule is the default one, quicker.
CONFIG = """
[fulfillment]
hold_minutes = 0
request_timeout_secs = 2

[notify]
email = "resend"
http_timeout_secs = 2

[payments]
test_delivery = "never"

[shop]
demo = false

[jobs]
lease_seconds = 30
reap_interval_ms = 1000
backoff_base_ms = 300
backoff_max_ms = 5000

[limits]
cart_creations_per_minute = 0
checkouts_per_minute = 0
webhooks_per_minute = 0


%s
[[schedule]]
name = "fulfillment-catch-up"
cron = "*/30 * * * * *"
kind = "fulfillment.catch_up"
queue = "maintenance"

[[schedule]]
name = "lifecycle-catch-up"
cron = "*/15 * * * * *"
kind = "flows.catch_up"
queue = "maintenance"

[[schedule]]
name = "ops-alerts"
cron = "*/10 * * * * *"
kind = "ops.alerts"
queue = "maintenance"
"""
CATCH_UP_ENTRY = """
[[schedule]]
name = "payments-catch-up"
cron = "*/10 * * * * *"
kind = "payments.catch_up"
queue = "maintenance"
"""
CONFIG = CONFIG % CATCH_UP_ENTRY

if __name__ == "__main__":
    main()
