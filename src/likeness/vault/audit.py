"""The audit log: a keyed hash chain of plain JSON entries, appended inside the caller's transaction.

Each entry's hash is an HMAC-SHA256, under a key derived from the vault's master key, of the
previous hash and the canonical entry (seq, time, event, data). Editing, inserting or deleting
any entry breaks the chain at that entry, and a database writer without the passphrase cannot
recompute it. The head row catches a removed last entry; a truncated chain with a matching head
is caught by the signed heads a talent saved (``extends``). Entries hold names, ids and counts,
never face data.

The chain is also where consent facts live (renders, revocations, grants, enrolments):
``facts`` reads them from a verified chain, so the consent check never rests on a mutable row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
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


def entry_hash(key: bytes, prev_hash: str, seq: int, time: str, event: str, data: dict[str, Any]) -> str:
    """HMAC-SHA256 of the previous hash and the canonical entry: only the key holder can chain."""
    body = canonical({"seq": seq, "time": time, "event": event, "data": data})
    return hmac.new(key, prev_hash.encode("ascii") + body, hashlib.sha256).hexdigest()


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


def append(connection: Connection, key: bytes, event: str, data: dict[str, Any]) -> AuditEntry:
    """Append one entry in the caller's transaction; the head row lock orders concurrent appends."""
    _check_plain(data)
    data = json.loads(canonical(data))  # tuples -> lists, so what is hashed is what is stored
    head = connection.execute(
        select(schema.audit_head.c.seq, schema.audit_head.c.hash).where(schema.audit_head.c.id == 1).with_for_update()
    ).one_or_none()
    if head is None:
        raise VaultError("the audit chain has no head row; the vault database is damaged")
    seq, time = head.seq + 1, now_iso()
    digest = entry_hash(key, head.hash, seq, time, event, data)
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


def verify(connection: Connection, key: bytes, *, facts: "ChainFacts | None" = None) -> AuditReport:
    """Walk the chain from the start; report the first entry that is edited, inserted or missing.

    ``facts``, when given, collects the consent facts of every entry that verified.
    """
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
        if not hmac.compare_digest(entry_hash(key, prev_hash, row.seq, row.time, row.event, data), row.hash) or canonical(data).decode() != row.data:
            return bad(row.seq, f"entry {row.seq} was edited (its keyed hash does not match its content)")
        if facts is not None:
            facts.add(AuditEntry(row.seq, row.time, row.event, data, row.prev_hash, row.hash))
        prev_hash, expected_seq = row.hash, expected_seq + 1
    last = expected_seq - 1
    if last < head_seq:
        return bad(last + 1, f"entries {last + 1}..{head_seq} are missing (the head records {head_seq})")
    if last > head_seq or prev_hash != head_hash:
        return bad(head_seq if last != head_seq else last, f"the chain does not end at the recorded head (seq {head_seq}); entries were added or edited after it")
    return AuditReport(True, count, head_seq, head_hash)


def hash_at(connection: Connection, seq: int) -> str | None:
    """The stored hash of entry ``seq`` (None when there is no such entry)."""
    return connection.execute(select(schema.audit.c.hash).where(schema.audit.c.seq == int(seq))).scalar_one_or_none()


@dataclass
class ChainFacts:
    """What a verified chain says about consent: enrolments, grants, revocations and uses.

    ``uses`` maps a grant id to the numbers of its counted uses (renders, training) in chain
    order; the consent check counts those, never the ``grants.used`` column.
    """

    enrolments: dict[str, dict[str, Any]] = field(default_factory=dict)  # identity id -> entry data
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)  # grant id -> entry data
    revocations: dict[str, dict[str, Any]] = field(default_factory=dict)  # grant id -> entry data
    uses: dict[str, list[int]] = field(default_factory=dict)  # grant id -> use numbers
    outputs: dict[str, str] = field(default_factory=dict)  # output sha256 -> render id (hex)
    renders: dict[str, dict[str, Any]] = field(default_factory=dict)  # render id (hex) -> its render.record entry data
    deletions: set[str] = field(default_factory=set)  # identity ids whose deletion the chain records
    confirmations: dict[str, dict[str, Any]] = field(default_factory=dict)  # identity id -> identity.confirm data

    def add(self, entry: AuditEntry) -> None:
        data = entry.data
        if entry.event == "identity.enrol" and data.get("id"):
            self.enrolments[str(data["id"])] = data
        elif entry.event == "identity.confirm" and data.get("id"):
            self.confirmations.setdefault(str(data["id"]), data)
        elif entry.event == "grant.create" and data.get("grant"):
            self.grants.setdefault(str(data["grant"]), data)
        elif entry.event == "identity.delete" and data.get("id"):
            self.deletions.add(str(data["id"]))
        elif entry.event == "grant.revoke" and data.get("grant"):
            self.revocations.setdefault(str(data["grant"]), data)
        elif entry.event in USE_EVENTS and data.get("grant"):
            if data.get("n") is not None:
                self.uses.setdefault(str(data["grant"]), []).append(int(data["n"]))
            if data.get("output_sha256"):
                self.outputs[str(data["output_sha256"])] = str(data.get("render_id"))
            if data.get("render_id"):
                self.renders[str(data["render_id"])] = data


    def held(self, identity_id: str) -> dict[str, Any] | None:
        """The firewall's record when the chain says ``identity_id`` was held at enrolment and no
        operator has confirmed it since (None: usable, as far as the firewall goes)."""
        enrolled = self.enrolments.get(identity_id) or {}
        if enrolled.get("status") != "held" or identity_id in self.confirmations:
            return None
        return dict(enrolled.get("firewall") or {})


USE_EVENTS = ("render.record", "grant.use")  # entries that record a use of a grant
