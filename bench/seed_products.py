#!/usr/bin/env python3
"""Adds N generated products (2 variants each) through the admin API.

usage: seed_products.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD N
"""
import http.client
import json
import sys
import urllib.parse

base, email, password, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)


def call(method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None


token = call("POST", "/api/store/auth/login", {"email": email, "password": password})["token"]
for i in range(n):
    call(
        "POST",
        "/api/admin/products",
        {
            "title": f"Generated Print {i:04d}",
            "description": "A generated product for benchmarks.",
            "status": "published",
            "product_type": "print",
            "option_names": ["size"],
            "variants": [
                {"sku": f"GEN-{i:04d}-S", "option_values": {"size": "8x10in"}, "price": {"amount": 1500 + i % 500, "currency": "USD"}},
                {"sku": f"GEN-{i:04d}-L", "option_values": {"size": "12x16in"}, "price": {"amount": 2500 + i % 500, "currency": "USD"}},
            ],
        },
        token,
    )
    if (i + 1) % 250 == 0:
        print(f"  {i + 1}/{n} products", file=sys.stderr)
