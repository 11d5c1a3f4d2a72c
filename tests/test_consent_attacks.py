"""A hostile operator with `sqlite3` (or psql) on the vault database, but not the talent's
passphrase nor the vault's: each edit that once led to a render ends in a refusal naming it.

The consent check is what the render pipeline calls first; a refused check is a refused render
(the end-to-end refusal is in test_render_pipeline). Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from likeness.consent import Grant, Request, authorize, check, create_grant, revoke_grant, sign, take
from likeness.settings import Settings
from likeness.vault import init_vault, open_vault
from likeness.vault.talent_keys import enrolment_statement, key_fingerprint, sign_payload
from test_vault_kit import TEST_SCRYPT_N, analyzer, astronaut_item, settings, sfhq_items, variants, vault  # noqa: F401

TALENT = "talent pass"


@pytest.fixture
def enrolled(vault, astronaut_item):
    vault.enrol("eileen", variants(astronaut_item, 2), talent_passphrase=TALENT)
    return vault


def _sql(vault, statement: str, **params) -> None:
    with vault.engine.begin() as connection:
        connection.execute(text(statement), params)


def _grant(vault, name="eileen", **overrides) -> Grant:
    args = dict(grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase=TALENT)
    args.update(overrides)
    return create_grant(vault, name, **args)


def _request(grant: Grant, name: str = "eileen") -> Request:
    return Request(identity=name, grant_id=grant.id, scope="film", use="render", studio="demo-studio")


def _refused(vault, grant, name="eileen") -> str:
    decision = check(vault, _request(grant, name))
    assert not decision.allowed, "the attack was not refused"
    return " ".join(decision.reasons)


def _use(vault, grant) -> int:
    return take(vault, authorize(vault, _request(grant)), use="render", data={}).n


@pytest.mark.parametrize("used", [0, -1000])
def test_reset_render_counter_is_refused(enrolled, used):
    grant = _grant(enrolled, max_renders=1)
    assert _use(enrolled, grant) == 1
    _sql(enrolled, "UPDATE grants SET used = :u", u=used)
    reasons = _refused(enrolled, grant)
    assert f"render counter was edited (the row says {used}, the audit chain records 1 uses)" in reasons
    assert "quota exhausted (1 of 1" in reasons


def test_deleted_revocation_row_is_refused(enrolled):
    grant = _grant(enrolled)
    revoke_grant(enrolled, grant.id, talent_passphrase=TALENT)
    _sql(enrolled, "DELETE FROM revocations")
    assert "revocation row is missing; the audit chain records it" in _refused(enrolled, grant)


def test_own_key_in_owner_public_with_a_grant_it_signed_is_refused(enrolled):
    ident = enrolled.identity("eileen")
    mallory = Ed25519PrivateKey.generate()
    raw = mallory.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    _sql(enrolled, "UPDATE identities SET owner_public = :k", k=raw)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    forged = Grant(
        id=str(uuid.uuid4()), identity="eileen", grantee="demo-studio", scopes=("film",), not_before=now - timedelta(days=1),
        expires=now + timedelta(days=9), max_renders=None, visible_label=False, signer_role="self", note="", created=now,
        identity_id=ident.id, talent_key=key_fingerprint(raw), vault=enrolled.vault_id,
    )
    signed = sign(mallory, forged.payload())
    _sql(enrolled, "INSERT INTO grants (id, identity_id, payload, signature, max_renders, used, created) "
                   "VALUES (:i, :d, :p, :s, NULL, 0, '2026-01-01')", i=forged.id, d=ident.id, p=signed.payload, s=signed.signature)
    reasons = _refused(enrolled, forged)
    assert "is not the key" in reasons and "its enrolment statement pins" in reasons
    assert "not the key" in reasons and "the audit chain recorded at enrolment" in reasons
    assert "not in this vault's audit chain" in reasons

    # Also replacing the statement with one the forged key signed: the chain still names the real key.
    statement, sig = sign_payload(mallory, enrolment_statement(ident.id, "eileen", raw, enrolled.vault_id, ident.created))
    _sql(enrolled, "UPDATE identities SET statement = :s, statement_sig = :g", s=statement, g=sig)
    reasons = _refused(enrolled, forged)
    assert "is not the key" in reasons and "the audit chain recorded at enrolment" in reasons


def test_swapped_identity_rows_and_a_repointed_grant_are_refused(vault, sfhq_items):
    vault.enrol("alice", variants(sfhq_items["alice"], 2), talent_passphrase=TALENT)
    vault.enrol("bob", variants(sfhq_items["carol"], 2), talent_passphrase=TALENT)
    alice, bob = vault.identity("alice"), vault.identity("bob")
    grant = _grant(vault, "alice")
    # Swap names and owner keys of the two rows, and point alice's grant at bob's row: bob's
    # face would render under alice's real grant.
    _sql(vault, "UPDATE identities SET name = 'tmp' WHERE id = :a", a=alice.id)
    _sql(vault, "UPDATE identities SET name = 'alice', owner_public = :k WHERE id = :b", k=alice.owner_public, b=bob.id)
    _sql(vault, "UPDATE identities SET name = 'bob', owner_public = :k WHERE id = :a", k=bob.owner_public, a=alice.id)
    _sql(vault, "UPDATE grants SET identity_id = :b WHERE id = :g", b=bob.id, g=grant.id)
    reasons = _refused(vault, grant, "alice")
    assert f"the grant names identity id {alice.id}, but its row points at identity id {bob.id} (rebound)" in reasons
    assert "its enrolment statement pins" in reasons and "was enrolled as 'bob' (the row was renamed)" in reasons


def test_grant_copied_into_another_vault_of_the_same_studio_is_refused(enrolled, tmp_path, astronaut_item):
    grant = _grant(enrolled)
    record = enrolled.grant_record(grant.id)
    other_settings = Settings(home=tmp_path / "other", database_url=f"sqlite:///{tmp_path / 'other' / 'vault.db'}",
                              passphrase="vault pass", talent_passphrase=TALENT)
    with init_vault(other_settings, studio="demo-studio", scrypt_n=TEST_SCRYPT_N) as other:
        other.enrol("eileen", variants(astronaut_item, 2), talent_passphrase="another talent pass")
        target = other.identity("eileen")
        # The grant row, and the owner key that signed it, copied over.
        _sql(other, "UPDATE identities SET owner_public = :k", k=record.owner_public)
        _sql(other, "INSERT INTO grants (id, identity_id, payload, signature, max_renders, used, created) "
                    "VALUES (:i, :d, :p, :s, NULL, 0, '2026-01-01')",
             i=grant.id, d=target.id, p=record.payload, s=record.signature)
        reasons = _refused(other, grant)
        assert f"the grant was signed for vault {enrolled.vault_id}, not this vault {other.vault_id} (copied from another vault)" in reasons
        assert "not in this vault's audit chain" in reasons


def test_renamed_studio_in_meta_is_refused(enrolled):
    grant = _grant(enrolled, grantee="other-studio")
    _sql(enrolled, "UPDATE meta SET value = :v WHERE key = 'studio'", v=b"other-studio")
    with open_vault(enrolled.settings) as reopened:
        assert reopened.studio == "demo-studio"  # the sealed binding, not the row
        reasons = " ".join(check(reopened, Request("eileen", grant.id, "film", "render", "other-studio")).reasons)
    assert "the studio name in the database ('other-studio') is not the one this vault was created with ('demo-studio')" in reasons
    assert "neither this vault's studio nor one of its organisations" in reasons


def test_edited_vault_id_in_meta_is_refused(enrolled):
    grant = _grant(enrolled)
    _sql(enrolled, "UPDATE meta SET value = :v WHERE key = 'vault_id'", v=b"00000000-0000-4000-8000-000000000000")
    with open_vault(enrolled.settings) as reopened:
        assert "the vault id in the database (00000000-0000-4000-8000-000000000000) is not the one" in _refused(reopened, grant)


def test_a_rewritten_audit_entry_stops_every_render(enrolled):
    grant = _grant(enrolled)
    _sql(enrolled, """UPDATE audit SET data = '{"studio":"x"}' WHERE seq = 1""")
    assert "the audit chain is broken at entry 1" in _refused(enrolled, grant)


def test_a_deleted_use_entry_with_the_head_moved_back_is_caught(enrolled):
    """Delete the last render entry and move the head back: the counter disagrees, and a saved head fails."""
    grant = _grant(enrolled, max_renders=1)
    assert _use(enrolled, grant) == 1
    saved = enrolled.signed_head()
    rows = enrolled.audit_entries()
    _sql(enrolled, "DELETE FROM audit WHERE seq = :s", s=rows[-1].seq)
    _sql(enrolled, "UPDATE audit_head SET seq = :s, hash = :h", s=rows[-2].seq, h=rows[-2].hash)
    assert "render counter was edited (the row says 1, the audit chain records 0 uses)" in _refused(enrolled, grant)
    _sql(enrolled, "UPDATE grants SET used = 0")
    assert check(enrolled, _request(grant)).allowed  # consistent inside: only a head kept outside can tell
    ok, detail = enrolled.check_head(saved)
    assert not ok and "entries were removed" in detail


def test_the_signed_grant_names_identity_key_and_vault(enrolled):
    grant = _grant(enrolled)
    data = json.loads(enrolled.grant_record(grant.id).payload)
    ident = enrolled.identity("eileen")
    assert data["type"] == "likeness.grant/2"
    assert (data["identity_id"], data["talent_key"], data["vault"]) == (ident.id, ident.fingerprint, enrolled.vault_id)
    assert base64.b64decode(json.loads(enrolled.grant_record(grant.id).statement[0])["public_key"]) == ident.owner_public


def test_an_edited_role_is_refused(enrolled):
    grant = _grant(enrolled)
    _sql(enrolled, "UPDATE identities SET role = 'estate'")
    assert "was enrolled with the role 'self', the row now says 'estate'" in _refused(enrolled, grant)


def test_a_status_set_to_deleting_by_hand_shreds_nothing(enrolled):
    _sql(enrolled, "UPDATE identities SET status = 'deleting'")
    with open_vault(enrolled.settings) as reopened:  # open finishes only deletions the chain records
        with reopened.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM data_keys")).scalar_one() == 1


def test_a_use_is_refused_when_the_grant_ran_out_or_the_identity_went_meanwhile(enrolled):
    from likeness.errors import ConsentError
    from likeness.vault import Terms

    grant = _grant(enrolled)
    decision = authorize(enrolled, _request(grant))
    expired = Terms(grant.id, decision.identity_id, None, grant.not_before, datetime.now(timezone.utc) - timedelta(seconds=1))
    with pytest.raises(ConsentError, match="outside its window"):
        enrolled.take(expired, use="render", data={})
    enrolled.delete_identity("eileen")
    with pytest.raises(ConsentError):
        take(enrolled, decision, use="render", data={})


def test_swapped_root_or_leaf_certificate_is_refused(enrolled):
    from likeness.errors import VaultError
    from likeness.vault.certs import make_studio_chain

    grant = _grant(enrolled)
    mine = make_studio_chain("demo-studio", vault_id=enrolled.vault_id)
    _sql(enrolled, "UPDATE meta SET value = :v WHERE key = 'root_cert'", v=mine.root_cert_pem)
    _sql(enrolled, "UPDATE meta SET value = :v WHERE key = 'leaf_cert'", v=mine.leaf_cert_pem)
    with open_vault(enrolled.settings) as reopened:
        reasons = _refused(reopened, grant)
        assert "the C2PA root certificate in the database is not the one" in reasons
        assert "the C2PA leaf certificate in the database is not the one" in reasons
        with pytest.raises(VaultError, match="root certificate in the database is not the one"):
            reopened.c2pa_root()
