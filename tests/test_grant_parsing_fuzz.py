"""The grant, revocation and signed-document parsers meet hostile input: never a crash, only a
clear ConsentError or InputError, and never an accepted signature over changed bytes."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likeness.consent import Grant
from likeness.consent.grants import Revocation, sign
from likeness.errors import ConsentError
from likeness.tagging.verify import consent_proof
from likeness.vault.talent_keys import read_signed

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
GRANT_KEYS = ("type", "id", "identity", "identity_id", "talent_key", "vault", "grantee", "scopes", "not_before",
              "expires", "max_renders", "visible_label", "signer_role", "note", "created")


def _good_grant() -> dict:
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    return Grant(id="g", identity="alice", grantee="studio", scopes=("film",), not_before=now, expires=now + timedelta(days=3),
                 max_renders=2, visible_label=False, signer_role="self", note="", created=now, identity_id="i",
                 talent_key="k" * 64, vault="v").payload()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(GRANT_KEYS), json_values, max_size=len(GRANT_KEYS)), st.booleans())
def test_grant_parser_never_crashes(fields, start_from_good):
    data = dict(_good_grant(), **fields) if start_from_good else fields
    try:
        grant = Grant.from_payload(data)
    except ConsentError as exc:
        assert str(exc).count("\n") == 0
        return
    assert grant.max_renders is None or grant.max_renders >= 1
    assert isinstance(grant.visible_label, bool) and all(isinstance(s, str) for s in grant.scopes)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_grant_and_revocation_parsers_take_any_json(value):
    for parse in (Grant.from_payload, Revocation.from_payload):
        try:
            parse(value)
        except ConsentError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 400))
def test_a_signature_never_covers_changed_bytes(noise, where):
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    signed = sign(key, _good_grant())
    assert read_signed(signed.payload, signed.signature, public) is not None
    at = where % len(signed.payload)
    changed = signed.payload[:at] + noise.decode("latin-1") + signed.payload[at:]
    assert read_signed(changed, signed.signature, public) is None


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["grant", "render", "audit_head", "grant_id", "vault"]), json_values, max_size=5),
       st.text(string.printable, max_size=30))
def test_consent_proof_from_a_hostile_manifest_never_crashes(assertion, junk):
    if "grant" in assertion and isinstance(assertion["grant"], dict):
        assertion["grant"].setdefault("payload", junk)
    proof = consent_proof(assertion)
    assert not proof.ok
