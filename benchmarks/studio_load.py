"""Studio API under load, on loopback only: a real `likeness serve` in its own process, and
this process as 20 concurrent clients (bounded request counts, stops by itself).

Reports requests/s, p50 and p95 latency and errors for GET /api/v1/jobs and POST /api/v1/verify
of a 1 MP JPEG, and the time from submitting a job to a worker starting it.

Run: .venv/bin/python benchmarks/studio_load.py [--clients 20] [--requests 400] [--verifies 60]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from skimage import data

PASSWORD = "benchmark password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "likeness.cli.main", *args], env=env, input=stdin, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f"likeness {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def timed(client: httpx.Client, method: str, url: str, **kw) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.request(method, url, **kw)
    return time.perf_counter() - start, response.status_code


def hammer(base: str, token: str, method: str, path: str, count: int, clients: int, **kw) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    per = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def one(n: int) -> list[tuple[float, int]]:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            return [timed(client, method, path, **(kw() if callable(kw.get("make")) else kw)) for _ in range(n)] if "make" not in kw \
                else [timed(client, method, path, **kw["make"]()) for _ in range(n)]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for part in pool.map(one, per) for r in part]
    wall = time.perf_counter() - start
    latencies = sorted(t for t, _ in results)
    errors = sum(1 for _, code in results if code >= 400)
    return {"requests": len(results), "rps": len(results) / wall, "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))], "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--verifies", type=int, default=60)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="likeness-load-"))
    env = dict(os.environ, LIKENESS_HOME=str(home), LIKENESS_PASSPHRASE="load vault", LIKENESS_TALENT_PASSPHRASE="load talent pass",
               LIKENESS_SCRYPT_N="1024")
    env.pop("LIKENESS_DATABASE_URL", None)
    portrait = home / "astronaut.png"
    Image.fromarray(data.astronaut()).save(portrait)
    cli(env, "init", "--studio", "ops")
    cli(env, "talent", "keygen", "-o", str(home / "alice.key"))
    cli(env, "identity", "enroll", "alice", str(portrait), "--key", str(home / "alice.key"))
    cli(env, "user", "add", "root", "--password-stdin", stdin=PASSWORD + "\n")
    cli(env, "user", "add", "acme", "--kind", "organisation", "--organisation", "acme", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    cli(env, "user", "add", "alice", "--kind", "talent", "--represents", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "likeness.cli.main", "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        def token(user: str) -> str:
            with httpx.Client(base_url=base) as c:
                csrf = c.post("/api/v1/sessions", json={"username": user, "password": PASSWORD}).json()["csrf_token"]
                return c.post("/api/v1/tokens", json={"name": "load"}, headers={"X-CSRF-Token": csrf}).json()["token"]

        org, talent = token("acme"), token("alice")
        o = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {org}"}, timeout=120)
        t = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {talent}"}, timeout=120)
        t.put("/api/v1/identities/alice/listing", json={"listed": True})
        ask = o.post("/api/v1/licence-requests", json={"identity": "alice", "scopes": ["film"], "expires": "2030-01-01"}).json()
        request_file = home / "request.json"
        request_file.write_text(json.dumps(t.get(f"/api/v1/licence-requests/{ask['id']}").json()["to_sign"]))
        signed = json.loads(cli(env, "sign", str(request_file), "--key", str(home / "alice.key")))
        grant = t.post(f"/api/v1/licence-requests/{ask['id']}/sign", json={"signature": signed["signature"]}).json()
        upload = o.post("/api/v1/uploads", files={"file": ("astronaut.png", portrait.read_bytes(), "image/png")}).json()
        starts = []
        for _ in range(3):
            submitted = time.perf_counter()
            job = o.post("/api/v1/jobs", json={"upload": upload["id"], "identity": "alice", "grant": grant["id"], "scope": "film"}).json()
            while (state := o.get(f"/api/v1/jobs/{job['id']}").json())["state"] == "queued":
                time.sleep(0.02)
            starts.append(time.perf_counter() - submitted)
            while o.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "running":
                time.sleep(0.1)
        rng = np.random.default_rng(0)
        jpeg = io.BytesIO()
        Image.fromarray(np.clip(data.astronaut().repeat(2, 0).repeat(2, 1)[:1000, :1000] + rng.normal(0, 2, (1000, 1000, 3)), 0, 255)
                        .astype(np.uint8)).save(jpeg, "JPEG", quality=90)
        jobs = hammer(base, org, "GET", "/api/v1/jobs", args.requests, args.clients)
        verifies = hammer(base, org, "POST", "/api/v1/verify", args.verifies, args.clients,
                          make=lambda: {"files": {"file": ("photo.jpg", jpeg.getvalue(), "image/jpeg")}})
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"studio load on loopback, {args.clients} concurrent clients ({os.cpu_count()} cores, server and clients on one machine)")
    for name, r in (("GET /api/v1/jobs", jobs), ("POST /api/v1/verify (1 MP JPEG)", verifies)):
        print(f"  {name:34s} {r['requests']:4d} requests  {r['rps']:7.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  errors {r['errors']}")
    print(f"  submit -> worker start: {', '.join(f'{1000 * s:.0f} ms' for s in starts)} (median {1000 * statistics.median(starts):.0f} ms)")


if __name__ == "__main__":
    main()
