"""The grant ledger: signed grants and revocations as stored, and every use of a grant.

Rows here are conveniences; the facts live in the keyed audit chain. Each grant, revocation and
use is appended to the chain in the same transaction as its row, and the consent check reads
the chain (``facts``) to count uses and find revocations, so an edited or deleted row is a
disagreement it reports, never a render it allows.

A use (a render, a training run) is taken in :func:`take`, inside one transaction that holds
the chain's head lock: the chain is re-read, the next use number is given out only when the
quota has room and no revocation arrived, the caller's ``produce`` makes the output for that
number (the pipeline seals the file there, so the number inside the output is exact), and the
entry naming the output's hash is appended. A racer that finds the quota full gets nothing and
its output is discarded by the caller.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, text, update

from likeness.errors import ConsentError, InputError
from likeness.vault import audit as audit_log
from likeness.vault import schema

if TYPE_CHECKING:
    from likeness.vault.store import Vault

_USE_LOCK = 0x55534547  # "USEG": serialises takes on PostgreSQL (the head row lock does too; this is explicit)


@dataclass(frozen=True)
class GrantRecord:
    """A grant as stored: the exact signed payload and signature, the row's counter, and the
    identity row it points at (id, name, owner key, enrolment statement)."""

    id: str
    identity: str
    payload: str
    signature: str
    max_renders: int | None
    used: int
    created: str
    revocation: tuple[str, str] | None = None  # (payload, signature) of the signed revocation
    identity_id: str = ""
    identity_role: str = ""
    owner_public: bytes = b""
    statement: tuple[str, str] | None = None  # (payload, signature) of the enrolment statement


@dataclass(frozen=True)
class RenderRecord:
    """One render in the registry; ``render_id`` is what the watermark carries.

    ``n`` is the render's number under its grant (None for a training preview, which the
    training run's own use covers); ``fingerprint`` the perceptual fingerprint of the output
    (sealed in the vault, never a picture).
    """

    render_id: int
    grant_id: str
    identity: str
    target_sha256: str
    output_sha256: str
    engine: str
    settings: dict[str, Any]
    time: float
    n: int | None = None
    fingerprint: bytes | None = None


@dataclass(frozen=True)
class Taken:
    """A use the ledger granted: its number and the render it recorded (None for training)."""

    n: int
    render: RenderRecord | None
    entry: audit_log.AuditEntry


def payload_sha256(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def held_line(name: str, nearest: str | None = None) -> str:
    """The one line every refused use of an enrolment held for review says."""
    close = f"close to {nearest!r}" if nearest else "close to an enrolled identity"
    return (f"identity {name!r} is held for review (its face is {close}): an operator must confirm they are different people "
            "first (`likeness identity review`)")


def held_problem(vault: "Vault", connection: Connection, identity_id: str, name: str) -> str | None:
    """Why a grant cannot be stored for this identity, when the chain says it is still held for review."""
    facts = audit_log.ChainFacts()
    if not audit_log.verify(connection, vault.audit_key, facts=facts).ok:
        return None  # the consent check refuses every render on a broken chain, and says why
    held = facts.held(identity_id)
    if held is None:
        return None
    return held_line(name, held.get("nearest")) + "; the audit chain records no confirmation, whatever its status row says"


def store_grant(vault: "Vault", identity: str, grant_id: str, payload: str, signature: str, max_renders: int | None, audit_data: dict) -> None:
    with vault.transaction() as connection:
        ident = vault.identity_in(connection, identity)
        problem = held_problem(vault, connection, ident.id, ident.name)
        if problem is not None:
            raise ConsentError(problem)
        if connection.execute(select(schema.grants.c.id).where(schema.grants.c.id == grant_id)).first():
            raise InputError(f"grant {grant_id} is already in the vault")
        connection.execute(
            insert(schema.grants).values(
                id=grant_id, identity_id=ident.id, payload=payload, signature=signature, max_renders=max_renders, used=0,
                created=audit_log.now_iso(),
            )
        )
        vault.append(connection, "grant.create", dict(audit_data, identity_id=ident.id, payload_sha256=payload_sha256(payload)))


def store_revocation(vault: "Vault", grant_id: str, payload: str, signature: str, audit_data: dict) -> None:
    with vault.transaction() as connection:
        if connection.execute(select(schema.revocations.c.grant_id).where(schema.revocations.c.grant_id == grant_id)).first():
            raise InputError(f"grant {grant_id} is already revoked")
        connection.execute(
            insert(schema.revocations).values(grant_id=grant_id, payload=payload, signature=signature, created=audit_log.now_iso())
        )
        vault.append(connection, "grant.revoke", dict(audit_data, payload_sha256=payload_sha256(payload)))


def _grant_query():  # noqa: ANN202
    return (
        select(
            schema.grants,
            schema.identities.c.name.label("identity_name"),
            schema.identities.c.owner_public.label("owner_public"),
            schema.identities.c.role.label("identity_role"),
            schema.identities.c.statement.label("statement"),
            schema.identities.c.statement_sig.label("statement_sig"),
            schema.revocations.c.payload.label("rev_payload"),
            schema.revocations.c.signature.label("rev_signature"),
        )
        .join(schema.identities, schema.identities.c.id == schema.grants.c.identity_id)
        .outerjoin(schema.revocations, schema.revocations.c.grant_id == schema.grants.c.id)
        .where(schema.identities.c.status == "active")
    )


def _grant_from_row(row: Any) -> GrantRecord:
    return GrantRecord(
        id=row.id,
        identity=row.identity_name,
        payload=row.payload,
        signature=row.signature,
        max_renders=row.max_renders,
        used=row.used,
        created=row.created,
        revocation=(row.rev_payload, row.rev_signature) if row.rev_payload is not None else None,
        identity_id=row.identity_id,
        identity_role=row.identity_role,
        owner_public=bytes(row.owner_public),
        statement=(row.statement, row.statement_sig) if row.statement is not None else None,
    )


def grant_record(vault: "Vault", grant_id: str) -> GrantRecord | None:
    with vault.transaction() as connection:
        row = connection.execute(_grant_query().where(schema.grants.c.id == grant_id)).one_or_none()
    return _grant_from_row(row) if row else None


def grant_records(vault: "Vault", identity: str | None = None) -> list[GrantRecord]:
    query = _grant_query().order_by(schema.grants.c.created)
    if identity is not None:
        query = query.where(schema.identities.c.name == identity)
    with vault.transaction() as connection:
        return [_grant_from_row(row) for row in connection.execute(query).all()]


def _lock(vault: "Vault", connection: Connection) -> None:
    """Hold the chain still while it is read and the use recorded.

    SQLite already holds the write lock (BEGIN IMMEDIATE). PostgreSQL takes the use lock and the
    chain's head row: no other entry can be appended (a consent decision elsewhere) until this
    transaction ends, so the walk sees one consistent chain.
    """
    if vault.engine.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _USE_LOCK})
        connection.execute(select(schema.audit_head.c.seq).where(schema.audit_head.c.id == 1).with_for_update())


@dataclass(frozen=True)
class Terms:
    """What a use must still satisfy when it is recorded (from the signed grant, checked again)."""

    grant_id: str
    identity_id: str
    max_renders: int | None
    not_before: datetime
    expires: datetime


def _recheck(connection: Connection, facts: audit_log.ChainFacts, terms: Terms, use: str) -> None:
    """What may have changed since the consent check: revocation, window, the identity itself."""
    if terms.grant_id in facts.revocations:
        raise ConsentError(f"grant {terms.grant_id} was revoked while this {use} ran; its output was discarded")
    now = datetime.now(timezone.utc)
    if not terms.not_before <= now < terms.expires:
        raise ConsentError(f"grant {terms.grant_id} is outside its window now ({terms.expires.isoformat()}); its output was discarded")
    status = connection.execute(
        select(schema.identities.c.status).where(schema.identities.c.id == terms.identity_id)
    ).scalar_one_or_none()
    if status != "active" or terms.identity_id in facts.deletions:
        raise ConsentError(f"the identity of grant {terms.grant_id} was deleted while this {use} ran; its output was discarded")
    if facts.held(terms.identity_id) is not None:
        raise ConsentError(f"the identity of grant {terms.grant_id} is held for review with no audited confirmation; its output was discarded")


def _verified_facts(vault: "Vault", connection: Connection) -> audit_log.ChainFacts:
    facts = audit_log.ChainFacts()
    report = audit_log.verify(connection, vault.audit_key, facts=facts)
    if not report.ok:
        raise ConsentError(f"the audit chain is broken at entry {report.bad_seq} ({report.problem}); no use can be recorded")
    return facts


def take(
    vault: "Vault",
    terms: Terms,
    *,
    use: str,
    data: dict[str, Any],
    produce: Callable[[int], RenderRecord] | None = None,
) -> Taken:
    """Take the next use of the grant and record it, in one transaction.

    ``produce(n)`` runs inside the transaction (the lock held) and returns the render it made
    under number ``n``; an exception from it takes nothing. Raises :class:`ConsentError` when
    the quota is full, or the grant was revoked, ran out or lost its identity since the check
    (the caller discards its output).
    """
    grant_id, max_renders = terms.grant_id, terms.max_renders
    with vault.transaction() as connection:
        _lock(vault, connection)
        facts = _verified_facts(vault, connection)
        _recheck(connection, facts, terms, use)
        n = len(facts.uses.get(grant_id, [])) + 1
        if max_renders is not None and n > max_renders:
            raise ConsentError(
                f"the quota of grant {grant_id} filled up while this {use} ran ({max_renders} of {max_renders} used); its output was discarded"
            )
        record = produce(n) if produce is not None else None
        entry_data = dict(data, grant=grant_id, use=use, n=n)
        if record is not None:
            _insert_render(vault, connection, record)
            entry_data.update(_render_entry(record))
        entry = vault.append(connection, "render.record" if record is not None else "grant.use", entry_data)
        connection.execute(update(schema.grants).where(schema.grants.c.id == grant_id).values(used=n))
    return Taken(n, record, entry)


def record_unnumbered(vault: "Vault", terms: Terms, record: RenderRecord, data: dict[str, Any]) -> None:
    """Record an output a use already covers (a training preview): registered, not counted,
    and refused like a use when the grant was revoked, ran out or lost its identity meanwhile."""
    with vault.transaction() as connection:
        _lock(vault, connection)
        _recheck(connection, _verified_facts(vault, connection), terms, "preview")
        _insert_render(vault, connection, record)
        vault.append(connection, "render.record", dict(data, grant=record.grant_id, n=None, **_render_entry(record)))


def _render_entry(record: RenderRecord) -> dict[str, Any]:
    """What the chain keeps of a render, so a row edited later is caught (see ``verified``)."""
    return {
        "render_id": f"{record.render_id:016x}",
        "output_sha256": record.output_sha256,
        "identity": record.identity,
        "fingerprint_sha256": hashlib.sha256(record.fingerprint).hexdigest() if record.fingerprint else None,
    }


def verified(vault: "Vault", record: RenderRecord | None) -> tuple[RenderRecord | None, str | None]:
    """``record`` when the keyed chain's entry for it agrees with the row; else None and why."""
    if record is None:
        return None, None
    report, facts = vault.chain_facts()
    if not report.ok:
        return None, f"the audit chain is broken at entry {report.bad_seq}: the render registry cannot be trusted"
    entry = facts.renders.get(f"{record.render_id:016x}")
    if entry is None:
        return None, f"render {record.render_id:016x} has a registry row but no entry in the audit chain (the row was inserted)"
    fingerprint = hashlib.sha256(record.fingerprint).hexdigest() if record.fingerprint else None
    for key, value in (("output_sha256", record.output_sha256), ("grant", record.grant_id), ("identity", record.identity),
                       ("n", record.n), ("fingerprint_sha256", fingerprint)):
        if entry.get(key) != value:
            return None, f"the registry row of render {record.render_id:016x} does not match its audit entry ({key} was edited)"
    return record, None


