"""The Vault façade: identities, facesets, owner keys, models, and the plumbing the ledger uses.

Grants, revocations, uses and the render registry live in ``ledger``; signed audit heads in
``heads``; the chain itself in ``audit``. A vault has an id, made at ``init`` and bound (with
the studio name and the C2PA root) by a value sealed under the master key, so an edited
``meta`` row is reported instead of believed.

Write order everywhere: blob files first (sealed, atomic), rows and the audit entry last in one
transaction. A crash in between leaves only stray ciphertext files, which ``open_vault`` sweeps;
it never leaves a half identity. Deletion reverses it: the wrapped data key goes first, so
whatever survives a crash (or was copied before) is already undecryptable.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from sqlalchemy import Connection, Engine, delete, exists, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from likeness.errors import ConsentError, InputError, NoFaceError, VaultError
from likeness.settings import Settings
from likeness.vault import audit as audit_log
from likeness.vault import heads, ledger, schema
from likeness.vault.ledger import GrantRecord, RenderRecord, Taken, held_line
from likeness.vault.blobs import delete_blob, read_blob, stray_files, write_blob
from likeness.vault.crypto import (
    DEFAULT_SCRYPT_N,
    KdfParams,
    associated_data,
    derive_key,
    new_kdf_params,
    new_key,
    seal,
    unseal,
)
from likeness.vault.database import make_engine, migrate, sqlite_path
from likeness.vault.faceset import (
    Coverage,
    Faceset,
    FacesetItem,
    coverage,
    embeddings_bytes,
    embeddings_from_bytes,
    item_bytes,
    item_from_bytes,
)
from likeness.vault.files import private_database, private_dir
from likeness.vault.firewall import Clearance, clearance, closest, same_person, strangers
from likeness.vault.talent_keys import (
    held_owner_key,
    signed_statement_owner,
    enrolment_statement,
    key_fingerprint,
    new_owner_key,
    sign_payload,
    unlock_owner_key,
)

ROLES = ("self", "guardian", "estate", "agent")
KEYCHECK = b"likeness vault key check v1"
ORPHAN_GRACE_S = 600.0  # younger stray blobs may belong to an enrolment still in flight
_ENROL_LOCK = 0x454E524C  # "ENRL": serialises firewall checks on PostgreSQL
HELD = "held"  # status of an enrolment the firewall sent to review: stored, but not usable


@dataclass(frozen=True)
class Identity:
    id: str
    name: str
    role: str
    created: str
    items: int
    coverage: Coverage
    owner_public: bytes  # raw Ed25519 public key
    status: str = "active"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the owner key (hex): what grants name and the talent card shows."""
        return key_fingerprint(self.owner_public)


@dataclass(frozen=True)
class HeldEnrolment:
    """An enrolment the firewall held, with what the audit chain recorded about it (nearest
    identity, median distance, agreeing crops): the operator's to confirm or reject."""

    identity: Identity
    firewall: dict[str, Any]


@dataclass(frozen=True)
class ModelInfo:
    id: str
    identity: str
    meta: dict[str, Any]
    created: str


owner_fp = key_fingerprint


def _now() -> str:
    return audit_log.now_iso()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InputError(f"identity name {name!r} must be 1-200 printable characters")
    return name


