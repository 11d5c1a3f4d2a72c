"""three.js in headless Chromium, served from tests/js/node_modules on localhost: what draws an avatar for the
tests and ``benchmarks/avatar.py``.

Debian's ``chromium`` through Playwright (which downloads no browser), software WebGL (SwiftShader),
no network: the page (``tests/js/view.html``) imports the pinned three.js by a relative import map.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

JS = Path(__file__).resolve().parent / "js"
CHROMIUM = os.environ.get("LIKENESS_TEST_CHROMIUM", "/usr/bin/chromium")
GL_ARGS = ["--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class Viewer:
    """A served copy of the page and a launched browser; ``shoot`` draws one GLB and saves the canvas.

    Use as a context manager; needs ``tests/js/node_modules`` (``npm ci``) and Chromium.
    """

    def __init__(self, *, size: int = 512) -> None:
        self.size = size

    def __enter__(self) -> "Viewer":
        from playwright.sync_api import sync_playwright

        self._folder = tempfile.TemporaryDirectory(prefix="likeness-viewer-")
        self.root = Path(self._folder.name)
        shutil.copy(JS / "view.html", self.root / "view.html")
        (self.root / "node_modules").symlink_to(JS / "node_modules", target_is_directory=True)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(self.root)))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=GL_ARGS)
        return self

    def __exit__(self, *exc: object) -> None:
        self._browser.close()
        self._playwright.stop()
        self._server.shutdown()
        self._folder.cleanup()

    def shoot(self, glb: Path, png: Path, *, yaw: float = 0.0, morphs: dict[str, float] | None = None) -> dict[str, Any]:
        """Draw ``glb`` turned ``yaw`` degrees (morph weights applied), save the canvas as ``png``; what the loader found."""
        name = f"{abs(hash((str(glb), yaw))):x}.glb"
        shutil.copy(glb, self.root / name)
        page = self._browser.new_page(viewport={"width": self.size, "height": self.size})
        try:
            page.goto(f"{self.url}/view.html?file={name}&size={self.size}&yaw={yaw}&morphs={json.dumps(morphs or {})}")
            page.wait_for_function("window.avatarReady === true", timeout=60_000)
            info = page.evaluate("window.avatarInfo")
            png.parent.mkdir(parents=True, exist_ok=True)
            page.locator("canvas").screenshot(path=str(png))
        finally:
            page.close()
            (self.root / name).unlink(missing_ok=True)
        return info
