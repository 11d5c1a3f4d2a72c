"""Grants are signed by the talent, checked at every render, counted atomically and audited."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from likeness.consent import (
    Grant,
    Request,
    authorize,
    check,
    create_grant,
    export_document,
    import_document,
    revoke_grant,
    sign,
    take,
)
from likeness.errors import ConsentError, InputError
from test_vault_kit import analyzer, astronaut_item, settings, variants, vault  # noqa: F401

TALENT = "talent pass"


@pytest.fixture
def enrolled(vault, astronaut_item):
    vault.enrol("eileen", variants(astronaut_item, 2), talent_passphrase=TALENT)
    return vault


def _grant(vault, **overrides):
    args = dict(grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase=TALENT)
    args.update(overrides)
    return create_grant(vault, "eileen", **args)


def _request(grant: Grant, **overrides) -> Request:
    fields = dict(identity="eileen", grant_id=grant.id, scope="film", use="render", studio="demo-studio")
    fields.update(overrides)
    return Request(**fields)


def _use(vault, grant) -> int:
    """Check, then take one use (what a render does at its two ends); returns the use number."""
    decision = authorize(vault, _request(grant))
    return take(vault, decision, use="render", data={}).n


def test_valid_grant_allows_a_render_and_audits_it(enrolled):
    grant = _grant(enrolled, max_renders=2, visible_label=True, note="trailer")
    decision = authorize(enrolled, _request(grant))
    assert decision.allowed and decision.reasons == () and decision.grant.visible_label
    last = enrolled.audit_entries()[-1]
    assert last.event == "consent.decision" and last.data["allowed"] is True and last.data["grant"] == grant.id
    assert enrolled.grant_record(grant.id).used == 0  # the check uses nothing
    assert decision.head["seq"] == last.seq and decision.next_n == 1
    assert take(enrolled, decision, use="render", data={}).n == 1
    assert enrolled.grant_record(grant.id).used == 1 and enrolled.audit_entries()[-1].event == "grant.use"


def test_revoked_grant_refuses_render_and_is_audited(enrolled):
    grant = _grant(enrolled)
    revoke_grant(enrolled, grant.id, talent_passphrase=TALENT, reason="changed my mind")
    decision = authorize(enrolled, _request(grant))
    assert not decision.allowed and any("revoked" in r for r in decision.reasons)
    last = enrolled.audit_entries()[-1]
    assert last.data["allowed"] is False and "revoked" in " ".join(last.data["reasons"])


def test_expired_and_not_yet_valid_grants_are_refused(enrolled):
    grant = _grant(enrolled, not_before="2029-01-01", expires="2030-01-01")
    early = check(enrolled, _request(grant), now=datetime(2028, 6, 1, tzinfo=timezone.utc))
    late = check(enrolled, _request(grant), now=datetime(2030, 1, 1, tzinfo=timezone.utc))
    inside = check(enrolled, _request(grant), now=datetime(2029, 6, 1, tzinfo=timezone.utc))
    assert [r for r in early.reasons if "not valid before" in r] and not early.allowed
    assert [r for r in late.reasons if "expired" in r] and not late.allowed
    assert inside.allowed


def test_wrong_scope_grantee_and_identity_are_refused_with_reasons(enrolled):
    grant = _grant(enrolled, scopes=["film", "game"])
    assert "not granted" in " ".join(check(enrolled, _request(grant, scope="advertising")).reasons)
    assert "name one" in " ".join(check(enrolled, _request(grant, scope=None)).reasons)
    assert "neither this vault's studio nor one of its organisations" in " ".join(check(enrolled, _request(grant, studio="other-studio")).reasons)
    assert "not 'bob'" in " ".join(check(enrolled, _request(grant, identity="bob")).reasons)
    other = _grant(enrolled, grantee="other-studio")
    refused = check(enrolled, _request(other, studio="other-studio"))
    assert not refused.allowed and "neither this vault's studio nor one of its organisations" in " ".join(refused.reasons)
    assert "not 'demo-studio' (this vault's studio)" in " ".join(check(enrolled, _request(other)).reasons)
    single = _grant(enrolled, scopes=["film"])
    assert check(enrolled, _request(single, scope=None)).allowed


def test_quota_exhausted_is_refused(enrolled):
    grant = _grant(enrolled, max_renders=1)
    assert _use(enrolled, grant) == 1
    second = authorize(enrolled, _request(grant))
    assert not second.allowed and "quota exhausted (1 of 1" in " ".join(second.reasons)


def test_grant_edited_in_the_database_fails_its_signature(enrolled):
    grant = _grant(enrolled, max_renders=1)
    record = enrolled.grant_record(grant.id)
    forged = record.payload.replace('"max_renders":1', '"max_renders":1000').replace("2030-01-01", "2099-01-01")
    assert forged != record.payload
    with enrolled.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE grants SET payload = %s, max_renders = 1000" % _sql_str(forged))
    decision = check(enrolled, _request(grant))
    assert not decision.allowed and "signature does not verify" in " ".join(decision.reasons)


def test_quota_column_edited_without_the_payload_is_caught(enrolled):
    grant = _grant(enrolled, max_renders=1)
    with enrolled.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE grants SET max_renders = 1000")
    assert "does not match its signed record" in " ".join(check(enrolled, _request(grant)).reasons)


def test_deleting_the_revocation_row_is_not_enough_to_forge_a_grant(enrolled):
    grant = _grant(enrolled)
    revoke_grant(enrolled, grant.id, talent_passphrase=TALENT)
    with enrolled.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE revocations SET signature = 'AAAA'")
    decision = check(enrolled, _request(grant))
    assert not decision.allowed and "does not verify" in " ".join(decision.reasons)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_the_vault_passphrase_cannot_sign_grants(enrolled):
    with pytest.raises(ConsentError, match="wrong talent passphrase"):
        _grant(enrolled, talent_passphrase=enrolled.settings.passphrase)
    with pytest.raises(ConsentError, match="talent passphrase"):
        _grant(enrolled, talent_passphrase=None)
    assert enrolled.grant_records() == []


def test_bad_grant_arguments_are_input_errors(enrolled):
    with pytest.raises(InputError, match="scope"):
        _grant(enrolled, scopes=["porn"])
    with pytest.raises(InputError, match="before it starts|already past"):
        _grant(enrolled, expires="2001-01-01")
    with pytest.raises(InputError, match="not a date"):
        _grant(enrolled, expires="next tuesday")
    with pytest.raises(InputError, match="no identity"):
        create_grant(enrolled, "nobody", grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase=TALENT)


def test_a_grant_signed_on_the_talents_machine_imports_and_tampering_is_refused(enrolled):
    key = enrolled.owner_key("eileen", TALENT)  # the talent's own copy of their key
    now = datetime.now(timezone.utc).replace(microsecond=0)
    offline = Grant(
        id="5b8d0c3e-0000-4000-8000-000000000001", identity="eileen", grantee="demo-studio", scopes=("education",),
        not_before=now - timedelta(days=1), expires=now + timedelta(days=30), max_renders=3, visible_label=True,
        signer_role="self", note="signed at home", created=now, identity_id=enrolled.identity("eileen").id,
        talent_key=enrolled.identity("eileen").fingerprint, vault=enrolled.vault_id,
    )
    signed = sign(key, offline.payload())
    document = json.dumps({"grant": {"payload": signed.payload, "signature": signed.signature}})
    tampered = document.replace('\\"max_renders\\":3', '\\"max_renders\\":300')
    assert tampered != document
    with pytest.raises(ConsentError, match="signature does not match"):
        import_document(enrolled, tampered, source="grant.json")
    imported, revocation = import_document(enrolled, document, source="grant.json")
    assert imported == offline and revocation is None
    assert authorize(enrolled, _request(offline, scope="education")).allowed


def test_export_then_import_carries_the_signed_revocation(enrolled):
    grant = _grant(enrolled)
    revoke_grant(enrolled, grant.id, talent_passphrase=TALENT)
    document = export_document(enrolled, grant.id)
    assert json.loads(document)["revocation"]["signature"]
    again, revocation = import_document(enrolled, document)  # idempotent: already present
    assert again.id == grant.id and revocation.grant_id == grant.id
    with pytest.raises(InputError):
        import_document(enrolled, "not json", source="x.json")


def test_eight_racing_renders_on_three_remaining_slots_get_exactly_three(enrolled):
    grant = _grant(enrolled, max_renders=5)
    assert _use(enrolled, grant) == 1 and _use(enrolled, grant) == 2
    decisions = [authorize(enrolled, _request(grant)) for _ in range(8)]  # all checked before any finishes
    assert all(d.allowed for d in decisions)
    barrier = threading.Barrier(8)
    results: list[int | None] = []
    lock = threading.Lock()

    def race(decision) -> None:
        barrier.wait()
        try:
            n = take(enrolled, decision, use="render", data={}).n
        except ConsentError as exc:
            assert "filled up" in str(exc) and "discarded" in str(exc)
            n = None
        with lock:
            results.append(n)

    threads = [threading.Thread(target=race, args=(d,)) for d in decisions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for n in results if n is not None) == [3, 4, 5] and results.count(None) == 5
    assert enrolled.grant_record(grant.id).used == 5
    report, facts = enrolled.chain_facts()
    assert report.ok and facts.uses[grant.id] == [1, 2, 3, 4, 5]
    assert not authorize(enrolled, _request(grant)).allowed


def test_a_revocation_between_check_and_quota_still_wins(enrolled):
    grant = _grant(enrolled)
    decision = authorize(enrolled, _request(grant))
    assert decision.allowed
    revoke_grant(enrolled, grant.id, talent_passphrase=TALENT)
    with pytest.raises(ConsentError, match="revoked while"):
        take(enrolled, decision, use="render", data={})
    assert enrolled.grant_record(grant.id).used == 0
    assert enrolled.audit_entries()[-1].event == "grant.revoke"