def _derived(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, from the master key (HKDF-SHA256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"likeness/{purpose}/v1".encode()).derive(master)


class Vault:
    """An unlocked vault. Owns its database engine and the master key; close it when done.

    ``studio`` and ``vault_id`` are the values the vault was created with (from its sealed
    binding); ``problems`` lists what in ``meta`` no longer agrees with them. The consent check
    refuses every render while it is not empty.
    """

    def __init__(self, settings: Settings, engine: Engine, master_key: bytes, studio: str, scrypt_n: int,
                 vault_id: str = "", problems: tuple[str, ...] = (), bound: dict[str, str] | None = None):
        self.settings = settings
        self._engine = engine
        self._master = master_key
        self.studio = studio
        self.scrypt_n = scrypt_n
        self.vault_id = vault_id
        self.problems = problems
        self.audit_key = _derived(master_key, "audit-chain")
        self._bound = bound or {}  # sha256 of the root and leaf certificates the vault was created with

    # -- plumbing -----------------------------------------------------------------------------

    def __enter__(self) -> "Vault":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def blobs_dir(self) -> Path:
        return self.settings.blobs

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One database transaction; database errors become one-line VaultErrors."""
        with self._tx() as connection:
            yield connection

    def append(self, connection: Connection, event: str, data: dict[str, Any]) -> audit_log.AuditEntry:
        """Append one audit entry inside the caller's transaction (keyed chain)."""
        return audit_log.append(connection, self.audit_key, event, data)

    def watermark_key(self) -> bytes:
        """The per-vault secret watermark key: only this studio can make or read its second mark."""
        return _derived(self._master, "watermark")

    def seal_fingerprint(self, render_id: int, fingerprint: bytes) -> bytes:
        return seal(self._master, fingerprint, associated_data("fingerprint", f"{int(render_id):016x}"))

    def open_fingerprint(self, render_id: int, sealed: bytes) -> bytes:
        return unseal(self._master, sealed, associated_data("fingerprint", f"{int(render_id):016x}"), what=f"fingerprint of render {int(render_id):016x}")

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except IntegrityError as exc:
            raise VaultError(f"the vault refused a conflicting write: {exc.orig}") from None
        except SQLAlchemyError as exc:
            raise VaultError(f"vault database error: {getattr(exc, 'orig', None) or exc}") from None

    def _lock_enrolment(self, connection: Connection) -> None:
        # SQLite already holds the write lock (BEGIN IMMEDIATE); PostgreSQL needs it said.
        if self._engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ENROL_LOCK})

    def _wrap(self, data_key: bytes, identity_id: str) -> bytes:
        return seal(self._master, data_key, associated_data("data-key", identity_id))

    def _data_key(self, connection: Connection, identity: Identity) -> bytes:
        wrapped = connection.execute(
            select(schema.data_keys.c.wrapped).where(schema.data_keys.c.identity_id == identity.id)
        ).scalar_one_or_none()
        if wrapped is None:
            raise VaultError(f"identity {identity.name!r} has no data key (it was deleted)")
        return unseal(self._master, wrapped, associated_data("data-key", identity.id), what=f"data key of {identity.name!r}")

    def _seal_blob(self, data_key: bytes, identity_id: str, kind: str, plaintext: bytes) -> str:
        blob_id = f"{time.time_ns():016x}{os.urandom(8).hex()}"  # sorts in write order: crops keep their order
        write_blob(self.blobs_dir, blob_id, seal(data_key, plaintext, associated_data("blob", identity_id, blob_id, kind)))
        return blob_id

    def _open_blob(self, data_key: bytes, identity: Identity, blob_id: str, kind: str) -> bytes:
        sealed = read_blob(self.blobs_dir, blob_id)
        path = self.blobs_dir / f"{blob_id}.blob"
        return unseal(data_key, sealed, associated_data("blob", identity.id, blob_id, kind), what=f"blob {path} ({kind} of {identity.name!r})")

    # -- studio -------------------------------------------------------------------------------

    def _meta(self, key: str) -> bytes:
        with self._tx() as connection:
            value = connection.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar_one_or_none()
        if value is None:
            raise VaultError(f"the vault has no {key}; it was not initialised completely")
        return value

    def _certificate(self, which: str) -> bytes:
        """The root or leaf certificate, refused when it is not the one the vault was created with."""
        import hashlib

        pem = self._meta(f"{which}_cert")
        expected = self._bound.get(f"{which}_sha256")
        if expected is not None and hashlib.sha256(pem).hexdigest() != expected:
            raise VaultError(f"the studio's C2PA {which} certificate in the database is not the one this vault was created with")
        return pem

    def c2pa_root(self) -> bytes:
        """The studio root certificate (PEM): the trust anchor ``verify`` checks against."""
        return self._certificate("root")

    def c2pa_signing(self) -> tuple[bytes, bytes]:
        """(leaf + root certificate chain PEM, leaf private key PEM), decrypted in memory."""
        chain = self._certificate("leaf") + self._certificate("root")
        key = unseal(self._master, self._meta("leaf_key"), associated_data("studio-leaf-key"), what="studio signing key")
        return chain, key

    # -- audit --------------------------------------------------------------------------------

    def audit(self, event: str, data: dict[str, Any]) -> audit_log.AuditEntry:
        """Append one entry (plain JSON, no face data) to the keyed chain."""
        with self._tx() as connection:
            return self.append(connection, event, data)

    def audit_entries(self, *, limit: int | None = None) -> list[audit_log.AuditEntry]:
        with self._tx() as connection:
            return audit_log.entries(connection, limit=limit)

    def verify_audit(self) -> audit_log.AuditReport:
        with self._snapshot() as connection:
            return audit_log.verify(connection, self.audit_key)

    def chain_facts(self) -> tuple[audit_log.AuditReport, audit_log.ChainFacts]:
        """The chain's verdict and the consent facts of its verified entries (one walk)."""
        facts = audit_log.ChainFacts()
        with self._snapshot() as connection:
            report = audit_log.verify(connection, self.audit_key, facts=facts)
        return report, facts

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one moment of the database: the head and the entries
        agree even while others append (PostgreSQL REPEATABLE READ; SQLite's transactions are
        serialised already)."""
        if self._engine.dialect.name != "postgresql":
            with self._tx() as connection:
                yield connection
            return
        try:
            with self._engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
                yield connection
        except SQLAlchemyError as exc:
            raise VaultError(f"vault database error: {getattr(exc, 'orig', None) or exc}") from None

    def signed_head(self, entry: audit_log.AuditEntry | None = None) -> dict[str, Any]:
        """The chain's head (or ``entry``), signed with the studio key, for others to keep."""
        if entry is None:
            with self._tx() as connection:
                head = connection.execute(select(schema.audit_head).where(schema.audit_head.c.id == 1)).one()
                seq, digest = head.seq, head.hash
                time_ = connection.execute(select(schema.audit.c.time).where(schema.audit.c.seq == seq)).scalar_one_or_none() or _now()
        else:
            seq, digest, time_ = entry.seq, entry.hash, entry.time
        _, key = self.c2pa_signing()
        return heads.sign_head(vault_id=self.vault_id, studio=self.studio, seq=seq, hash_hex=digest, time=time_,
                               key_pem=key, cert_pem=self._certificate("leaf"))

    def check_head(self, document: Any) -> tuple[bool, str]:
        """Whether the present chain extends a head this vault signed earlier, and why not."""
        checked = heads.check_head(document, root_pem=self.c2pa_root())
        if not checked.ok:
            return False, str(checked.problem)
        if document.get("vault") != self.vault_id:
            return False, f"the head is from vault {document.get('vault')}, not this vault {self.vault_id}"
        report = self.verify_audit()
        if not report.ok:
            return False, f"the audit chain is broken at entry {report.bad_seq}: {report.problem}"
        seq = int(document["seq"])
        if seq > report.head_seq:
            return False, f"the saved head names entry {seq}, but the chain now ends at entry {report.head_seq} (entries were removed)"
        with self._tx() as connection:
            stored = audit_log.hash_at(connection, seq)
        if stored != document["hash"]:
            return False, f"entry {seq} is not the entry the saved head names (the chain was rewritten from there)"
        return True, f"the chain extends the saved head (entry {seq} -> {report.head_seq})"

    # -- identities ---------------------------------------------------------------------------

    @staticmethod
    def _identity_from_row(row: Any) -> Identity:
        return Identity(
            id=row.id,
            name=row.name,
            role=row.role,
            created=row.created,
            items=row.item_count,
            coverage=Coverage.from_dict(json.loads(row.coverage)),
            owner_public=bytes(row.owner_public),
            status=row.status,
        )

    def identity_in(self, connection: Connection, name: str, *, held: bool = False) -> Identity:
        """The active identity ``name``, inside the caller's transaction; a held one is refused by
        name unless ``held`` (who may act for it is settled before the review)."""
        row = connection.execute(
            select(schema.identities).where(schema.identities.c.name == name, schema.identities.c.status.in_(("active", HELD)))
        ).one_or_none()
        if row is None:
            raise InputError(f"no identity named {name!r} in the vault")
        if row.status == HELD and not held:
            raise ConsentError(held_line(name))
        return self._identity_from_row(row)

    def _held_in(self, connection: Connection, name: str) -> Identity:
        row = connection.execute(
            select(schema.identities).where(schema.identities.c.name == name, schema.identities.c.status == HELD)
        ).one_or_none()
        if row is None:
            raise InputError(f"no enrolment named {name!r} is held for review")
        return self._identity_from_row(row)

    def identity(self, name: str) -> Identity:
        with self._tx() as connection:
            return self.identity_in(connection, name)

    def identities(self) -> list[Identity]:
        with self._tx() as connection:
            rows = connection.execute(
                select(schema.identities).where(schema.identities.c.status == "active").order_by(schema.identities.c.name)
            ).all()
        return [self._identity_from_row(row) for row in rows]

    def _embeddings_in(self, connection: Connection, identity: Identity) -> np.ndarray:
        blob_id = connection.execute(
            select(schema.blobs.c.id).where(schema.blobs.c.identity_id == identity.id, schema.blobs.c.kind == "embeddings")
        ).scalar_one_or_none()
        if blob_id is None:
            return np.zeros((0, 128), np.float32)
        return embeddings_from_bytes(self._open_blob(self._data_key(connection, identity), identity, blob_id, "embeddings"))

    def _all_embeddings(self, connection: Connection, *, exclude: str | None = None) -> dict[str, np.ndarray]:
        # Held enrolments count: two people waiting for review must not both slip through.
        rows = connection.execute(select(schema.identities).where(schema.identities.c.status.in_(("active", HELD)))).all()
        return {
            row.name: self._embeddings_in(connection, self._identity_from_row(row)) for row in rows if row.name != exclude
        }

    def _firewall(self, connection: Connection, name: str, items: list[FacesetItem]) -> Clearance:
        """One person in the faceset, and not one already enrolled: refuse, hold for review, or clear."""
        embeddings = np.stack([item.embedding for item in items])
        odd = strangers(embeddings)
        if odd:
            raise ConsentError(
                f"refused: the faceset for {name!r} holds more than one person (crops {', '.join(map(str, odd[:5]))} are someone else)"
            )
        verdict = clearance(embeddings, self._all_embeddings(connection, exclude=name))
        if verdict.outcome == "refuse":
            raise ConsentError(
                f"refused: this face is already enrolled as {verdict.nearest!r} (median distance {verdict.distance:.2f}, "
                f"{verdict.agreeing} of {verdict.crops} crops agree); one person, one identity"
            )
        return verdict

    def enrol(
        self,
        name: str,
        items: list[FacesetItem],
        *,
        role: str = "self",
        talent_passphrase: str | None = None,
        sources: list[str] | None = None,
        owner: Any = None,
        statement: tuple[str, str] | None = None,
    ) -> Identity:
        """Store a new identity: firewall checks, sealed blobs, then one committing transaction.

        ``owner``: the talent's own Ed25519 key (from their key file) to sign the enrolment
        statement; only its public half is stored. Without it a key is made here and sealed
        under ``talent_passphrase`` (single-machine use). ``statement``: (payload, signature) of an
        enrolment statement the talent already signed (in their browser), naming the identity id.
        """
        name = _check_name(name)
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if not items:
            raise NoFaceError(f"no usable face to enrol for {name!r}")
        if any(i.name == name for i in self.identities()):
            raise InputError(f"identity {name!r} already exists; add media to it with `likeness identity add`")
        if any(h.identity.name == name for h in self.held()):
            raise ConsentError(held_line(name))
        identity_id = str(uuid.uuid4())
        if statement is not None:
            sealed_owner = signed_statement_owner(*statement, name=name, vault_id=self.vault_id)
            identity_id = str(json.loads(statement[0])["identity_id"])
            if self._identity_row_exists(identity_id):
                raise InputError("the enrolment statement names an identity id already in use: sign a fresh one")
            owner = sealed_owner
        else:
            owner = held_owner_key(owner) if owner is not None else new_owner_key(identity_id, talent_passphrase or "", scrypt_n=self.scrypt_n)
        data_key = new_key()
        written: list[str] = []
        try:
            for item in items:
                written.append(self._seal_blob(data_key, identity_id, "item", item_bytes(item)))
            embeddings_id = self._seal_blob(
                data_key, identity_id, "embeddings", embeddings_bytes(np.stack([i.embedding for i in items]))
            )
            written.append(embeddings_id)
            cover = coverage(items)
            created = _now()
            statement_text, statement_sig = statement if statement is not None else sign_payload(
                owner.key, enrolment_statement(identity_id, name, owner.public_raw, self.vault_id, created)
            )
            with self._tx() as connection:
                self._lock_enrolment(connection)
                verdict = self._firewall(connection, name, items)
                status = HELD if verdict.outcome == "review" else "active"
                connection.execute(
                    insert(schema.identities).values(
                        statement=statement_text,
                        statement_sig=statement_sig,
                        id=identity_id,
                        name=name,
                        role=role,
                        status=status,
                        created=created,
                        item_count=len(items),
                        coverage=json.dumps(cover.as_dict()),
                        owner_public=owner.public_raw,
                        owner_key=owner.sealed_private,
                        owner_kdf=owner.kdf_json,
                    )
                )
                connection.execute(insert(schema.data_keys).values(identity_id=identity_id, wrapped=self._wrap(data_key, identity_id)))
                kinds = ["item"] * len(items) + ["embeddings"]
                connection.execute(
                    insert(schema.blobs),
                    [{"id": b, "identity_id": identity_id, "kind": k, "created": created} for b, k in zip(written, kinds)],
                )
                self.append(
                    connection,
                    "identity.enrol",
                    {"identity": name, "id": identity_id, "role": role, "items": len(items), "sources": [Path(s).name for s in sources or []],
                     "owner_key": owner_fp(owner.public_raw), "statement_sha256": ledger.payload_sha256(statement_text),
                     # The consent check reads these: a held enrolment renders only after an audited confirmation.
                     "status": status, "firewall": verdict.as_dict()},
                )
        except BaseException:
            for blob_id in written:
                delete_blob(self.blobs_dir, blob_id)
            raise
        if status == HELD:
            with self._tx() as connection:
                return self._held_in(connection, name)
        return self.identity(name)

    # -- review of held enrolments ------------------------------------------------------------

    def held(self) -> list[HeldEnrolment]:
        """Enrolments waiting for an operator, with the firewall's record of each from the chain."""
        with self._tx() as connection:
            rows = connection.execute(
                select(schema.identities).where(schema.identities.c.status == HELD).order_by(schema.identities.c.created)
            ).all()
        if not rows:
            return []
        _, facts = self.chain_facts()
        return [HeldEnrolment(self._identity_from_row(row), dict((facts.enrolments.get(row.id) or {}).get("firewall") or {})) for row in rows]

    def confirm_identity(self, name: str, *, different_from: str, by: str | None = None) -> Identity:
        """The operator says ``name`` is not ``different_from`` (the identity it was held for): it
        becomes usable, and the chain records who said so (the consent check looks for it)."""
        report, facts = self.chain_facts()
        if not report.ok:
            raise VaultError(f"the audit chain is broken at entry {report.bad_seq} ({report.problem}); nothing is confirmed until it is repaired")
        with self._tx() as connection:
            ident = self._held_in(connection, name)
            recorded = dict((facts.enrolments.get(ident.id) or {}).get("firewall") or {})
            nearest = recorded.get("nearest")
            if different_from != nearest:
                raise InputError(f"{name!r} was held for its likeness to {nearest!r}, not {different_from!r}: confirm it against {nearest!r}")
            done = connection.execute(
                update(schema.identities).where(schema.identities.c.id == ident.id, schema.identities.c.status == HELD).values(status="active")
            )
            if done.rowcount != 1:
                raise InputError(f"{name!r} is no longer held for review")
            self.append(connection, "identity.confirm", {"identity": name, "id": ident.id, "different_from": nearest,
                                                         "distance": recorded.get("distance"), "by": by})
        return self.identity(name)

    def reject_identity(self, name: str, *, by: str | None = None) -> None:
        """The operator says a held enrolment is someone already enrolled: it is crypto-shredded."""
        with self._tx() as connection:
            ident = self._held_in(connection, name)
            connection.execute(delete(schema.data_keys).where(schema.data_keys.c.identity_id == ident.id))
            connection.execute(update(schema.identities).where(schema.identities.c.id == ident.id).values(status="deleting"))
            self.append(connection, "identity.reject", {"identity": name, "id": ident.id, "by": by})
            self.append(connection, "identity.delete", {"identity": name, "id": ident.id})
        self._finish_deletion(ident.id)

    def _identity_row_exists(self, identity_id: str) -> bool:
        with self._tx() as connection:
            return connection.execute(select(schema.identities.c.id).where(schema.identities.c.id == identity_id)).first() is not None

    def add_media(self, name: str, items: list[FacesetItem], *, sources: list[str] | None = None) -> Identity:
        """Add crops to an existing identity, after checking they show the same person."""
        if not items:
            raise NoFaceError(f"no usable face to add to {name!r}")
        identity = self.identity(name)
        with self._tx() as connection:
            data_key = self._data_key(connection, identity)
            old = self._embeddings_in(connection, identity)
        new = np.stack([i.embedding for i in items])
        odd = strangers(new)
        if odd or (len(old) and same_person(new, old) is None):
            raise ConsentError(f"refused: the new media does not show {name!r} (or shows several people)")
        written: list[str] = []
        try:
            for item in items:
                written.append(self._seal_blob(data_key, identity.id, "item", item_bytes(item)))
            emb_id = self._seal_blob(data_key, identity.id, "embeddings", embeddings_bytes(np.concatenate([old, new])))
            written.append(emb_id)
            faceset = self.faceset(name)
            cover = coverage(list(faceset.items) + list(items))
            created = _now()
            with self._tx() as connection:
                self._lock_enrolment(connection)
                old_emb = connection.execute(
                    select(schema.blobs.c.id).where(schema.blobs.c.identity_id == identity.id, schema.blobs.c.kind == "embeddings")
                ).scalars().all()
                connection.execute(delete(schema.blobs).where(schema.blobs.c.id.in_(old_emb)))
                kinds = ["item"] * len(items) + ["embeddings"]
                connection.execute(
                    insert(schema.blobs),
                    [{"id": b, "identity_id": identity.id, "kind": k, "created": created} for b, k in zip(written, kinds)],
                )
                connection.execute(
                    update(schema.identities)
                    .where(schema.identities.c.id == identity.id)
                    .values(item_count=cover.items, coverage=json.dumps(cover.as_dict()))
                )
                self.append(
                    connection, "identity.add", {"identity": name, "items": len(items), "sources": [Path(s).name for s in sources or []]}
                )
        except BaseException:
            for blob_id in written:
                delete_blob(self.blobs_dir, blob_id)
            raise
        for blob_id in old_emb:
            delete_blob(self.blobs_dir, blob_id)
        return self.identity(name)

    def faceset(self, name: str) -> Faceset:
        """Every crop of ``name``, decrypted into memory (never onto disk)."""
        with self._tx() as connection:
            identity = self.identity_in(connection, name)
            data_key = self._data_key(connection, identity)
            blob_ids = connection.execute(
                select(schema.blobs.c.id)
                .where(schema.blobs.c.identity_id == identity.id, schema.blobs.c.kind == "item")
                .order_by(schema.blobs.c.id)
            ).scalars().all()
        items = tuple(
            item_from_bytes(self._open_blob(data_key, identity, b, "item"), what=f"blob {b}") for b in blob_ids
        )
        return Faceset(identity=name, items=items)

    def embeddings(self, name: str) -> np.ndarray:
        with self._tx() as connection:
            return self._embeddings_in(connection, self.identity_in(connection, name))

    def match(self, embeddings: np.ndarray) -> str | None:
        """The enrolled identity these embeddings belong to, if any (the firewall's question)."""
        with self._tx() as connection:
            found = closest(np.asarray(embeddings).reshape(-1, 128), self._all_embeddings(connection))
        return found.identity if found else None

    def owner_key(self, name: str, talent_passphrase: str | None):  # -> Ed25519PrivateKey
        """The talent's private signing key; needs the talent passphrase, not the vault's."""
        with self._tx() as connection:
            row = connection.execute(
                select(schema.identities).where(schema.identities.c.name == name, schema.identities.c.status == "active")
            ).one_or_none()
        if row is None:
            raise InputError(f"no identity named {name!r} in the vault")
        return unlock_owner_key(name, row.id, bytes(row.owner_key), row.owner_kdf, talent_passphrase)

    def delete_identity(self, name: str) -> None:
        """Crypto-shred: drop the wrapped data key (committed first), then blobs, models and rows."""
        with self._tx() as connection:
            identity = self.identity_in(connection, name)
            connection.execute(delete(schema.data_keys).where(schema.data_keys.c.identity_id == identity.id))
            connection.execute(update(schema.identities).where(schema.identities.c.id == identity.id).values(status="deleting"))
            self.append(connection, "identity.delete", {"identity": name, "id": identity.id})
        self._finish_deletion(identity.id)

    def _finish_deletion(self, identity_id: str) -> None:
        with self._tx() as connection:
            blob_ids = connection.execute(select(schema.blobs.c.id).where(schema.blobs.c.identity_id == identity_id)).scalars().all()
        for blob_id in blob_ids:
            delete_blob(self.blobs_dir, blob_id)
        with self._tx() as connection:
            grant_ids = select(schema.grants.c.id).where(schema.grants.c.identity_id == identity_id)
            connection.execute(delete(schema.revocations).where(schema.revocations.c.grant_id.in_(grant_ids)))
            connection.execute(delete(schema.grants).where(schema.grants.c.identity_id == identity_id))
            connection.execute(delete(schema.models).where(schema.models.c.identity_id == identity_id))
            connection.execute(delete(schema.blobs).where(schema.blobs.c.identity_id == identity_id))
            connection.execute(delete(schema.data_keys).where(schema.data_keys.c.identity_id == identity_id))
            connection.execute(delete(schema.identities).where(schema.identities.c.id == identity_id))
        self._checkpoint()

    def _checkpoint(self) -> None:
        # Fold the WAL into the database (secure_delete zeroed the freed pages) and truncate it,
        # so the shredded key does not linger in the log file.
        if self._engine.dialect.name == "sqlite":
            raw = self._engine.raw_connection()  # outside any transaction: a checkpoint cannot run in one
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                raw.close()

    def recover(self, *, min_age_s: float = ORPHAN_GRACE_S) -> int:
        """Finish interrupted deletions and remove stray blob files; returns files removed."""
        with self._tx() as connection:
            pending = connection.execute(
                select(schema.identities.c.id).where(schema.identities.c.status == "deleting")
            ).scalars().all()
        if pending:
            report, facts = self.chain_facts()
            for identity_id in pending:
                if report.ok and identity_id in facts.deletions:
                    self._finish_deletion(identity_id)  # a deletion cut short: the chain recorded it
        with self._tx() as connection:
            known = set(connection.execute(select(schema.blobs.c.id)).scalars().all())
        strays = stray_files(self.blobs_dir, known, min_age_s=min_age_s)
        for path in strays:
            path.unlink(missing_ok=True)
        return len(strays)

    # -- grants, uses and renders (ledger.py; the consent package signs and checks) ----------

    def store_grant(self, identity: str, grant_id: str, payload: str, signature: str, max_renders: int | None, audit_data: dict) -> None:
        ledger.store_grant(self, identity, grant_id, payload, signature, max_renders, audit_data)

    def store_revocation(self, grant_id: str, payload: str, signature: str, audit_data: dict) -> None:
        ledger.store_revocation(self, grant_id, payload, signature, audit_data)

    def grant_record(self, grant_id: str) -> GrantRecord | None:
        return ledger.grant_record(self, grant_id)

    def grant_records(self, identity: str | None = None) -> list[GrantRecord]:
        return ledger.grant_records(self, identity)

    def take(self, terms: ledger.Terms, *, use: str, data: dict[str, Any], produce: Any = None) -> Taken:
        """Take and record the next use of a grant (see :func:`ledger.take`)."""
        return ledger.take(self, terms, use=use, data=data, produce=produce)

    def record_preview(self, terms: ledger.Terms, record: RenderRecord, data: dict[str, Any]) -> None:
        """Register an output that a use already counted (a training preview)."""
        ledger.record_unnumbered(self, terms, record, data)

    def render(self, render_id: int) -> RenderRecord | None:
        """The registry row of a render (as stored; :meth:`verified_render` checks it against the chain)."""
        return ledger.render(self, render_id)

    def render_by_output(self, output_sha256: str) -> RenderRecord | None:
        return ledger.render_by_output(self, output_sha256)

    def verified_render(self, *, render_id: int | None = None, output_sha256: str | None = None) -> tuple[RenderRecord | None, str | None]:
        """A render whose row agrees with its keyed audit entry (None and why, otherwise)."""
        row = self.render(render_id) if render_id is not None else self.render_by_output(str(output_sha256))
        return ledger.verified(self, row)

    # -- trained models -----------------------------------------------------------------------

    def put_model(self, identity: str, payload: bytes, meta: dict[str, Any]) -> str:
        """Seal a trained model under the identity's data key; shredded with the identity."""
        ident = self.identity(identity)
        with self._tx() as connection:
            data_key = self._data_key(connection, ident)
        model_id = uuid.uuid4().hex
        blob_id = self._seal_blob(data_key, ident.id, "model", bytes(payload))
        sealed_meta = seal(data_key, audit_log.canonical(meta), associated_data("model-meta", ident.id, model_id))
        try:
            with self._tx() as connection:
                created = _now()
                connection.execute(insert(schema.blobs).values(id=blob_id, identity_id=ident.id, kind="model", created=created))
                connection.execute(
                    insert(schema.models).values(id=model_id, identity_id=ident.id, blob_id=blob_id, meta=sealed_meta, created=created)
                )
                self.append(connection, "model.put", {"identity": identity, "model": model_id, "bytes": len(payload)})
        except BaseException:
            delete_blob(self.blobs_dir, blob_id)
            raise
        return model_id

    def _model_row(self, connection: Connection, model_id: str) -> tuple[Any, Identity]:
        row = connection.execute(select(schema.models).where(schema.models.c.id == model_id)).one_or_none()
        if row is None:
            raise InputError(f"no model {model_id} in the vault")
        ident_row = connection.execute(select(schema.identities).where(schema.identities.c.id == row.identity_id)).one()
        return row, self._identity_from_row(ident_row)

    def get_model(self, model_id: str) -> tuple[bytes, dict[str, Any]]:
        with self._tx() as connection:
            row, ident = self._model_row(connection, model_id)
            data_key = self._data_key(connection, ident)
        payload = self._open_blob(data_key, ident, row.blob_id, "model")
        meta = unseal(data_key, row.meta, associated_data("model-meta", ident.id, model_id), what=f"metadata of model {model_id}")
        return payload, json.loads(meta)

    def list_models(self, identity: str | None = None) -> list[ModelInfo]:
        out = []
        with self._tx() as connection:
            query = select(schema.models).order_by(schema.models.c.created)
            if identity is not None:
                query = query.where(schema.models.c.identity_id == self.identity_in(connection, identity).id)
            for row in connection.execute(query).all():
                _, ident = self._model_row(connection, row.id)
                if ident.status != "active":
                    continue
                data_key = self._data_key(connection, ident)
                meta = unseal(data_key, row.meta, associated_data("model-meta", ident.id, row.id), what=f"metadata of model {row.id}")
                out.append(ModelInfo(row.id, ident.name, json.loads(meta), row.created))
        return out

    def delete_model(self, model_id: str) -> None:
        with self._tx() as connection:
            row, ident = self._model_row(connection, model_id)
            connection.execute(delete(schema.models).where(schema.models.c.id == model_id))
            connection.execute(delete(schema.blobs).where(schema.blobs.c.id == row.blob_id))
            self.append(connection, "model.delete", {"identity": ident.name, "model": model_id})
        delete_blob(self.blobs_dir, row.blob_id)


