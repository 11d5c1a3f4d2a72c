"""Errors as RFC 9457 problem+json, with one line a person can act on, never a traceback."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request  # noqa: F401 - HTTPException: what Problem extends
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from likeness.errors import ConsentError, InputError, LikenessError, VaultError

MEDIA_TYPE = "application/problem+json"


class Problem(HTTPException):
    """An HTTP error with a title and a detail line (raised by routers and dependencies)."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.title = title


def consent_refused(decision, organisation: str, grant_id: str) -> Problem:
    """The 403 for a refused job. Under another organisation's grant (its id is printed in every
    file made under it) it says nothing of whose face, which organisation or what state the grant
    is in; the caller's audit entry keeps the reasons."""
    if decision.grant is None or decision.grant.grantee != organisation:
        return Problem(403, f"refused: {organisation} holds no grant {grant_id}")
    return Problem(403, "refused: " + "; ".join(decision.reasons))


def problem(status: int, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "about:blank", "title": title or _TITLES.get(status, "Error"), "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_TITLES = {400: "Bad request", 401: "Not logged in", 403: "Forbidden", 404: "Not found", 409: "Conflict", 413: "Too large",
           415: "Unsupported media", 422: "Invalid input", 429: "Too many attempts", 500: "Internal error", 503: "Unavailable"}


def install(app: FastAPI) -> None:
    """Map every error a request can meet to problem+json."""

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and the router's own 404/405
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), title=getattr(exc, "title", None), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return problem(422, f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(LikenessError)
    async def _likeness(_request: Request, exc: LikenessError) -> JSONResponse:
        status = 403 if isinstance(exc, ConsentError) else 400 if isinstance(exc, InputError) else 503 if isinstance(exc, VaultError) else 500
        return problem(status, str(exc))

    @app.exception_handler(Exception)
    async def _any(_request: Request, exc: Exception) -> JSONResponse:
        return problem(500, f"internal error: {type(exc).__name__}")
