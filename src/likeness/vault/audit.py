"""The audit log: a hash chain of plain JSON entries, appended inside the caller's transaction.

Each entry's hash covers the previous hash and the canonical entry (seq, time, event, data), so
editing, inserting or deleting any entry breaks the chain at that entry; the head row catches
a removed last entry. Entries hold names, ids and counts, never face data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, insert, select, update

from likeness.errors import VaultError
from likeness.vault import schema

GENESIS = "0" * 64
MAX_STRING = 1000  # long strings in an audit entry are a smell (a base64 crop, an embedding)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: str
    event: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditReport:
    """``ok`` with the head, or the first bad ``seq`` and what is wrong there."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    problem: str | None = None


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 (what hashes and signatures cover)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def entry_hash(prev_hash: str, seq: int, time: str, event: str, data: dict[str, Any]) -> str:
    body = canonical({"seq": seq, "time": time, "event": event, "data": data})
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


def _check_plain(value: Any, path: str = "data") -> None:
    if value is None or isinstance(value, (bool, int, float)):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise VaultError(f"audit {path} is {len(value)} characters long; audit entries hold no bulk data")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise VaultError(f"audit {path} has a non-string key")
            _check_plain(item, f"{path}.{key}")
        return
    raise VaultError(f"audit {path} is a {type(value).__name__}; audit entries hold plain JSON only")


def start_chain(connection: Connection) -> None:
    """Create the head row (once, at vault creation, so appends only ever update it)."""
    connection.execute(insert(schema.audit_head).values(id=1, seq=0, hash=GENESIS))


def append(connection: Connection, event: str, data: dict[str, Any]) -> AuditEntry:
    """Append one entry in the caller's transaction; the head row lock orders concurrent appends."""
    _check_plain(data)
    data = json.loads(canonical(data))  # tuples -> lists, so what is hashed is what is stored
    head = connection.execute(
        select(schema.audit_head.c.seq, schema.audit_head.c.hash).where(schema.audit_head.c.id == 1).with_for_update()
    ).one_or_none()
    if head is None:
        raise VaultError("the audit chain has no head row; the vault database is damaged")
    seq, time = head.seq + 1, now_iso()
    digest = entry_hash(head.hash, seq, time, event, data)
    connection.execute(
        insert(schema.audit).values(
            seq=seq, time=time, event=event, data=canonical(data).decode("utf-8"), prev_hash=head.hash, hash=digest
        )
    )
    connection.execute(update(schema.audit_head).where(schema.audit_head.c.id == 1).values(seq=seq, hash=digest))
    return AuditEntry(seq, time, event, data, head.hash, digest)


def entries(connection: Connection, *, limit: int | None = None) -> list[AuditEntry]:
    """Entries in order (the last ``limit`` when given)."""
    query = select(schema.audit).order_by(schema.audit.c.seq.desc() if limit else schema.audit.c.seq)
    if limit:
        query = query.limit(limit)
    rows = connection.execute(query).all()
    if limit:
        rows = rows[::-1]
    out = []
    for row in rows:
        try:
            data = json.loads(row.data)
        except ValueError:
            data = {"unreadable": True}
        out.append(AuditEntry(row.seq, row.time, row.event, data, row.prev_hash, row.hash))
    return out


def verify(connection: Connection) -> AuditReport:
    """Walk the chain from the start; report the first entry that is edited, inserted or missing."""
    head = connection.execute(select(schema.audit_head).where(schema.audit_head.c.id == 1)).one_or_none()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    prev_hash, expected_seq, count = GENESIS, 1, 0

    def bad(seq: int, problem: str) -> AuditReport:
        return AuditReport(False, count, head_seq, head_hash, seq, problem)

    for row in connection.execute(select(schema.audit).order_by(schema.audit.c.seq)):
        count += 1
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                return bad(expected_seq, f"entry {expected_seq} is missing (next is {row.seq})")
            return bad(row.seq, f"entry {row.seq} is out of order")
        try:
            data = json.loads(row.data)
        except ValueError:
            return bad(row.seq, f"entry {row.seq} has unreadable data")
        if row.prev_hash != prev_hash:
            return bad(row.seq, f"entry {row.seq} does not link to entry {row.seq - 1} (inserted or edited)")
        if entry_hash(prev_hash, row.seq, row.time, row.event, data) != row.hash or canonical(data).decode() != row.data:
            return bad(row.seq, f"entry {row.seq} was edited (its hash does not match its content)")
        prev_hash, expected_seq = row.hash, expected_seq + 1
    last = expected_seq - 1
    if last < head_seq:
        return bad(last + 1, f"entries {last + 1}..{head_seq} are missing (the head records {head_seq})")
    if last > head_seq or prev_hash != head_hash:
        return bad(head_seq if last != head_seq else last, f"the chain does not end at the recorded head (seq {head_seq}); entries were added or edited after it")
    return AuditReport(True, count, head_seq, head_hash)