# -- creating and opening ---------------------------------------------------------------------


def _require_passphrase(settings: Settings) -> str:
    if not settings.passphrase:
        raise VaultError("no vault passphrase: set LIKENESS_PASSPHRASE or enter it at the prompt")
    return settings.passphrase


def _prepare_home(settings: Settings) -> None:
    try:
        private_dir(settings.home)
        private_dir(settings.blobs)
        private_database(settings.database_url)
    except OSError as exc:
        raise VaultError(f"cannot create the vault folder {settings.home}: {exc.strerror}") from None


def _read_meta(connection: Connection) -> dict[str, bytes]:
    return {row.key: bytes(row.value) for row in connection.execute(select(schema.meta)).all()}


def init_vault(settings: Settings, *, studio: str = "demo-studio", scrypt_n: int = DEFAULT_SCRYPT_N) -> Vault:
    """Create a vault: master key (scrypt, salt in the DB), studio C2PA chain, audit chain."""
    from likeness.vault.certs import make_studio_chain

    passphrase = _require_passphrase(settings)
    studio = studio.strip()
    if not studio or len(studio) > 200:
        raise InputError("the studio name must be 1-200 characters")
    _prepare_home(settings)
    engine = make_engine(settings.database_url)
    migrate(engine)
    params = new_kdf_params(scrypt_n)
    master = derive_key(passphrase, params)
    vault_id = str(uuid.uuid4())
    chain = make_studio_chain(studio, vault_id=vault_id)
    kdf = json.dumps({"salt": params.salt.hex(), "n": params.n, "r": params.r, "p": params.p}).encode()
    try:
        with engine.begin() as connection:
            if _read_meta(connection):
                raise VaultError(f"a vault already exists at {_where(settings)}; open it instead")
            rows = {
                "kdf": kdf,
                "keycheck": seal(master, KEYCHECK, associated_data("keycheck")),
                "studio": studio.encode("utf-8"),
                "root_cert": chain.root_cert_pem,
                "leaf_cert": chain.leaf_cert_pem,
                "leaf_key": seal(master, chain.leaf_key_pem, associated_data("studio-leaf-key")),
                "vault_id": vault_id.encode("ascii"),
                "binding": seal(master, _binding(vault_id, studio, chain.root_cert_pem, chain.leaf_cert_pem), associated_data("binding")),
            }
            connection.execute(insert(schema.meta), [{"key": k, "value": v} for k, v in rows.items()])
            audit_log.start_chain(connection)
            audit_log.append(connection, _derived(master, "audit-chain"), "vault.init", {"studio": studio, "vault": vault_id})
    except SQLAlchemyError as exc:
        engine.dispose()
        raise VaultError(f"cannot initialise the vault: {getattr(exc, 'orig', None) or exc}") from None
    except BaseException:
        engine.dispose()
        raise
    import hashlib

    bound = {"root_sha256": hashlib.sha256(chain.root_cert_pem).hexdigest(), "leaf_sha256": hashlib.sha256(chain.leaf_cert_pem).hexdigest()}
    return Vault(settings, engine, master, studio, params.n, vault_id, (), bound)


