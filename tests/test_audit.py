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
    forged = entry_hash(prev, 4, rows[2].time, "grant.create", {"grant": "forged"})
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
