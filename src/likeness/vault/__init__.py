"""likeness.vault: the encrypted talent vault (identities, facesets, grants storage, renders,
trained models) and its hash-chained audit log."""

from likeness.vault.audit import AuditEntry, AuditReport
from likeness.vault.faceset import Coverage, Faceset, FacesetItem, coverage
from likeness.vault.ledger import GrantRecord, RenderRecord, Taken, Terms
from likeness.vault.store import ROLES, Identity, ModelInfo, Vault, init_vault, open_vault

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
