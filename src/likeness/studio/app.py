"""The studio server: one FastAPI app over the same library and vault as the CLI.

Every render still goes through ``render.render`` (in a worker); the app only builds jobs,
checks who may do what, and serves what each party may see.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from likeness.studio import problems, web
from likeness.studio.problems import Problem
from likeness.studio.routers import accounts, audit, avatars, identities, jobs, licences, outputs, sessions, uploads, verify

API = "/api/v1"
MAX_UPLOAD_BYTES = 2 << 30  # 2 GiB


def create_app(vault: Any, *, max_upload_bytes: int = MAX_UPLOAD_BYTES, open_signup: bool = True) -> FastAPI:
    """The app for an open ``vault`` (the caller owns and closes it)."""
    from likeness import __version__

    app = FastAPI(title="likeness studio", version=__version__, openapi_url=f"{API}/openapi.json", docs_url=f"{API}/docs",
                  redoc_url=None)
    app.state.vault = vault
    app.state.max_upload_bytes = max_upload_bytes
    app.state.open_signup = open_signup  # talents may make their own accounts
    app.state.face_check = FaceCheck()
    problems.install(app)
    for module in (sessions, accounts, identities, licences, uploads, jobs, avatars, outputs, audit, verify):
        app.include_router(module.router, prefix=API)

    @app.get(f"{API}/health", tags=["health"])
    def health() -> dict:
        return {"ok": True, "vault": vault.vault_id, "studio": vault.studio}

    app.include_router(web.router)  # the browser pages (last: its catch-all answers unknown pages with an HTML 404)
    app.add_middleware(NoStore)
    return app


class NoStore:
    """``Cache-Control: no-store`` on every API response that does not say otherwise: they show
    private data (grants, jobs, faces' identities), which no browser or proxy cache may keep.
    Pure ASGI, so the SSE stream is not buffered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API + "/"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_no_store)


class FaceCheck:
    """Refuses a target without a face before it is queued (one detector, loaded on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._analyzer = None

    def using(self, work):  # noqa: ANN001, ANN201
        """Run ``work(analyzer)`` with the shared detector (one request at a time)."""
        with self._lock:
            if self._analyzer is None:
                from likeness.faces import FaceAnalyzer

                self._analyzer = FaceAnalyzer()
            return work(self._analyzer)

    def __call__(self, path: Path) -> None:
        self.using(lambda analyzer: self._check(analyzer, path))

    def _check(self, analyzer, path: Path) -> None:  # noqa: ANN001
        from likeness import media

        if True:
            info = media.probe(path)
            if info.kind == "image":
                frames = [media.read_image(path)]
            else:
                step, frames = max(1, int(info.frame_count or 1) // 6), []
                with media.read_frames(path) as reader:
                    for frame in reader:
                        if frame.index % step == 0:
                            frames.append(frame.image)
                        if len(frames) >= 6:
                            break
            if not frames:
                raise Problem(422, "no frame of the target could be decoded: nothing was queued")
            if not any(analyzer.detect(frame) for frame in frames):
                raise Problem(422, "no face found in the target: nothing was queued")
