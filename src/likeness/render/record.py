"""The record of a render is the vault's :class:`likeness.vault.RenderRecord`.

The vault keeps render id, grant, identity, hashes, engine, settings and time; what else the
pipeline knows (paths, frame counts, failed frames) travels in ``settings``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from likeness.vault import RenderRecord


def record_dict(record: RenderRecord) -> dict[str, Any]:
    """A JSON-ready dict of a record (what ``likeness swap --json`` prints)."""
    return asdict(record)


__all__ = ["RenderRecord", "consent_assertion", "record_dict"]


def consent_assertion(grant_id: str, scope: str | None, grant: Any) -> dict[str, Any]:
    """What the C2PA manifest may show of a grant: id, scope, signer role, expiry; no personal data."""
    scopes = tuple(getattr(grant, "scopes", ()) or ())
    expires = getattr(grant, "expires", None)
    return {
        "grant_id": str(grant_id),
        "scope": scope or (scopes[0] if len(scopes) == 1 else None),
        "signer_role": getattr(grant, "signer_role", None),
        "expires": expires.isoformat() if hasattr(expires, "isoformat") else expires,
    }