def _binding(vault_id: str, studio: str, root_pem: bytes, leaf_pem: bytes) -> bytes:
    import hashlib

    return audit_log.canonical({"vault": vault_id, "studio": studio, "root_sha256": hashlib.sha256(root_pem).hexdigest(),
                                "leaf_sha256": hashlib.sha256(leaf_pem).hexdigest()})


def _check_binding(master: bytes, meta: dict[str, bytes]) -> tuple[str, str, tuple[str, ...], dict[str, str]]:
    """(vault id, studio) as created, what in ``meta`` no longer agrees with them, and the bound certificate hashes."""
    import hashlib

    if "binding" not in meta:
        raise VaultError("this vault was made by an older likeness without a vault id; create a new vault with `likeness init`")
    try:
        bound = json.loads(unseal(master, meta["binding"], associated_data("binding"), what="the vault binding"))
    except VaultError:
        raise VaultError("the vault's binding (vault id, studio, C2PA root) is corrupt or was replaced in the database") from None
    problems = []
    stored_studio = meta.get("studio", b"").decode("utf-8", "replace")
    if stored_studio != bound["studio"]:
        problems.append(f"the studio name in the database ({stored_studio!r}) is not the one this vault was created with ({bound['studio']!r})")
    stored_id = meta.get("vault_id", b"").decode("ascii", "replace")
    if stored_id != bound["vault"]:
        problems.append(f"the vault id in the database ({stored_id}) is not the one this vault was created with ({bound['vault']})")
    for which in ("root", "leaf"):
        if hashlib.sha256(meta.get(f"{which}_cert", b"")).hexdigest() != bound[f"{which}_sha256"]:
            problems.append(f"the C2PA {which} certificate in the database is not the one this vault was created with")
    certificates = {k: bound[k] for k in ("root_sha256", "leaf_sha256")}
    return bound["vault"], bound["studio"], tuple(problems), certificates


