"""likeness.vault: the encrypted talent vault (identities, facesets, grants storage, renders,
trained models) and its hash-chained audit log.

The names below are imported on first use: the store needs SQLAlchemy (0.2 s), and the modules
that only check signatures (``talent_keys``, ``heads``, ``crypto``) serve ``likeness verify``
without it.
"""

from likeness.lazy import lazy

_LAZY = {
    **dict.fromkeys(("AuditEntry", "AuditReport"), "likeness.vault.audit"),
    **dict.fromkeys(("Coverage", "Faceset", "FacesetItem", "coverage"), "likeness.vault.faceset"),
    **dict.fromkeys(("GrantRecord", "RenderRecord", "Taken", "Terms"), "likeness.vault.ledger"),
    **dict.fromkeys(("ROLES", "Identity", "ModelInfo", "Vault", "init_vault", "open_vault"), "likeness.vault.store"),
}


__getattr__ = lazy(__name__, _LAZY)


__all__ = [
    "AuditEntry",
    "AuditReport",
    "Coverage",
    "Faceset",
    "FacesetItem",
    "GrantRecord",
    "Identity",
    "ModelInfo",
    "RenderRecord",
    "Taken",
    "Terms",
    "ROLES",
    "Vault",
    "coverage",
    "init_vault",
    "open_vault",
]
