"""The studio: organisations, accounts, representatives, sessions, tokens, listings, licence
requests, uploads and outputs.

Revision ID: 0004
"""

from alembic import op

from likeness.vault import schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("organisations", "accounts", "representatives", "sessions", "api_tokens", "login_failures", "listings",
           "licence_requests", "uploads", "outputs")


def upgrade() -> None:
    bind = op.get_bind()
    for name in _TABLES:
        schema.metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(_TABLES):
        schema.metadata.tables[name].drop(bind)
