"""``/audit``: the operator reads the chain; the operator and talents take signed heads to keep."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Depends, Request

from likeness.studio.deps import kind, page, vault_of
from likeness.vault.accounts import Account

router = APIRouter(tags=["audit"])


@router.get("/audit")
def entries(request: Request, me: Account = Depends(kind("operator")), paging: tuple[int, int] = Depends(page)) -> dict:
    offset, limit = paging
    rows = vault_of(request).audit_entries()
    return {"items": [dataclasses.asdict(e) for e in rows[offset:offset + limit]], "offset": offset, "limit": limit, "total": len(rows)}


@router.get("/audit/head")
def head(request: Request, me: Account = Depends(kind("operator", "talent"))) -> dict:
    """A signed head (sequence, hash, time) to keep; `likeness audit check` proves the chain extends it."""
    return vault_of(request).signed_head()


@router.get("/audit/verify")
def verify_chain(request: Request, me: Account = Depends(kind("operator"))) -> dict:
    return dataclasses.asdict(vault_of(request).verify_audit())
