"""``/licence-requests`` and ``/grants``: organisations ask, talents sign or decline, talents revoke.

The server hands out the exact text to sign; signatures come back from the talent's own
machine (``likeness sign``) or browser, and are checked against the identity's pinned key.
"""

from __future__ import annotations


from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from likeness.consent import list_grants, load_grant
from likeness.consent import licensing as licences
from likeness.consent.grants import Signed
from likeness.studio.deps import kind, logged_in, page, vault_of
from likeness.studio.problems import Problem
from likeness.studio.routers.identities import visible
from likeness.studio.views import grant_view, request_view
from likeness.vault import licensing
from likeness.vault.accounts import Account

router = APIRouter(tags=["licences"])


class NewRequest(BaseModel):
    identity: str = Field(max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=6)
    expires: str = Field(max_length=40)
    not_before: str | None = Field(default=None, max_length=40)
    max_renders: int | None = Field(default=None, ge=1)
    visible_label: bool = False
    approval: bool = False
    purpose: str = Field(default="", max_length=2000)
    note: str = Field(default="", max_length=2000)


class Signature(BaseModel):
    signature: str = Field(max_length=200)


class Decline(BaseModel):
    reason: str = Field(default="", max_length=2000)


class SignedRevocation(BaseModel):
    payload: str = Field(max_length=4000)
    signature: str = Field(max_length=200)


def _request_for(request: Request, request_id: str, me: Account):  # noqa: ANN202
    found = licensing.get_request(vault_of(request), request_id)
    allowed = found is not None and (me.kind == "operator" or me.represents(found.identity)
                                     or (me.kind == "organisation" and found.organisation == me.organisation))
    if not allowed:
        raise Problem(404, f"no licence request {request_id}")
    return found


@router.post("/licence-requests", status_code=201)
def ask(body: NewRequest, request: Request, me: Account = Depends(kind("organisation"))) -> dict:
    vault = vault_of(request)
    if not visible(vault, me, body.identity):
        raise Problem(404, f"no listed identity {body.identity!r}")
    made = licences.request_licence(vault, organisation=me.organisation, identity=body.identity, account=me.username,
                                    scopes=body.scopes, expires=body.expires, not_before=body.not_before,
                                    max_renders=body.max_renders, visible_label=body.visible_label, approval=body.approval,
                                    purpose=body.purpose, note=body.note)
    return request_view(made)


@router.get("/licence-requests")
def list_requests(request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    offset, limit = paging
    vault = vault_of(request)
    if me.kind == "organisation":
        found = licensing.list_requests(vault, organisation=me.organisation, limit=limit, offset=offset)
    elif me.kind == "talent":
        found = licensing.list_requests(vault, identities=list(me.identities), limit=limit, offset=offset)
    else:
        found = licensing.list_requests(vault, limit=limit, offset=offset)
    return {"items": [request_view(r) for r in found], "offset": offset, "limit": limit}


@router.get("/licence-requests/{request_id}")
def show_request(request_id: str, request: Request, me: Account = Depends(logged_in)) -> dict:
    return request_view(_request_for(request, request_id, me))


@router.post("/licence-requests/{request_id}/sign")
def sign(request_id: str, body: Signature, request: Request, me: Account = Depends(kind("talent"))) -> dict:
    """The talent's signature over the request's payload: the grant is stored once it verifies."""
    found = _request_for(request, request_id, me)
    if not me.represents(found.identity):
        raise Problem(404, f"no licence request {request_id}")
    grant = licences.sign_request(vault_of(request), request_id, body.signature, by=me.username)
    return grant_view(*load_grant(vault_of(request), grant.id))


@router.post("/licence-requests/{request_id}/decline")
def decline(request_id: str, body: Decline, request: Request, me: Account = Depends(kind("talent"))) -> dict:
    found = _request_for(request, request_id, me)
    if not me.represents(found.identity):
        raise Problem(404, f"no licence request {request_id}")
    licences.decline_request(vault_of(request), request_id, body.reason, by=me.username)
    return request_view(licensing.get_request(vault_of(request), request_id))


def _grants_for(vault, me: Account) -> list:  # noqa: ANN001
    pairs = list_grants(vault)
    if me.kind == "operator":
        return pairs
    if me.kind == "talent":
        return [(g, r) for g, r in pairs if me.represents(r.identity)]
    return [(g, r) for g, r in pairs if g is not None and g.grantee == me.organisation]


@router.get("/grants")
def grants(request: Request, me: Account = Depends(logged_in), paging: tuple[int, int] = Depends(page)) -> dict:
    offset, limit = paging
    found = _grants_for(vault_of(request), me)
    return {"items": [grant_view(g, r) for g, r in found[offset:offset + limit]], "offset": offset, "limit": limit, "total": len(found)}


def _grant_for(request: Request, grant_id: str, me: Account):  # noqa: ANN202
    for g, r in _grants_for(vault_of(request), me):
        if r.id == grant_id:
            return g, r
    raise Problem(404, f"no grant {grant_id}")


@router.get("/grants/{grant_id}")
def show_grant(grant_id: str, request: Request, me: Account = Depends(logged_in)) -> dict:
    return grant_view(*_grant_for(request, grant_id, me))


@router.get("/grants/{grant_id}/revocation")
def revocation_to_sign(grant_id: str, request: Request, reason: str = "", me: Account = Depends(kind("talent"))) -> dict:
    _grant_for(request, grant_id, me)
    return licences.signable(licences.revocation_payload(vault_of(request), grant_id, reason))


@router.post("/grants/{grant_id}/revoke")
def revoke(grant_id: str, body: SignedRevocation, request: Request, me: Account = Depends(kind("talent"))) -> dict:
    """A revocation the talent signed: renders under the grant are refused from now on (running ones before sealing)."""
    _grant_for(request, grant_id, me)
    revocation = licences.accept_revocation(vault_of(request), grant_id, Signed(body.payload, body.signature), by=me.username)
    return {"grant": grant_id, "revoked": revocation.revoked.isoformat(), "head": vault_of(request).signed_head()}


