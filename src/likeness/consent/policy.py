"""The consent policy: may this studio use this likeness, now, for this purpose?

``check`` is pure (no quota used, nothing written). It rests only on what the talent signed
(the enrolment statement pinning their key, the grant, revocations) and on the verified keyed
audit chain (grants, revocations and uses recorded there); a row that disagrees with either
is named in the refusal. ``authorize`` is what a render calls first: it checks and audits the
decision. ``take`` is what it calls last, when the output is made: it takes the use from the
quota in the same transaction that records the output.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from likeness.errors import ConsentError
from likeness.vault import RenderRecord, Taken, Terms, Vault
from likeness.vault.ledger import payload_sha256
from likeness.vault.talent_keys import check_statement, key_fingerprint, read_signed
from likeness.consent.grants import Grant, Revocation, Signed

Use = Literal["render", "train", "avatar"]


@dataclass(frozen=True)
class Request:
    identity: str
    grant_id: str
    scope: str | None
    use: Use = "render"
    studio: str = "demo-studio"


@dataclass(frozen=True)
class Decision:
    """The outcome of a check, with what a render carries as proof when it is allowed.

    ``signed`` is the grant exactly as the talent signed it, ``public_key`` the talent's key,
    ``next_n`` the number the next use would get, ``head`` the signed audit head after the
    decision was audited (``authorize`` only).
    """

    allowed: bool
    reasons: tuple[str, ...]
    grant: Grant | None
    identity_id: str = ""
    signed: Signed | None = None
    public_key: bytes = b""
    next_n: int = 0
    head: dict[str, Any] = field(default_factory=dict)

    def require(self) -> Grant:
        """The grant, or ConsentError carrying every reason for the refusal."""
        if not self.allowed or self.grant is None:
            raise ConsentError("refused: " + "; ".join(self.reasons or ("no grant",)))
        return self.grant


def _refuse(*reasons: str, grant: Grant | None = None) -> Decision:
    return Decision(False, tuple(reasons), grant)


def check(vault: Vault, request: Request, *, now: datetime | None = None) -> Decision:
    """Every rule, all reasons collected: vault binding, chain, enrolment, signature, binding of
    the grant to identity, key and vault, grantee, scope, window, revocation, quota."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    record = vault.grant_record(request.grant_id)
    if record is None:
        return _refuse(f"no grant {request.grant_id} in this vault")
    try:
        grant = Grant.from_payload(json.loads(record.payload))
    except (ValueError, ConsentError) as exc:
        return _refuse(f"grant {request.grant_id} is unreadable: {exc}")
    report, facts = vault.chain_facts()
    reasons: list[str] = list(vault.problems)
    if not report.ok:
        reasons.append(f"the audit chain is broken at entry {report.bad_seq} ({report.problem}); nothing renders until it is repaired")
    owner_fp = key_fingerprint(record.owner_public)
    who = f"identity {record.identity!r}"

    # The identity row: pinned by the talent-signed enrolment statement and by the chain.
    if record.statement is None:
        reasons.append(f"{who} has no enrolment statement signed by the talent")
    else:
        reasons += [f"{who}: {p}" for p in check_statement(
            *record.statement, identity_id=record.identity_id, name=record.identity, public_raw=record.owner_public, vault_id=vault.vault_id
        )]
    enrolled = facts.enrolments.get(record.identity_id)
    if report.ok and enrolled is None:
        reasons.append(f"{who} (id {record.identity_id}) has no enrolment in the audit chain (the row was inserted or rebound)")
    elif enrolled is not None:
        if enrolled.get("owner_key") != owner_fp:
            reasons.append(f"{who}'s owner key {owner_fp[:16]} is not the key {str(enrolled.get('owner_key'))[:16]} the audit chain recorded at enrolment")
        if record.statement is not None and enrolled.get("statement_sha256") != payload_sha256(record.statement[0]):
            reasons.append(f"{who}'s enrolment statement is not the one the audit chain recorded")
        if enrolled.get("identity") != record.identity:
            reasons.append(f"{who} was enrolled as {enrolled.get('identity')!r} (the row was renamed)")
        if enrolled.get("role") != record.identity_role:
            reasons.append(f"{who} was enrolled with the role {enrolled.get('role')!r}, the row now says {record.identity_role!r}")
    if record.identity_id in facts.deletions:
        reasons.append(f"{who} was deleted (the audit chain records it)")
    held = facts.held(record.identity_id)
    if held is not None:
        reasons.append(f"{who} was held for review at enrolment (its face is close to {held.get('nearest')!r}) and the audit chain "
                       "records no operator confirmation; its status row was changed outside likeness")

    # The grant: signed by that key, and naming that identity, key and vault.
    if read_signed(record.payload, record.signature, record.owner_public) is None:
        reasons.append("the grant's signature does not verify against the talent's owner key (it was altered or signed by another key)")
    if grant.id != record.id or grant.max_renders != record.max_renders:
        reasons.append("the stored grant row does not match its signed record (it was altered)")
    if grant.identity_id != record.identity_id:
        reasons.append(f"the grant names identity id {grant.identity_id}, but its row points at identity id {record.identity_id} (rebound)")
    if grant.talent_key != owner_fp:
        reasons.append(f"the grant names talent key {grant.talent_key[:16]}, not {who}'s key {owner_fp[:16]}")
    if grant.vault != vault.vault_id:
        reasons.append(f"the grant was signed for vault {grant.vault}, not this vault {vault.vault_id} (copied from another vault)")
    recorded = facts.grants.get(grant.id)
    if report.ok and recorded is None:
        reasons.append("the grant is not in this vault's audit chain (inserted by hand or copied from another vault)")
    elif recorded is not None and recorded.get("payload_sha256") not in (None, payload_sha256(record.payload)):
        reasons.append("the grant's signed text is not the one the audit chain recorded")

    if grant.identity != request.identity:
        reasons.append(f"the grant is for {grant.identity!r}, not {request.identity!r}")
    # The grantee: the vault's own studio (the CLI) or one of its client organisations (the studio server).
    if request.studio != vault.studio and not _is_organisation(vault, request.studio):
        reasons.append(f"{request.studio!r} is neither this vault's studio nor one of its organisations")
    if grant.grantee != request.studio:
        own = " (this vault's studio)" if request.studio == vault.studio else ""
        reasons.append(f"the grant is for {grant.grantee!r}, not {request.studio!r}{own}")
    if request.scope is None:
        if len(grant.scopes) != 1:
            reasons.append(f"the grant covers several scopes ({', '.join(grant.scopes)}): name one")
    elif request.scope not in grant.scopes:
        reasons.append(f"scope {request.scope!r} is not granted (granted: {', '.join(grant.scopes)})")
    if now < grant.not_before:
        reasons.append(f"the grant is not valid before {grant.not_before.isoformat()}")
    if now >= grant.expires:
        reasons.append(f"the grant expired on {grant.expires.isoformat()}")
    reasons += _revocation_reasons(record, facts.revocations.get(grant.id))

    # The counter: uses are counted in the chain; the row is a copy that must agree.
    count = len(facts.uses.get(grant.id, []))
    if record.used != count:
        reasons.append(f"the grant's render counter was edited (the row says {record.used}, the audit chain records {count} uses)")
    if grant.max_renders is not None and count >= grant.max_renders:
        reasons.append(f"quota exhausted ({count} of {grant.max_renders} renders used)")
    return Decision(not reasons, tuple(reasons), grant, record.identity_id, Signed(record.payload, record.signature),
                    record.owner_public, count + 1)


