"""Signed grants and revocations.

A grant is canonical JSON (sorted keys, no whitespace) signed with the talent's Ed25519 owner
key. It names the identity by id, the talent key by fingerprint, the vault by id and the
grantee, so a grant copied into another vault, pointed at another identity row or checked
against a substituted key is refused, and the refusal says which. The vault stores the exact
signed text; every check re-verifies it. Export/import moves the same signed text as a file, so
a talent can sign on their own machine.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from likeness.errors import ConsentError, InputError
from likeness.vault.talent_keys import canonical_text, verify_signature

if TYPE_CHECKING:  # the store (SQLAlchemy) is not needed to read or check a grant: `likeness verify` has none
    from likeness.vault import GrantRecord, Vault

SCOPES = ("film", "game", "advertising", "education", "satire", "personal")
GRANT_TYPE = "likeness.grant/2"  # /1 named no vault, identity id or key: no longer accepted
REVOCATION_TYPE = "likeness.revocation/1"


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_when(text: str | datetime | date) -> datetime:
    """A UTC datetime from YYYY-MM-DD (midnight UTC) or an ISO 8601 time (naive means UTC)."""
    if isinstance(text, datetime):
        when = text
    elif isinstance(text, date):
        when = datetime(text.year, text.month, text.day)
    else:
        try:
            when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            raise InputError(f"{text!r} is not a date (use YYYY-MM-DD or an ISO 8601 time)") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


@dataclass(frozen=True)
class Grant:
    """What a talent signed: who may use their likeness, for what, when and how often."""

    id: str
    identity: str
    grantee: str
    scopes: tuple[str, ...]
    not_before: datetime
    expires: datetime
    max_renders: int | None
    visible_label: bool
    signer_role: str
    note: str
    created: datetime
    identity_id: str = ""
    talent_key: str = ""  # SHA-256 fingerprint of the owner key that signs
    vault: str = ""  # the vault id the grant is valid in
    approval: bool = False  # outputs stay held until the talent approves each

    def payload(self) -> dict[str, Any]:
        return {
            "type": GRANT_TYPE,
            "id": self.id,
            "identity": self.identity,
            "identity_id": self.identity_id,
            "talent_key": self.talent_key,
            "vault": self.vault,
            "approval": self.approval,
            "grantee": self.grantee,
            "scopes": sorted(self.scopes),
            "not_before": _iso(self.not_before),
            "expires": _iso(self.expires),
            "max_renders": self.max_renders,
            "visible_label": self.visible_label,
            "signer_role": self.signer_role,
            "note": self.note,
            "created": _iso(self.created),
        }

    @staticmethod
    def from_payload(data: Any) -> "Grant":
        if not isinstance(data, dict):
            raise ConsentError("not a likeness grant (not a JSON object)")
        if data.get("type") == "likeness.grant/1":
            raise ConsentError("grant format 1 names no vault, identity id or talent key; ask the talent to sign it again")
        if data.get("type") != GRANT_TYPE:
            raise ConsentError(f"not a likeness grant (type {data.get('type')!r})")
        try:
            max_renders = data["max_renders"]
            if max_renders is not None and (isinstance(max_renders, bool) or not isinstance(max_renders, int) or max_renders < 1):
                raise ValueError(f"max_renders must be a whole number of 1 or more, got {max_renders!r}")
            if not isinstance(data["scopes"], list) or not all(isinstance(x, str) for x in data["scopes"]):
                raise ValueError("scopes must be a list of names")
            if not isinstance(data["visible_label"], bool) or not isinstance(data.get("approval", False), bool):
                raise ValueError("visible_label and approval must be true or false")
            return Grant(
                id=str(data["id"]),
                identity=str(data["identity"]),
                grantee=str(data["grantee"]),
                scopes=tuple(str(s) for s in data["scopes"]),
                not_before=parse_when(str(data["not_before"])),
                expires=parse_when(str(data["expires"])),
                max_renders=None if max_renders is None else int(max_renders),
                visible_label=bool(data["visible_label"]),
                signer_role=str(data["signer_role"]),
                note=str(data["note"]),
                created=parse_when(str(data["created"])),
                identity_id=str(data["identity_id"]),
                talent_key=str(data["talent_key"]),
                vault=str(data["vault"]),
                approval=bool(data.get("approval", False)),
            )
        except (KeyError, TypeError, ValueError, InputError, OverflowError) as exc:
            raise ConsentError(f"malformed grant: {exc}") from None


@dataclass(frozen=True)
class Revocation:
    grant_id: str
    identity: str
    revoked: datetime
    reason: str

    def payload(self) -> dict[str, Any]:
        return {
            "type": REVOCATION_TYPE,
            "grant": self.grant_id,
            "identity": self.identity,
            "revoked": _iso(self.revoked),
            "reason": self.reason,
        }

    @staticmethod
    def from_payload(data: Any) -> "Revocation":
        if not isinstance(data, dict) or data.get("type") != REVOCATION_TYPE:
            raise ConsentError(f"not a likeness revocation (type {data.get('type') if isinstance(data, dict) else None!r})")
        try:
            return Revocation(str(data["grant"]), str(data["identity"]), parse_when(str(data["revoked"])), str(data.get("reason", "")))
        except (KeyError, TypeError, ValueError, InputError, OverflowError) as exc:
            raise ConsentError(f"malformed revocation: {exc}") from None


@dataclass(frozen=True)
class Signed:
    """Canonical payload text and its base64 Ed25519 signature: what is stored and exported."""

    payload: str
    signature: str


def sign(key: Ed25519PrivateKey, payload: dict[str, Any]) -> Signed:
    """Sign the canonical form of ``payload`` (usable on the talent's own machine)."""
    text = canonical_text(payload)
    return Signed(text, base64.b64encode(key.sign(text.encode("utf-8"))).decode("ascii"))


def verifies(vault: Vault, identity: str, signed: Signed) -> bool:
    """Whether ``signed`` is canonical and signed by ``identity``'s owner key."""
    try:
        data = json.loads(signed.payload)
        signature = base64.b64decode(signed.signature, validate=True)
    except ValueError:
        return False
    if canonical_text(data) != signed.payload:
        return False
    return verify_signature(vault.identity(identity).owner_public, signature, signed.payload.encode("utf-8"))


def revocations_document(vault: Vault, identity: str) -> str:
    """The talent's signed revocations, with their public key: what ``verify --revocations`` reads."""
    ident = vault.identity(identity)
    revocations = [
        {"payload": r.revocation[0], "signature": r.revocation[1]} for r in vault.grant_records(identity) if r.revocation is not None
    ]
    document = {
        "likeness": "revocations/1",
        "identity": ident.name,
        "public_key": base64.b64encode(ident.owner_public).decode("ascii"),
        "fingerprint": ident.fingerprint,
        "revocations": revocations,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def talent_card(vault: Vault, identity: str) -> str:
    """The talent's public card: key and fingerprint (and the enrolment statement), to publish."""
    ident = vault.identity(identity)
    card = {
        "likeness": "talent-card/1",
        "identity": ident.name,
        "identity_id": ident.id,
        "public_key": base64.b64encode(ident.owner_public).decode("ascii"),
        "fingerprint": ident.fingerprint,
        "vault": vault.vault_id,
    }
    return json.dumps(card, indent=2, sort_keys=True) + "\n"


def _grant_audit(grant: Grant) -> dict[str, Any]:
    return {
        "grant": grant.id,
        "identity": grant.identity,
        "grantee": grant.grantee,
        "scopes": sorted(grant.scopes),
        "expires": _iso(grant.expires),
        "max_renders": grant.max_renders,
    }


def create_grant(
    vault: Vault,
    identity: str,
    *,
    grantee: str,
    scopes: list[str] | tuple[str, ...],
    expires: str | datetime | date,
    not_before: str | datetime | date | None = None,
    max_renders: int | None = None,
    visible_label: bool = False,
    note: str = "",
    talent_passphrase: str | None,
) -> Grant:
    """Sign a grant with the talent's owner key and store it (audited)."""
    ident = vault.identity(identity)
    scopes = tuple(dict.fromkeys(s.strip().lower() for s in scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise InputError(f"scope must be one or more of {', '.join(SCOPES)}" + (f"; got {', '.join(unknown)}" if unknown else ""))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = parse_when(not_before) if not_before is not None else now
    end = parse_when(expires)
    if end <= start:
        raise InputError(f"the grant expires ({_iso(end)}) before it starts ({_iso(start)})")
    if end <= now:
        raise InputError(f"the expiry {_iso(end)} is already past")
    if max_renders is not None and max_renders < 1:
        raise InputError("--max-renders must be 1 or more")
    if not grantee.strip():
        raise InputError("the grantee (studio name) is empty")
    grant = Grant(
        id=str(uuid.uuid4()),
        identity=ident.name,
        grantee=grantee.strip(),
        scopes=scopes,
        not_before=start,
        expires=end,
        max_renders=max_renders,
        visible_label=visible_label,
        signer_role=ident.role,
        note=note,
        created=now,
        identity_id=ident.id,
        talent_key=ident.fingerprint,
        vault=vault.vault_id,
    )
    signed = sign(vault.owner_key(identity, talent_passphrase), grant.payload())
    vault.store_grant(ident.name, grant.id, signed.payload, signed.signature, grant.max_renders, _grant_audit(grant))
    return grant


def _record(vault: Vault, grant_id: str) -> GrantRecord:
    record = vault.grant_record(grant_id)
    if record is None:
        raise InputError(f"no grant {grant_id} in the vault")
    return record


def load_grant(vault: Vault, grant_id: str) -> tuple[Grant, GrantRecord]:
    """The stored grant, parsed from its signed text (the signature is checked by ``policy``)."""
    record = _record(vault, grant_id)
    try:
        data = json.loads(record.payload)
    except ValueError:
        raise ConsentError(f"grant {grant_id} is unreadable") from None
    return Grant.from_payload(data), record


def list_grants(vault: Vault, identity: str | None = None) -> list[tuple[Grant | None, GrantRecord]]:
    out = []
    for record in vault.grant_records(identity):
        try:
            out.append((Grant.from_payload(json.loads(record.payload)), record))
        except (ValueError, ConsentError):
            out.append((None, record))
    return out


def revoke_grant(vault: Vault, grant_id: str, *, talent_passphrase: str | None, reason: str = "") -> Revocation:
    """Sign and store a revocation; every later check refuses the grant."""
    grant, _ = load_grant(vault, grant_id)
    revocation = Revocation(grant.id, grant.identity, datetime.now(timezone.utc).replace(microsecond=0), reason)
    signed = sign(vault.owner_key(grant.identity, talent_passphrase), revocation.payload())
    vault.store_revocation(grant.id, signed.payload, signed.signature, {"grant": grant.id, "identity": grant.identity, "reason": reason})
    return revocation


def export_document(vault: Vault, grant_id: str) -> str:
    """A signed file for the grant (and its revocation, if any) that another vault can import."""
    record = _record(vault, grant_id)
    document: dict[str, Any] = {
        "likeness": "signed-grant/1",
        "owner_key": base64.b64encode(vault.identity(record.identity).owner_public).decode("ascii"),
        "grant": {"payload": record.payload, "signature": record.signature},
    }
    if record.revocation is not None:
        document["revocation"] = {"payload": record.revocation[0], "signature": record.revocation[1]}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def import_document(vault: Vault, text: str, *, source: str = "document") -> tuple[Grant, Revocation | None]:
    """Verify a signed grant file against the identity's key in this vault, then store it."""
    try:
        document = json.loads(text)
        grant_part = document.get("grant")
        revocation_part = document.get("revocation")
    except (ValueError, AttributeError):
        raise InputError(f"{source} is not a likeness signed-grant file") from None
    if grant_part is None and revocation_part is None:
        raise InputError(f"{source} holds neither a grant nor a revocation")
    grant: Grant | None = None
    if grant_part is not None:
        signed = Signed(str(grant_part.get("payload", "")), str(grant_part.get("signature", "")))
        try:
            grant = Grant.from_payload(json.loads(signed.payload))
        except ValueError:
            raise ConsentError(f"{source}: the grant is unreadable") from None
        if not verifies(vault, grant.identity, signed):
            raise ConsentError(f"{source}: the grant's signature does not match {grant.identity!r}'s owner key")
        if vault.grant_record(grant.id) is None:
            vault.store_grant(grant.identity, grant.id, signed.payload, signed.signature, grant.max_renders, dict(_grant_audit(grant), imported=True))
    revocation = None
    if revocation_part is not None:
        signed = Signed(str(revocation_part.get("payload", "")), str(revocation_part.get("signature", "")))
        try:
            revocation = Revocation.from_payload(json.loads(signed.payload))
        except ValueError:
            raise ConsentError(f"{source}: the revocation is unreadable") from None
        if not verifies(vault, revocation.identity, signed):
            raise ConsentError(f"{source}: the revocation's signature does not match {revocation.identity!r}'s owner key")
        record = vault.grant_record(revocation.grant_id)
        if record is None:
            raise InputError(f"{source}: revokes grant {revocation.grant_id}, which is not in this vault")
        if record.revocation is None:
            vault.store_revocation(revocation.grant_id, signed.payload, signed.signature, {"grant": revocation.grant_id, "identity": revocation.identity, "imported": True})
        if grant is None:
            grant, _ = load_grant(vault, revocation.grant_id)
    assert grant is not None
    return grant, revocation
