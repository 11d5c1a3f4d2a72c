"""The audit log is a hash chain: any edited, inserted or removed entry is found and named."""

from __future__ import annotations

import pytest

from likeness.errors import VaultError
from likeness.vault.audit import entry_hash
from test_vault_kit import settings, vault  # noqa: F401


@pytest.fixture
def logged(vault):
    for i in range(5):
        vault.audit("test.event", {"n": i, "who": "alice"})
    assert vault.verify_audit().ok and vault.verify_audit().entries == 6  # + vault.init
    return vault


def _sql(vault, statement: str) -> None:
    with vault.engine.begin() as connection:
        connection.exec_driver_sql(statement)


def test_an_edited_entry_is_named(logged):
    _sql(logged, """UPDATE audit SET data = '{"n":99,"who":"mallory"}' WHERE seq = 3""")
    report = logged.verify_audit()
    assert not report.ok and report.bad_seq == 3 and "edited" in report.problem


def test_an_edited_event_name_is_named(logged):
    _sql(logged, "UPDATE audit SET event = 'nothing.happened' WHERE seq = 5")
    assert logged.verify_audit().bad_seq == 5


def test_a_removed_entry_is_named(logged):
    _sql(logged, "DELETE FROM audit WHERE seq = 2")
    report = logged.verify_audit()
    assert not report.ok and report.bad_seq == 2 and "missing" in report.problem


def test_a_removed_last_entry_is_caught_by_the_head(logged):
    _sql(logged, "DELETE FROM audit WHERE seq = 6")
    report = logged.verify_audit()
    assert not report.ok and report.bad_seq == 6 and "missing" in report.problem


def test_an_inserted_entry_is_named(logged):
    _sql(logged, "UPDATE audit SET seq = seq + 100 WHERE seq >= 4")
    _sql(logged, "UPDATE audit SET seq = seq - 99 WHERE seq >= 104")
    rows = logged.audit_entries()
    prev = rows[2].hash
    forged = entry_hash(logged.audit_key, prev, 4, rows[2].time, "grant.create", {"grant": "forged"})
    _sql(logged, f"""INSERT INTO audit (seq, time, event, data, prev_hash, hash) VALUES (4, '{rows[2].time}', 'grant.create', '{{"grant":"forged"}}', '{prev}', '{forged}')""")
    report = logged.verify_audit()
    # The forgery links to entry 3 correctly; the chain breaks where the next real entry no longer links.
    assert not report.ok and report.bad_seq == 5 and "does not link" in report.problem


def test_a_naive_insertion_at_the_end_is_named(logged):
    _sql(logged, """INSERT INTO audit (seq, time, event, data, prev_hash, hash) VALUES (7, '2030-01-01T00:00:00Z', 'x', '{}', 'f', 'f')""")
    report = logged.verify_audit()
    assert not report.ok and report.bad_seq == 7


def test_entries_refuse_bulk_or_binary_data(vault):
    with pytest.raises(VaultError, match="plain JSON"):
        vault.audit("leak", {"crop": b"\x89PNG"})
    with pytest.raises(VaultError, match="no bulk data"):
        vault.audit("leak", {"embedding": "0.1," * 500})
    assert vault.verify_audit().entries == 1


def test_a_writer_without_the_passphrase_cannot_recompute_the_chain(logged):
    """Edit a middle entry and recompute every later hash, as plain SHA-256 chains allowed: caught."""
    import hashlib

    from likeness.vault.audit import canonical

    _sql(logged, """UPDATE audit SET data = '{"n":99,"who":"mallory"}' WHERE seq = 3""")
    rows = logged.audit_entries()
    prev = rows[1].hash
    for row in rows[2:]:
        body = canonical({"seq": row.seq, "time": row.time, "event": row.event, "data": row.data})
        digest = hashlib.sha256(prev.encode("ascii") + body).hexdigest()
        _sql(logged, f"UPDATE audit SET prev_hash = '{prev}', hash = '{digest}' WHERE seq = {row.seq}")
        prev = digest
    _sql(logged, f"UPDATE audit_head SET hash = '{prev}'")
    report = logged.verify_audit()
    assert not report.ok and report.bad_seq == 3 and "keyed hash" in report.problem


def test_a_saved_head_catches_a_truncated_chain(logged):
    """Delete the last entry and move the head back: the chain verifies, the saved head does not."""
    saved = logged.signed_head()
    assert logged.check_head(saved) == (True, "the chain extends the saved head (entry 6 -> 6)")
    logged.audit("later", {"n": 7})
    assert logged.check_head(saved)[0]
    rows = logged.audit_entries()
    _sql(logged, "DELETE FROM audit WHERE seq >= 6")
    _sql(logged, f"UPDATE audit_head SET seq = 5, hash = '{rows[4].hash}'")
    assert logged.verify_audit().ok  # internally consistent: only a head kept elsewhere can tell
    ok, detail = logged.check_head(saved)
    assert not ok and "entries were removed" in detail


def test_a_forged_or_foreign_head_is_refused(logged, tmp_path):
    saved = logged.signed_head()
    forged = dict(saved, seq=saved["seq"] + 50)
    ok, detail = logged.check_head(forged)
    assert not ok and "signature does not verify" in detail