def _where(settings: Settings) -> str:
    url = settings.database_url
    return str(settings.home) if url.startswith("sqlite") else url.split("@")[-1]


def open_vault(settings: Settings, *, recover: bool = True) -> Vault:
    """Unlock an existing vault; VaultError (nothing changed) on a wrong passphrase."""
    if settings.database_url.startswith("sqlite"):
        path = settings.database_url.split("///", 1)[-1]
        if not os.path.exists(path):
            raise VaultError(f"no vault at {settings.home}: run `likeness init` first")
        private_database(settings.database_url)  # a vault made before this was 0644
    passphrase = _require_passphrase(settings)
    engine = make_engine(settings.database_url)
    try:
        try:
            connection = engine.connect()
        except OperationalError as exc:
            raise VaultError(f"cannot reach the vault database at {_where(settings)}: {str(exc.orig).strip().splitlines()[0]}") from None
        try:
            meta = _read_meta(connection)
        except SQLAlchemyError:
            meta = {}  # no tables yet: never initialised
        finally:
            connection.close()
        if "keycheck" not in meta:
            raise VaultError(f"no vault at {_where(settings)}: run `likeness init` first")
        kdf = json.loads(meta["kdf"])
        params = KdfParams(salt=bytes.fromhex(kdf["salt"]), n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
        master = derive_key(passphrase, params)
        try:
            unseal(master, meta["keycheck"], associated_data("keycheck"), what="key check")
        except VaultError:
            raise VaultError(f"wrong vault passphrase for {_where(settings)}") from None
        migrate(engine)  # only after the passphrase is proven: a wrong one changes nothing
        vault_id, studio, problems, certificates = _check_binding(master, meta)
        vault = Vault(settings, engine, master, studio, params.n, vault_id, problems, certificates)
    except BaseException:
        engine.dispose()
        raise
    if recover:
        _prepare_home(settings)
        vault.recover()
    return vault
