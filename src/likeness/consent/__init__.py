"""likeness.consent: signed grants and revocations, and the policy every render passes."""

from likeness.consent.grants import (
    SCOPES,
    Grant,
    Revocation,
    Signed,
    create_grant,
    export_document,
    import_document,
    list_grants,
    load_grant,
    parse_when,
    revocations_document,
    revoke_grant,
    sign,
    talent_card,
)
from likeness.consent.policy import Decision, Request, authorize, check, take

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
