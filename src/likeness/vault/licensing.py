"""Listings and licence requests as stored: which identities organisations may see and ask for,
and the requests waiting for a talent's signature (``consent.licensing`` decides them)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from likeness.errors import InputError
from likeness.vault import audit as audit_log
from likeness.vault import schema

if TYPE_CHECKING:
    from likeness.vault.store import Vault


@dataclass(frozen=True)
class Listing:
    identity: str
    listed: bool
    named: bool
    max_active: int | None


@dataclass(frozen=True)
class LicenceRequest:
    id: str
    organisation: str
    identity: str
    account: str
    terms: dict[str, Any]
    payload: str  # the grant payload the talent is asked to sign, exactly
    state: str  # pending | signed | declined
    reason: str | None
    created: str
    decided: str | None


def set_listing(vault: "Vault", identity: str, *, listed: bool, named: bool, max_active: int | None, by: str | None) -> Listing:
    if max_active is not None and max_active < 0:
        raise InputError("max_active must be 0 or more")
    with vault.transaction() as connection:
        ident = vault.identity_in(connection, identity)
        exists = connection.execute(select(schema.listings.c.identity_id).where(schema.listings.c.identity_id == ident.id)).first()
        values = {"listed": int(listed), "named": int(named), "max_active": max_active}
        if exists:
            connection.execute(update(schema.listings).where(schema.listings.c.identity_id == ident.id).values(**values))
        else:
            connection.execute(insert(schema.listings).values(identity_id=ident.id, **values))
        vault.append(connection, "identity.listing", {"identity": identity, **values, "by": by})
    return Listing(identity, listed, named, max_active)


def listing(vault: "Vault", identity: str) -> Listing:
    """An identity's listing; unlisted (and unnamed) unless the talent said otherwise."""
    with vault.transaction() as connection:
        ident = vault.identity_in(connection, identity)
        row = connection.execute(select(schema.listings).where(schema.listings.c.identity_id == ident.id)).one_or_none()
    if row is None:
        return Listing(identity, False, False, None)
    return Listing(identity, bool(row.listed), bool(row.named), row.max_active)


def listed_identities(vault: "Vault") -> list[str]:
    with vault.transaction() as connection:
        rows = connection.execute(
            select(schema.identities.c.name)
            .join(schema.listings, schema.listings.c.identity_id == schema.identities.c.id)
            .where(schema.listings.c.listed == 1, schema.identities.c.status == "active")
            .order_by(schema.identities.c.name)
        ).scalars().all()
    return list(rows)


def add_request(vault: "Vault", *, organisation: str, identity: str, account: str, terms: dict[str, Any], payload: str) -> LicenceRequest:
    request_id = str(uuid.uuid4())
    with vault.transaction() as connection:
        ident = vault.identity_in(connection, identity)
        org = connection.execute(select(schema.organisations.c.id).where(schema.organisations.c.name == organisation)).scalar_one()
        acc = connection.execute(select(schema.accounts.c.id).where(schema.accounts.c.username == account)).scalar_one()
        connection.execute(insert(schema.licence_requests).values(
            id=request_id, organisation_id=org, identity_id=ident.id, account_id=acc, terms=json.dumps(terms, sort_keys=True),
            payload=payload, state="pending", created=audit_log.now_iso()))
        vault.append(connection, "licence.request", {"request": request_id, "identity": identity, "organisation": organisation,
                                                     "by": account, "scopes": terms.get("scopes"), "max_renders": terms.get("max_renders")})
    return get_request(vault, request_id)  # type: ignore[return-value]


def _query():  # noqa: ANN202
    r = schema.licence_requests
    return (
        select(r, schema.organisations.c.name.label("org_name"), schema.identities.c.name.label("identity_name"),
               schema.accounts.c.username.label("account_name"))
        .join(schema.organisations, schema.organisations.c.id == r.c.organisation_id)
        .join(schema.identities, schema.identities.c.id == r.c.identity_id)
        .join(schema.accounts, schema.accounts.c.id == r.c.account_id)
    )


def _from_row(row: Any) -> LicenceRequest:
    return LicenceRequest(row.id, row.org_name, row.identity_name, row.account_name, json.loads(row.terms), row.payload,
                          row.state, row.reason, row.created, row.decided)


def get_request(vault: "Vault", request_id: str) -> LicenceRequest | None:
    with vault.transaction() as connection:
        row = connection.execute(_query().where(schema.licence_requests.c.id == request_id)).one_or_none()
    return _from_row(row) if row else None


def list_requests(vault: "Vault", *, organisation: str | None = None, identities: list[str] | None = None,
                  limit: int = 50, offset: int = 0) -> list[LicenceRequest]:
    query = _query().order_by(schema.licence_requests.c.created.desc()).limit(limit).offset(offset)
    if organisation is not None:
        query = query.where(schema.organisations.c.name == organisation)
    if identities is not None:
        query = query.where(schema.identities.c.name.in_(identities))
    with vault.transaction() as connection:
        return [_from_row(row) for row in connection.execute(query).all()]


def decide(vault: "Vault", request_id: str, *, state: str, reason: str | None, by: str) -> bool:
    """Move a pending request to signed or declined; False when it was already decided (idempotent callers)."""
    found = get_request(vault, request_id)
    with vault.transaction() as connection:
        done = connection.execute(
            update(schema.licence_requests)
            .where(schema.licence_requests.c.id == request_id, schema.licence_requests.c.state == "pending")
            .values(state=state, reason=reason, decided=audit_log.now_iso())
        ).rowcount
        if done:
            vault.append(connection, f"licence.{state}", {"request": request_id, "identity": found.identity if found else None,
                                                          "organisation": found.organisation if found else None, "by": by, "reason": reason})
    return bool(done)
