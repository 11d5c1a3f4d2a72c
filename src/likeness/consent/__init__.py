"""likeness.consent: signed grants and revocations, and the policy every render passes.

The names below are imported on first use: the policy needs the vault's store (SQLAlchemy), and
checking a grant's signature (``likeness verify``) needs only ``grants``.
"""

from likeness.lazy import lazy

_LAZY = {
    **dict.fromkeys(("SCOPES", "Grant", "Revocation", "Signed", "create_grant", "export_document", "import_document",
                     "list_grants", "load_grant", "parse_when", "revocations_document", "revoke_grant", "sign",
                     "talent_card"), "likeness.consent.grants"),
    **dict.fromkeys(("Decision", "Request", "authorize", "check", "take"), "likeness.consent.policy"),
}


__getattr__ = lazy(__name__, _LAZY)

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