def _insert_render(vault: "Vault", connection: Connection, record: RenderRecord) -> None:
    when = datetime.fromtimestamp(record.time, timezone.utc).isoformat(timespec="microseconds")
    connection.execute(
        insert(schema.renders).values(
            id=record.render_id,
            grant_id=record.grant_id,
            identity=record.identity,
            target_sha256=record.target_sha256,
            output_sha256=record.output_sha256,
            engine=record.engine,
            settings=audit_log.canonical(record.settings).decode("utf-8"),
            time=when,
            n=record.n,
            fingerprint=vault.seal_fingerprint(record.render_id, record.fingerprint) if record.fingerprint else None,
        )
    )


def _render_from_row(vault: "Vault", row: Any) -> RenderRecord:
    return RenderRecord(
        render_id=row.id,
        grant_id=row.grant_id,
        identity=row.identity,
        target_sha256=row.target_sha256,
        output_sha256=row.output_sha256,
        engine=row.engine,
        settings=json.loads(row.settings),
        time=datetime.fromisoformat(row.time).timestamp(),
        n=row.n,
        fingerprint=vault.open_fingerprint(row.id, bytes(row.fingerprint)) if row.fingerprint is not None else None,
    )


def render(vault: "Vault", render_id: int) -> RenderRecord | None:
    with vault.transaction() as connection:
        row = connection.execute(select(schema.renders).where(schema.renders.c.id == int(render_id))).one_or_none()
    return _render_from_row(vault, row) if row is not None else None


def render_by_output(vault: "Vault", output_sha256: str) -> RenderRecord | None:
    """The render whose output has exactly this hash (how ``verify`` finds a record)."""
    with vault.transaction() as connection:
        row = connection.execute(
            select(schema.renders).where(schema.renders.c.output_sha256 == output_sha256).order_by(schema.renders.c.time)
        ).first()
    return _render_from_row(vault, row) if row is not None else None
