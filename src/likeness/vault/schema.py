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

# -- the studio: parties, licensing and deliveries (migration 0004) ------------------------------

organisations = Table(
    "organisations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),  # what grants name as their grantee
    Column("created", String(40), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # operator | organisation | talent
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=True),
    Column("org_role", String(16), nullable=True),  # admin | member (organisation accounts)
    Column("password_hash", Text, nullable=False),  # Argon2id
    Column("created", String(40), nullable=False),
    Column("disabled", Integer, nullable=False, default=0),
)

representatives = Table(
    "representatives",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.id"), primary_key=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), primary_key=True),
    Column("role", String(16), nullable=False),  # self | guardian | estate | agent
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),  # the cookie is never stored, only its hash
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created", String(40), nullable=False),
    Column("expires", String(40), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created", String(40), nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False, index=True),
    Column("time", String(40), nullable=False),
)

listings = Table(
    "listings",
    metadata,
    Column("identity_id", String(36), ForeignKey("identities.id"), primary_key=True),
    Column("listed", Integer, nullable=False, default=0),  # organisations see it and may ask for a licence
    Column("named", Integer, nullable=False, default=0),  # the public verify endpoint may name the identity
    Column("max_active", Integer, nullable=True),  # the talent's cap on active licences
)

licence_requests = Table(
    "licence_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), nullable=False, index=True),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("terms", Text, nullable=False),  # JSON: scopes, not_before, expires, max_renders, visible_label, approval, purpose, note
    Column("payload", Text, nullable=False),  # the grant payload the talent is asked to sign (canonical JSON)
    Column("state", String(16), nullable=False),  # pending | signed | declined
    Column("reason", Text, nullable=True),
    Column("created", String(40), nullable=False),
    Column("decided", String(40), nullable=True),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("kind", String(8), nullable=False),  # image | video
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created", String(40), nullable=False),
)

outputs = Table(
    "outputs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), nullable=False, unique=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), nullable=False, index=True),
    Column("grant_id", String(36), nullable=False),
    Column("render_id", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("held", Integer, nullable=False),  # 1 until the talent approves, when the grant asks for approval
    Column("approved_by", String(36), nullable=True),
    Column("created", String(40), nullable=False),
)

# The studio's durable render queue (vault/jobs.py): one row per job, claimed by one worker at a
# time; ``heartbeat`` tells a live worker from a dead one. No face data, only paths and progress.
from sqlalchemy import Boolean, Float, Index  # noqa: E402 - kept with the table they serve

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation", String(200), nullable=False, index=True),
    Column("account", String(200), nullable=False),
    Column("identity", String(200), nullable=False),
    Column("grant_id", String(36), nullable=False),
    Column("target", Text, nullable=False),
    Column("output", Text, nullable=False),
    Column("options", Text, nullable=False),  # JSON
    Column("state", String(16), nullable=False),  # queued | running | succeeded | failed | cancelled
    Column("stage", String(32), nullable=False),
    Column("frame", Integer, nullable=False),
    Column("frames", Integer, nullable=True),
    Column("fps", Float, nullable=True),
    Column("eta_s", Float, nullable=True),
    Column("worker", String(200), nullable=True),
    Column("heartbeat", String(40), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("render_id", String(16), nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
    Index("ix_jobs_state_created", "state", "created"),
)
