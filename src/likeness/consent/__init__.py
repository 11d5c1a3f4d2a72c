"""likeness.consent: signed grants and revocations, and the policy every render passes.

The names below are imported on first use: the policy needs the vault's store (SQLAlchemy), and
checking a grant's signature (``likeness verify``) needs only ``grants``.
"""

import importlib
from typing import Any

_LAZY = {
    **dict.fromkeys(("SCOPES", "Grant", "Revocation", "Signed", "create_grant", "export_document", "import_document",
                     "list_grants", "load_grant", "parse_when", "revocations_document", "revoke_grant", "sign",
                     "talent_card"), "likeness.consent.grants"),
    **dict.fromkeys(("Decision", "Request", "authorize", "check", "take"), "likeness.consent.policy"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'likeness.consent' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

__all__ = [
    "SCOPES",
    "Decision",
    "Grant",
    "Request",
    "Revocation",
    "Signed",
    "authorize",
    "check",
    "create_grant",
    "export_document",
    "import_document",
    "list_grants",
    "load_grant",
    "parse_when",
    "revocations_document",
    "revoke_grant",
    "sign",
    "take",
    "talent_card",
]
