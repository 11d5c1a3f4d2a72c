"""The record of a render is the vault's :class:`likeness.vault.RenderRecord`; its proof is the
consent assertion every output's C2PA manifest carries.

The vault keeps render id, grant, identity, hashes, engine, settings, time, the render's number
under its grant and the output's fingerprint; what else the pipeline knows (paths, frame
counts, failed frames) travels in ``settings``.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from likeness.vault import RenderRecord


def render_id_hex(render_id: int) -> str:
    """The one way a render id is written for people and JSON: 16 lower-case hex digits."""
    return f"{int(render_id):016x}"


def record_dict(record: RenderRecord) -> dict[str, Any]:
    """A JSON-ready dict of a record (what ``likeness swap --json`` prints); no fingerprint bytes."""
    data = asdict(record)
    data.pop("fingerprint", None)
    data["render_id"] = render_id_hex(record.render_id)
    return data


__all__ = ["RenderRecord", "consent_assertion", "record_dict", "render_id_hex"]


def consent_assertion(
    *,
    grant: Any,
    signed: Any,
    public_key: bytes,
    scope: str | None,
    vault_id: str,
    head: dict[str, Any],
    n: int | None,
    time: float,
) -> dict[str, Any]:
    """The proof an output carries: the talent-signed grant (payload, signature, key), the
    render's number under it, the render time, and the signed audit head as of the consent
    decision. The grant names the identity; nothing else personal is included."""
    scopes = tuple(getattr(grant, "scopes", ()) or ())
    return {
        "grant_id": str(grant.id),
        "scope": scope or (scopes[0] if len(scopes) == 1 else None),
        "signer_role": grant.signer_role,
        "expires": grant.expires.isoformat(),
        "vault": vault_id,
        "grant": {
            "payload": signed.payload,
            "signature": signed.signature,
            "public_key": base64.b64encode(public_key).decode("ascii"),
        },
        "render": {
            "kind": "render" if n is not None else "preview",
            "n": n,
            "of": grant.max_renders,
            "time": datetime.fromtimestamp(time, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        },
        "audit_head": head,
    }
