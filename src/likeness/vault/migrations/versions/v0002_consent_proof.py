"""Consent that holds when the database does not: enrolment statements, render numbers, fingerprints.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("statement", sa.Text, nullable=True))
        batch.add_column(sa.Column("statement_sig", sa.Text, nullable=True))
    with op.batch_alter_table("renders") as batch:
        batch.add_column(sa.Column("n", sa.Integer, nullable=True))
        batch.add_column(sa.Column("fingerprint", sa.LargeBinary, nullable=True))
    op.create_index("ix_renders_output_sha256", "renders", ["output_sha256"])


def downgrade() -> None:
    op.drop_index("ix_renders_output_sha256", "renders")
    with op.batch_alter_table("renders") as batch:
        batch.drop_column("fingerprint")
        batch.drop_column("n")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("statement_sig")
        batch.drop_column("statement")
