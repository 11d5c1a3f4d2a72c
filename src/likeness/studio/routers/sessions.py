"""``/sessions``, ``/me``, ``/tokens``: logging in (throttled), out, and API tokens for scripts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from likeness.studio.deps import COOKIE, Caller, caller, logged_in, vault_of
from likeness.studio.problems import Problem
from likeness.studio.views import account_view
from likeness.vault import accounts as parties
from likeness.vault.accounts import SESSION_HOURS, Account

router = APIRouter(tags=["sessions"])


class Login(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class TokenRequest(BaseModel):
    name: str = Field(default="script", max_length=200)


@router.post("/sessions")
def login(body: Login, request: Request, response: Response) -> dict:
    """Log in: sets an HttpOnly, SameSite=Strict session cookie and returns the CSRF token to send back."""
    vault = vault_of(request)
    if parties.throttled(vault, body.username):
        raise Problem(429, "too many failed logins for this account: wait five minutes", headers={"Retry-After": "300"})
    who = parties.check_password(vault, body.username, body.password)
    if who is None:
        raise Problem(401, "wrong username or password")
    token, csrf = parties.open_session(vault, who)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=SESSION_HOURS * 3600, path="/")
    return {"account": account_view(who), "csrf_token": csrf}


@router.post("/signup", status_code=201)
def signup(body: Login, request: Request) -> dict:
    """A talent makes their own account (the operator adds organisations and their admins)."""
    if not request.app.state.open_signup:
        raise Problem(403, "this studio does not take sign-ups: ask its operator for an account")
    made = parties.add_account(vault_of(request), body.username, body.password, kind="talent", by=body.username)
    return account_view(made)


@router.delete("/sessions")
def logout(request: Request, response: Response, who: Caller | None = Depends(caller)) -> dict:
    token = request.cookies.get(COOKIE)
    if token:
        parties.close_session(vault_of(request), token)
    response.delete_cookie(COOKIE, path="/")
    return {"logged_out": who is not None}


@router.get("/me")
def me(account: Account = Depends(logged_in)) -> dict:
    return account_view(account)


@router.post("/tokens", status_code=201)
def make_token(body: TokenRequest, request: Request, account: Account = Depends(logged_in)) -> dict:
    """An API token for scripts: shown once, stored hashed."""
    return {"token": parties.new_token(vault_of(request), account, body.name), "name": body.name}
