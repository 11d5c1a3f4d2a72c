"""Licence requests: an organisation asks, the talent decides by signing (or declining).

The server builds the exact grant payload the talent is asked to sign, so what they sign is what
the request said; their signature is checked against the identity's pinned key before the
grant is stored. The talent's private key never reaches the server: they sign the payload on
their own machine (``likeness sign``) or in their browser. Revocations arrive the same way.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from typing import Any

from likeness.consent.grants import SCOPES, Grant, Revocation, Signed, _grant_audit, parse_when
from likeness.errors import ConsentError, InputError
from likeness.vault import Vault
from likeness.vault import licensing as rows
from likeness.vault.audit import canonical
from likeness.vault.talent_keys import read_signed


def active_licences(vault: Vault, identity: str, *, now: datetime | None = None) -> int:
    """Grants of ``identity`` neither revoked nor expired: what a talent's cap counts."""
    now = now or datetime.now(timezone.utc)
    count = 0
    for record in vault.grant_records(identity):
        try:
            grant = Grant.from_payload(json.loads(record.payload))
        except (ValueError, ConsentError):
            continue
        if record.revocation is None and grant.expires > now:
            count += 1
    return count


def request_licence(
    vault: Vault,
    *,
    organisation: str,
    identity: str,
    account: str,
    scopes: list[str],
    expires: str | datetime | date,
    not_before: str | datetime | date | None = None,
    max_renders: int | None = None,
    visible_label: bool = False,
    approval: bool = False,
    purpose: str = "",
    note: str = "",
) -> rows.LicenceRequest:
    """Ask for a licence on a listed identity; refused (as if it did not exist) when unlisted."""
    try:
        listing = rows.listing(vault, identity)
    except InputError:
        listing = None
    if listing is None or not listing.listed:
        raise InputError(f"no listed identity {identity!r}")  # an unlisted identity does not exist for an organisation
    if listing.max_active is not None and active_licences(vault, identity) >= listing.max_active:
        raise ConsentError(f"{identity!r} takes no more licences now ({listing.max_active} active at most, the talent's choice)")
    scopes = list(dict.fromkeys(s.strip().lower() for s in scopes))
    if not scopes or any(s not in SCOPES for s in scopes):
        raise InputError(f"scopes must be one or more of {', '.join(SCOPES)}")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start, end = (parse_when(not_before) if not_before is not None else now), parse_when(expires)
    if end <= max(start, now):
        raise InputError("the licence would expire before it starts")
    if max_renders is not None and (not isinstance(max_renders, int) or max_renders < 1):
        raise InputError("max_renders must be 1 or more")
    ident = vault.identity(identity)
    grant = Grant(
        id=str(uuid.uuid4()), identity=ident.name, grantee=organisation, scopes=tuple(scopes), not_before=start, expires=end,
        max_renders=max_renders, visible_label=bool(visible_label), signer_role=ident.role, note=str(note)[:2000], created=now,
        identity_id=ident.id, talent_key=ident.fingerprint, vault=vault.vault_id, approval=bool(approval),
    )
    payload = canonical(grant.payload()).decode("utf-8")
    terms = {"scopes": scopes, "not_before": start.isoformat(), "expires": end.isoformat(), "max_renders": max_renders,
             "visible_label": bool(visible_label), "approval": bool(approval), "purpose": str(purpose)[:2000], "note": str(note)[:2000],
             "grant_id": grant.id}
    return rows.add_request(vault, organisation=organisation, identity=identity, account=account, terms=terms, payload=payload)


def sign_request(vault: Vault, request_id: str, signature: str, *, by: str) -> Grant:
    """Store the grant the talent signed for this request (a second identical call returns it again)."""
    request = rows.get_request(vault, request_id)
    if request is None:
        raise InputError(f"no licence request {request_id}")
    grant = Grant.from_payload(json.loads(request.payload))
    if request.state == "signed" and vault.grant_record(grant.id) is not None:
        return grant  # a double click
    if request.state != "pending":
        raise InputError(f"licence request {request_id} was already {request.state}")
    ident = vault.identity(request.identity)
    if read_signed(request.payload, signature, ident.owner_public) is None:
        raise ConsentError(f"the signature does not verify against {request.identity!r}'s key {ident.fingerprint[:16]} (forged, or another payload)")
    listing = rows.listing(vault, request.identity)
    if listing.max_active is not None and active_licences(vault, request.identity) >= listing.max_active:
        raise ConsentError(f"{request.identity!r} already has {listing.max_active} active licences (the talent's cap)")
    vault.store_grant(request.identity, grant.id, request.payload, signature, grant.max_renders,
                      dict(_grant_audit(grant), request=request_id, by=by))
    rows.decide(vault, request_id, state="signed", reason=None, by=by)
    return grant


def decline_request(vault: Vault, request_id: str, reason: str, *, by: str) -> None:
    request = rows.get_request(vault, request_id)
    if request is None:
        raise InputError(f"no licence request {request_id}")
    if not rows.decide(vault, request_id, state="declined", reason=str(reason)[:2000], by=by) and request.state != "declined":
        raise InputError(f"licence request {request_id} was already {request.state}")


def revocation_payload(vault: Vault, grant_id: str, reason: str = "") -> str:
    """The revocation text for the talent to sign (canonical JSON)."""
    record = vault.grant_record(grant_id)
    if record is None:
        raise InputError(f"no grant {grant_id}")
    revocation = Revocation(grant_id, record.identity, datetime.now(timezone.utc).replace(microsecond=0), str(reason)[:2000])
    return canonical(revocation.payload()).decode("utf-8")


def accept_revocation(vault: Vault, grant_id: str, signed: Signed, *, by: str) -> Revocation:
    """Store a revocation the talent signed; it takes effect at once (idempotent)."""
    record = vault.grant_record(grant_id)
    if record is None:
        raise InputError(f"no grant {grant_id}")
    data = read_signed(signed.payload, signed.signature, record.owner_public)
    if data is None:
        raise ConsentError("the revocation's signature does not verify against the talent's key")
    revocation = Revocation.from_payload(data)
    if revocation.grant_id != grant_id:
        raise InputError(f"the signed revocation is for grant {revocation.grant_id}, not {grant_id}")
    if record.revocation is None:
        vault.store_revocation(grant_id, signed.payload, signed.signature,
                               {"grant": grant_id, "identity": record.identity, "reason": revocation.reason,
                                "revoked": revocation.revoked.isoformat(), "by": by})
    return revocation


def signable(payload: str) -> dict[str, Any]:
    """What ``likeness sign`` reads and the API hands out: the payload text, to be signed as is."""
    return {"likeness": "to-sign/1", "payload": payload}
