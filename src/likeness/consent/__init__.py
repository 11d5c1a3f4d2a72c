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
    revoke_grant,
    sign,
)
from likeness.consent.policy import Decision, Request, authorize, check

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
    "revoke_grant",
    "sign",
]
