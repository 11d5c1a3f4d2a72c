"""Weight and first render of the browser pages, measured in a real headless Chromium.

Starts its own studio (a fresh vault in a temporary folder, uvicorn on 127.0.0.1 in a thread, as
tests/test_web_story.py does) and loads /verify (public) and /studio (an organisation logged in)
in fresh browser contexts (a cold cache), then once more in the same context (a warm cache).

Reports, median of --runs: KB transferred by the page and its static files (navigation +
``performance.getEntriesByType('resource')`` transferSize, headers included), KB of the API calls
its script makes, and first-contentful-paint (``performance.getEntriesByType('paint')``).

Run: .venv/bin/python benchmarks/web_pages.py [--runs 5]   (LIKENESS_TEST_CHROMIUM, default /usr/bin/chromium)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from likeness.settings import Settings
from likeness.studio.app import create_app
from likeness.vault import accounts as parties
from likeness.vault import init_vault

PASSWORD = "benchmark password"
MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const isApi = (r) => new URL(r.name).pathname.startsWith('/api/');
  const sum = (list) => list.reduce((a, r) => a + r.transferSize, 0);
  const fcp = performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint');
  return { page: nav.transferSize + sum(res.filter((r) => !isApi(r))), api: sum(res.filter(isApi)),
           files: 1 + res.filter((r) => !isApi(r)).length, fcp: fcp ? fcp.startTime : null };
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app) -> tuple[uvicorn.Server, str]:  # noqa: ANN001
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def load(context, url: str) -> dict:  # noqa: ANN001
    page = context.new_page()
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector("body")
    found = page.evaluate(MEASURE)
    page.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    chromium = os.environ.get("LIKENESS_TEST_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).is_file():
        raise SystemExit(f"no Chromium at {chromium} (apt-get install chromium, or set LIKENESS_TEST_CHROMIUM)")
    home = Path(tempfile.mkdtemp(prefix="likeness-web-"))
    vault = init_vault(Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="bench"), studio="bench", scrypt_n=1024)
    parties.add_organisation(vault, "acme", by="bench")
    parties.add_account(vault, "bob", PASSWORD, kind="organisation", organisation="acme", org_role="member", by="bench")
    server, base = serve(create_app(vault))
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            for path in ("/verify", "/studio"):
                for _ in range(args.runs):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    if path == "/studio":
                        assert context.request.post(f"{base}/api/v1/sessions", data={"username": "bob", "password": PASSWORD}).ok
                    results.setdefault((path, "cold"), []).append(load(context, base + path))
                    results.setdefault((path, "warm"), []).append(load(context, base + path))
                    context.close()
            browser.close()
    finally:
        server.should_exit = True
        vault.close()
    print(f"Chromium headless, loopback, 1280 px, median of {args.runs}")
    print(f"{'page':9} {'cache':5} {'files':>5} {'page KB':>8} {'API KB':>7} {'FCP ms':>7}")
    for (path, cache), runs in results.items():
        med = {k: statistics.median(r[k] for r in runs if r[k] is not None) for k in ("page", "api", "files", "fcp")}
        print(f"{path:9} {cache:5} {med['files']:5.0f} {med['page'] / 1024:8.1f} {med['api'] / 1024:7.1f} {med['fcp']:7.0f}")


if __name__ == "__main__":
    main()
