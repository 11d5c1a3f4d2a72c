"""Who is asking: the account behind a session cookie or an API token, as FastAPI dependencies.

Cookie sessions are HttpOnly and SameSite=Strict, and every state-changing request made with
one must carry its CSRF token (header ``X-CSRF-Token``); API tokens (``Authorization: Bearer``)
need none, since a browser never sends them on its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request

from likeness.studio.problems import Problem
from likeness.vault import accounts as parties
from likeness.vault.accounts import Account

COOKIE = "likeness_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Caller:
    account: Account
    via: str  # "session" | "token"


def vault_of(request: Request):  # noqa: ANN201 - the app's Vault
    return request.app.state.vault


def caller(request: Request) -> Caller | None:
    """The logged-in account, or None for the public; a bad CSRF token is refused here."""
    vault = vault_of(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        who = parties.token_account(vault, header[7:].strip())
        if who is None:
            raise Problem(401, "the API token is unknown or was revoked")
        return Caller(who, "token")
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    found = parties.session(vault, token)
    if found is None:
        raise Problem(401, "the session expired or was closed: log in again")
    who, csrf = found
    if request.method not in SAFE_METHODS and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf):
        raise Problem(403, f"missing or wrong CSRF token (send the {CSRF_HEADER} header you got at login)")
    return Caller(who, "session")


def logged_in(who: Caller | None = Depends(caller)) -> Account:
    if who is None:
        raise Problem(401, "log in first (POST /api/v1/sessions) or send an API token")
    return who.account


def kind(*kinds: str, org_role: str | None = None) -> Callable[..., Account]:
    """A dependency admitting only accounts of these kinds (and, for organisations, this role)."""

    def admit(account: Account = Depends(logged_in)) -> Account:
        if account.kind not in kinds or (org_role and account.kind == "organisation" and account.org_role != org_role):
            raise Problem(403, f"this needs a{'n' if kinds[0][0] in 'aeiou' else ''} {' or '.join(kinds)} account"
                          + (f" ({org_role})" if org_role else ""))
        return account

    return admit


def page(offset: int = 0, limit: int = 50) -> tuple[int, int]:
    """Pagination of every list: ``offset`` and ``limit`` (1-200)."""
    if offset < 0 or not 1 <= limit <= 200:
        raise Problem(400, "offset must be 0 or more and limit 1-200")
    return offset, limit
