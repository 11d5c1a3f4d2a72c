"""Initial vault schema: meta, identities, data keys, blobs, models, grants, revocations, renders, audit.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("coverage", sa.Text, nullable=False),
        sa.Column("owner_public", sa.LargeBinary, nullable=False),
        sa.Column("owner_key", sa.LargeBinary, nullable=False),
        sa.Column("owner_kdf", sa.Text, nullable=False),
    )
    op.create_table(
        "data_keys",
        sa.Column("identity_id", sa.String(36), sa.ForeignKey("identities.id"), primary_key=True),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "blobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("identity_id", sa.String(36), sa.ForeignKey("identities.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("identity_id", sa.String(36), sa.ForeignKey("identities.id"), nullable=False, index=True),
        sa.Column("blob_id", sa.String(32), sa.ForeignKey("blobs.id"), nullable=False),
        sa.Column("meta", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("identity_id", sa.String(36), sa.ForeignKey("identities.id"), nullable=False, index=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("max_renders", sa.Integer, nullable=True),
        sa.Column("used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "revocations",
        sa.Column("grant_id", sa.String(36), sa.ForeignKey("grants.id"), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "renders",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("grant_id", sa.String(36), nullable=False),
        sa.Column("identity", sa.String(200), nullable=False),
        sa.Column("target_sha256", sa.String(64), nullable=False),
        sa.Column("output_sha256", sa.String(64), nullable=False),
        sa.Column("engine", sa.String(64), nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("time", sa.String(40), nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit_head", "audit", "renders", "revocations", "grants", "models", "blobs", "data_keys", "identities", "meta"):
        op.drop_table(table)
