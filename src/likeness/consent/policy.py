"""The consent policy: may this studio use this likeness, now, for this purpose?

``check`` is pure (no quota used, nothing written); ``authorize`` is what the render pipeline
calls: it checks, takes one render from the quota atomically and audits the decision either way.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from likeness.errors import ConsentError, InputError
from likeness.vault import Vault
from likeness.consent.grants import Grant, Revocation, Signed, verifies

Use = Literal["render", "train"]


@dataclass(frozen=True)
class Request:
    identity: str
    grant_id: str
    scope: str | None
    use: Use = "render"
    studio: str = "demo-studio"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...]
    grant: Grant | None

    def require(self) -> Grant:
        """The grant, or ConsentError carrying every reason for the refusal."""
        if not self.allowed or self.grant is None:
            raise ConsentError("refused: " + "; ".join(self.reasons or ("no grant",)))
        return self.grant


def _refuse(*reasons: str, grant: Grant | None = None) -> Decision:
    return Decision(False, tuple(reasons), grant)


def check(vault: Vault, request: Request, *, now: datetime | None = None) -> Decision:
    """Every rule, all reasons collected: signature, identity, grantee, scope, window, revocation, quota."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    record = vault.grant_record(request.grant_id)
    if record is None:
        return _refuse(f"no grant {request.grant_id} in this vault")
    try:
        grant = Grant.from_payload(json.loads(record.payload))
    except (ValueError, ConsentError) as exc:
        return _refuse(f"grant {request.grant_id} is unreadable: {exc}")
    try:
        signed_ok = verifies(vault, record.identity, Signed(record.payload, record.signature))
    except InputError:
        signed_ok = False
    reasons: list[str] = []
    if not signed_ok:
        reasons.append("the grant's signature does not verify against the talent's owner key (it was altered)")
    if grant.id != record.id or grant.identity != record.identity or grant.max_renders != record.max_renders:
        reasons.append("the stored grant row does not match its signed record (it was altered)")
    if grant.identity != request.identity:
        reasons.append(f"the grant is for {grant.identity!r}, not {request.identity!r}")
    if grant.grantee != vault.studio:
        reasons.append(f"the grant is for studio {grant.grantee!r}, not this vault's studio {vault.studio!r}")
    elif request.studio != grant.grantee:
        reasons.append(f"the grant is for studio {grant.grantee!r}, not {request.studio!r}")
    if request.scope is None:
        if len(grant.scopes) != 1:
            reasons.append(f"the grant covers several scopes ({', '.join(grant.scopes)}): name one")
    elif request.scope not in grant.scopes:
        reasons.append(f"scope {request.scope!r} is not granted (granted: {', '.join(grant.scopes)})")
    if now < grant.not_before:
        reasons.append(f"the grant is not valid before {grant.not_before.isoformat()}")
    if now >= grant.expires:
        reasons.append(f"the grant expired on {grant.expires.isoformat()}")
    if record.revocation is not None:
        revoked = Signed(*record.revocation)
        try:
            when = Revocation.from_payload(json.loads(revoked.payload)).revoked.isoformat()
        except (ValueError, ConsentError):
            when = "an unreadable date"
        if verifies(vault, record.identity, revoked):
            reasons.append(f"the grant was revoked on {when}")
        else:
            # Fail closed: a revocation that does not verify still stops renders, but says so.
            reasons.append("the grant has a revocation record whose signature does not verify")
    if record.max_renders is not None and record.used >= record.max_renders:
        reasons.append(f"quota exhausted ({record.used} of {record.max_renders} renders used)")
    return Decision(not reasons, tuple(reasons), grant)


def authorize(vault: Vault, request: Request, *, now: datetime | None = None) -> Decision:
    """``check``, then take one render from the quota in one transaction; audit either outcome."""
    decision = check(vault, request, now=now)
    data = {
        "identity": request.identity,
        "grant": request.grant_id,
        "scope": request.scope,
        "use": request.use,
        "studio": request.studio,
    }
    if not decision.allowed:
        vault.audit("consent.decision", dict(data, allowed=False, reasons=list(decision.reasons)))
        return decision
    if vault.take_render(request.grant_id, "consent.decision", dict(data, allowed=True)):
        return decision
    return Decision(False, ("quota exhausted or grant revoked by a concurrent request",), decision.grant)


def owner_key_b64(vault: Vault, identity: str) -> str:
    """The identity's public owner key, base64, for talents to compare with their own copy."""
    return base64.b64encode(vault.identity(identity).owner_public).decode("ascii")
