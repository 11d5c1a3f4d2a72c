"""``/identities``: organisations see listed identities only (an unlisted one does not exist for
them); a talent sees and lists their own; the operator sees all."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from likeness.studio.deps import logged_in, page, vault_of
from likeness.studio.problems import Problem
from likeness.vault import licensing
from likeness.vault.accounts import Account

router = APIRouter(tags=["identities"])


class ListingBody(BaseModel):
    listed: bool
    named: bool = False
    max_active: int | None = Field(default=None, ge=0)


def visible(vault, me: Account, name: str) -> bool:  # noqa: ANN001
    """Whether ``me`` may know that identity ``name`` exists."""
    if me.kind == "operator":
        return True
    if me.kind == "talent":
        return me.represents(name)
    return name in licensing.listed_identities(vault)


def _view(vault, name: str, me: Account) -> dict:  # noqa: ANN001
    ident = vault.identity(name)
    data = {"name": ident.name, "role": ident.role, "owner_key": ident.fingerprint}
    if me.kind != "organisation":
        listing = licensing.listing(vault, name)
        data.update(created=ident.created, items=ident.items, coverage=ident.coverage.as_dict(),
                    listing={"listed": listing.listed, "named": listing.named, "max_active": listing.max_active})
    return data


@router.get("/identities")
def list_identities(request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    vault = vault_of(request)
    names = [i.name for i in vault.identities() if visible(vault, me, i.name)]
    offset, limit = paging
    return {"items": [_view(vault, n, me) for n in names[offset:offset + limit]], "offset": offset, "limit": limit, "total": len(names)}


@router.get("/identities/{name}")
def show_identity(name: str, request: Request, me: Account = Depends(logged_in)) -> dict:
    vault = vault_of(request)
    if not visible(vault, me, name) or name not in {i.name for i in vault.identities()}:
        raise Problem(404, f"no identity {name!r}")
    return _view(vault, name, me)


@router.put("/identities/{name}/listing")
def set_listing(name: str, body: ListingBody, request: Request, me: Account = Depends(logged_in)) -> dict:
    """A talent lists or unlists their identity, chooses to be named on verify, and caps active licences."""
    if not me.represents(name):
        raise Problem(404 if me.kind == "organisation" else 403, f"no identity {name!r} you represent")
    found = licensing.set_listing(vault_of(request), name, listed=body.listed, named=body.named, max_active=body.max_active, by=me.username)
    return {"identity": name, "listed": found.listed, "named": found.named, "max_active": found.max_active}


@router.get("/identities/{name}/history")
def history(name: str, request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    """Every audited use of and decision about ``name`` (listing, requests, grants, renders, revocations): the talent's to read."""
    if not (me.kind == "operator" or me.represents(name)):
        raise Problem(404, f"no identity {name!r}")
    import dataclasses

    entries = [e for e in vault_of(request).audit_entries() if e.data.get("identity") == name]
    offset, limit = paging
    return {"items": [dataclasses.asdict(e) for e in entries[offset:offset + limit]], "offset": offset, "limit": limit, "total": len(entries)}
