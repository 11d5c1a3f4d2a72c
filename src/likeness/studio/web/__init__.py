"""The studio's browser pages: server-rendered Jinja2 templates, one stylesheet and small plain JS
files, all served by likeness itself (no CDN). The pages call the JSON API with ``fetch``.

Pages: ``/`` (start), ``/login``, ``/signup``, ``/verify`` (public), ``/talent`` (talent accounts),
``/studio`` (organisation accounts), ``/operator`` (the operator). A page holds no one's data but
the logged-in account's own name; everything else is fetched by its script. Every page is sent
with ``Cache-Control: no-store`` and a strict Content-Security-Policy (scripts and styles from
``/static`` only). Unknown paths outside ``/api/`` get an HTML 404 that says where to go next.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.convertors import Convertor, register_url_convertor

from likeness.studio.deps import COOKIE, vault_of
from likeness.vault import accounts as parties
from likeness.vault.accounts import Account

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)

HOME_OF = {"talent": "/talent", "organisation": "/studio", "operator": "/operator"}
PAGE_KINDS = {"/talent": "talent", "/studio": "organisation", "/operator": "operator"}
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
                                "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    version: str


def _assets() -> dict[str, Asset]:
    found = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file() and path.suffix in (".js", ".css"):
            body = path.read_bytes()
            kind = "text/javascript" if path.suffix == ".js" else (mimetypes.guess_type(path.name)[0] or "text/plain")
            found[path.name] = Asset(body, f"{kind}; charset=utf-8", hashlib.sha256(body).hexdigest()[:12])
    return found


ASSETS = _assets()


def static_url(name: str) -> str:
    """The URL of a static file, versioned by its content (so it may be cached for good)."""
    return f"/static/{name}?v={ASSETS[name].version}"


templates.globals["static"] = static_url


def _signed_in(request: Request) -> tuple[Account, str] | None:
    """(account, CSRF token) of the page's session cookie, or None (a stale cookie is no session)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return parties.session(vault_of(request), token)


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024
    return str(n)


def render(request: Request, template: str, *, status: int = 200, session: tuple[Account, str] | None = None,
           **context: Any) -> HTMLResponse:
    me, csrf = session if session else (None, "")
    limit = request.app.state.max_upload_bytes
    html = templates.get_template(template).render(
        me=me, csrf=csrf, path=request.url.path, home=HOME_OF.get(me.kind, "/") if me else "/",
        max_upload_bytes=limit, max_upload_human=human_bytes(limit), **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _for(request: Request, page: str, template: str, **context: Any) -> Response:
    """A page for one kind of account: log in first (303 to /login), or a 403 page that says where to go."""
    session = _signed_in(request)
    if session is None:
        return RedirectResponse(f"/login?next={quote(page)}", status_code=303, headers={"Cache-Control": "no-store"})
    me, _ = session
    if me.kind != PAGE_KINDS[page]:
        return render(request, "error.html", status=403, session=session, code=403, page=page, needed=PAGE_KINDS[page])
    return render(request, template, session=session, **context)


@router.get("/", response_class=HTMLResponse)
def start(request: Request) -> Response:
    return render(request, "index.html", session=_signed_in(request))


@router.get("/login", response_class=HTMLResponse)
def login(request: Request) -> Response:
    return render(request, "login.html", session=_signed_in(request))


@router.get("/signup", response_class=HTMLResponse)
def signup(request: Request) -> Response:
    return render(request, "signup.html", session=_signed_in(request), open_signup=request.app.state.open_signup)


@router.get("/verify", response_class=HTMLResponse)
def verify(request: Request) -> Response:
    return render(request, "verify.html", session=_signed_in(request))


@router.get("/talent", response_class=HTMLResponse)
def talent(request: Request) -> Response:
    return _for(request, "/talent", "talent.html")


@router.get("/studio", response_class=HTMLResponse)
def studio(request: Request) -> Response:
    from likeness.consent.grants import SCOPES

    return _for(request, "/studio", "studio.html", scopes=SCOPES)


@router.get("/operator", response_class=HTMLResponse)
def operator(request: Request) -> Response:
    return _for(request, "/operator", "operator.html")


@router.get("/static/{name}")
def asset(name: str, v: str = "") -> Response:
    found = ASSETS.get(name)
    if found is None:
        return Response("no such file\n", status_code=404, media_type="text/plain", headers={"Cache-Control": "no-store"})
    cache = "public, max-age=31536000, immutable" if v == found.version else "no-cache"
    return Response(found.body, media_type=found.media_type,
                    headers={"Cache-Control": cache, "ETag": f'"{found.version}"', "X-Content-Type-Options": "nosniff"})


class _PagePath(Convertor):
    """Any path outside ``/api/`` (so the API keeps its own 404 and 405 answers)."""

    regex = "(?!api(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("likeness_page", _PagePath())


@router.get("/{rest:likeness_page}", response_class=HTMLResponse)
def not_found(request: Request) -> Response:
    """Registered last: an HTML 404 page for any unknown page (``/talent/`` goes to ``/talent``)."""
    path = request.url.path
    if path.endswith("/") and path.rstrip("/") in ("/login", "/signup", "/verify", *PAGE_KINDS):
        return RedirectResponse(path.rstrip("/"), status_code=308)
    return render(request, "error.html", status=404, session=_signed_in(request), code=404)

