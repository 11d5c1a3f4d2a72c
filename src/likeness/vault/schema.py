"""Tables of the vault, as SQLAlchemy Core metadata (the migrations create them).

Nothing here holds face data in the clear: crops, landmarks, embeddings, weights and private
keys are only ever stored sealed (see ``crypto``), in blob files or in sealed columns.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # active | deleting
    Column("created", String(40), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("coverage", Text, nullable=False),  # aggregate pose/expression ranges, JSON
    Column("owner_public", LargeBinary, nullable=False),  # Ed25519 raw public key
    Column("owner_key", LargeBinary, nullable=False),  # sealed under the talent passphrase
    Column("owner_kdf", Text, nullable=False),  # JSON: salt (hex), n, r, p
    # The talent-signed enrolment statement that pins the owner key (id, name, key, vault id, time).
    Column("statement", Text, nullable=True),
    Column("statement_sig", Text, nullable=True),
)

# Kept apart from ``identities`` so shredding is one small row delete that secure_delete zeroes.
data_keys = Table(
    "data_keys",
    metadata,
    Column("identity_id", String(36), ForeignKey("identities.id"), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
)

blobs = Table(
    "blobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # item | embeddings | model
    Column("created", String(40), nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), nullable=False, index=True),
    Column("blob_id", String(32), ForeignKey("blobs.id"), nullable=False),
    Column("meta", LargeBinary, nullable=False),  # sealed JSON
    Column("created", String(40), nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), nullable=False, index=True),
    Column("payload", Text, nullable=False),  # canonical JSON exactly as signed
    Column("signature", Text, nullable=False),  # base64 Ed25519
    Column("max_renders", Integer, nullable=True),  # copy of the signed value, for the atomic UPDATE
    Column("used", Integer, nullable=False, default=0),
    Column("created", String(40), nullable=False),
)

revocations = Table(
    "revocations",
    metadata,
    Column("grant_id", String(36), ForeignKey("grants.id"), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("created", String(40), nullable=False),
)

renders = Table(
    "renders",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("grant_id", String(36), nullable=False),
    Column("identity", String(200), nullable=False),
    Column("target_sha256", String(64), nullable=False),
    Column("output_sha256", String(64), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("settings", Text, nullable=False),
    Column("time", String(40), nullable=False),
    Column("n", Integer, nullable=True),  # the render's number under its grant (None: a training preview)
    Column("fingerprint", LargeBinary, nullable=True),  # sealed perceptual fingerprint of the output
)

audit = Table(
    "audit",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", String(40), nullable=False),
    Column("event", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row: the chain's head. Appends lock it, so concurrent writers chain in order, and a
# deleted last entry shows as a head that points past the end.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
