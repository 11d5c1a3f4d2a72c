"""``/accounts`` and ``/organisations``: the operator adds parties; an organisation's admin adds its members."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from likeness.studio.deps import kind, logged_in, page, vault_of
from likeness.studio.problems import Problem
from likeness.studio.views import account_view
from likeness.vault import accounts as parties
from likeness.vault.accounts import Account

router = APIRouter(tags=["accounts"])


class NewAccount(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(min_length=10, max_length=1000)
    kind: str = Field(pattern="^(operator|organisation|talent)$")
    organisation: str | None = Field(default=None, max_length=200)
    org_role: str | None = Field(default=None, pattern="^(admin|member)$")


class NewOrganisation(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Representation(BaseModel):
    identity: str = Field(max_length=200)
    role: str = Field(pattern="^(self|guardian|estate|agent)$")


@router.post("/accounts", status_code=201)
def add_account(body: NewAccount, request: Request, me: Account = Depends(kind("operator", "organisation"))) -> dict:
    """The operator adds any account; an organisation admin adds accounts of its own organisation only."""
    if me.kind == "organisation":
        if me.org_role != "admin":
            raise Problem(403, "only an organisation's admin adds its members")
        if body.kind != "organisation" or body.organisation != me.organisation:
            raise Problem(403, f"an admin of {me.organisation!r} adds accounts of {me.organisation!r} only")
    made = parties.add_account(vault_of(request), body.username, body.password, kind=body.kind, organisation=body.organisation,
                               org_role=body.org_role, by=me.username)
    return account_view(made)


@router.get("/accounts")
def list_accounts(request: Request, me: Account = Depends(kind("operator", "organisation", org_role="admin")),
                  paging: tuple[int, int] = Depends(page)) -> dict:
    offset, limit = paging
    found = parties.accounts(vault_of(request), organisation=me.organisation if me.kind == "organisation" else None)
    return {"items": [account_view(a) for a in found[offset:offset + limit]], "offset": offset, "limit": limit, "total": len(found)}


@router.post("/accounts/{username}/identities", status_code=201)
def represent(username: str, body: Representation, request: Request, me: Account = Depends(kind("operator"))) -> dict:
    """Let a talent account act for an identity, as self, guardian, estate or agent."""
    parties.represent(vault_of(request), username, body.identity, body.role, by=me.username)
    return account_view(parties.account(vault_of(request), username=username))  # type: ignore[arg-type]


@router.post("/organisations", status_code=201)
def add_organisation(body: NewOrganisation, request: Request, me: Account = Depends(kind("operator"))) -> dict:
    org = parties.add_organisation(vault_of(request), body.name, by=me.username)
    return {"id": org.id, "name": org.name, "created": org.created}


@router.get("/organisations")
def list_organisations(request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    """The operator sees every organisation; anyone else only their own."""
    offset, limit = paging
    found = [o for o in parties.organisations(vault_of(request)) if me.kind == "operator" or o.name == me.organisation]
    return {"items": [{"id": o.id, "name": o.name, "created": o.created} for o in found[offset:offset + limit]],
            "offset": offset, "limit": limit, "total": len(found)}