def _is_organisation(vault: Vault, name: str) -> bool:
    from likeness.vault.accounts import find_organisation

    return find_organisation(vault, name) is not None


def _revocation_reasons(record: Any, chained: dict[str, Any] | None) -> list[str]:
    if record.revocation is None:
        if chained is None:
            return []
        # Fail closed: the chain says revoked, whatever the rows say.
        return [f"the grant was revoked on {chained.get('revoked', 'a recorded date')} (its revocation row is missing; the audit chain records it)"]
    revoked = Signed(*record.revocation)
    try:
        when = Revocation.from_payload(json.loads(revoked.payload)).revoked.isoformat()
    except (ValueError, ConsentError):
        when = "an unreadable date"
    if read_signed(revoked.payload, revoked.signature, record.owner_public) is not None:
        return [f"the grant was revoked on {when}"]
    # Fail closed: a revocation that does not verify still stops renders, but says so.
    return ["the grant has a revocation record whose signature does not verify"]


def authorize(vault: Vault, request: Request, *, now: datetime | None = None) -> Decision:
    """``check``, audited either way; an allowed decision carries the signed head after its entry.

    No quota is used here: :func:`take` uses it when the output exists.
    """
    decision = check(vault, request, now=now)
    data = {
        "identity": request.identity,
        "grant": request.grant_id,
        "scope": request.scope,
        "use": request.use,
        "studio": request.studio,
        "allowed": decision.allowed,
    }
    if not decision.allowed:
        vault.audit("consent.decision", dict(data, reasons=list(decision.reasons)))
        return decision
    entry = vault.audit("consent.decision", data)
    return Decision(**{**decision.__dict__, "head": vault.signed_head(entry)})


def take(vault: Vault, decision: Decision, *, use: Use, data: dict[str, Any],
         produce: Callable[[int], RenderRecord] | None = None) -> Taken:
    """Use the decision's grant once (quota from the signed grant), recording ``produce(n)``'s output.

    Raises ConsentError when the quota filled up or a revocation came since the check.
    """
    return vault.take(terms(decision), use=use, data=dict(data, identity=decision.require().identity), produce=produce)


def terms(decision: Decision) -> Terms:
    """What the ledger checks again when the use is recorded: from the signed grant, not a row."""
    grant = decision.require()
    return Terms(grant.id, decision.identity_id, grant.max_renders, grant.not_before, grant.expires)


def owner_key_b64(vault: Vault, identity: str) -> str:
    """The identity's public owner key, base64, for talents to compare with their own copy."""
    return base64.b64encode(vault.identity(identity).owner_public).decode("ascii")
