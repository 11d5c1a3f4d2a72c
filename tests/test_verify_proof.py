"""Every output carries its own proof, and ``verify`` never misleads: real renders, then forgers.

Issue 9: the talent-signed grant, the render number and the signed audit head inside the
output; a copied manifest is "tampered" and prints no record; a re-signed output names its
unknown signer; two outputs with one number prove a reset counter; revoked before the render.
Issue 16: a forged public mark never attributes; a JPEG-recompressed, cropped copy of a genuine
output is still confirmed as its render.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from likeness import consent, media, tagging
from likeness.render import render
from likeness.tagging import Watermarker, mark_frame, seal, verify
from likeness.vault.certs import make_studio_chain
from test_render_pipeline import ASTRONAUT, TALENT, _job, studio  # noqa: F401


@pytest.fixture(scope="module")
def made(studio, tmp_path_factory):  # noqa: F811
    """One genuine output under a quota-3 grant, its talent card and the studio's root."""
    folder = tmp_path_factory.mktemp("proof")
    grant = consent.create_grant(studio.vault, "alice", grantee="test-studio", scopes=["film"], expires="2035-01-01",
                                 max_renders=3, talent_passphrase=TALENT)
    out = folder / "out.png"
    record = render(_job(studio, ASTRONAUT, out, grant=grant.id), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    card = folder / "alice.card"
    card.write_text(consent.talent_card(studio.vault, "alice"))
    root = folder / "root.pem"
    root.write_bytes(studio.vault.c2pa_root())
    return {"out": out, "record": record, "grant": grant, "card": card, "root": root, "folder": folder}


def _cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LIKENESS_HOME": str(home or "/nonexistent-likeness-home")}
    return subprocess.run([sys.executable, "-m", "likeness.cli.main", *args], capture_output=True, text=True, env=env, timeout=300)


def test_a_fresh_output_proves_its_consent_without_the_vault(made):
    """Done when: `verify OUT --talent-key alice.card --json` reports alice's key, render n of N, inside the window."""
    done = _cli("verify", str(made["out"]), "--talent-key", str(made["card"]), "--trust-list", str(made["root"]), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    proof = report["consent"]
    assert report["verdict"] == "intact" and proof["ok"] and proof["talent_card"] is True
    assert proof["identity"] == "alice" and proof["grant_id"] == made["grant"].id
    assert (proof["n"], proof["of"]) == (made["record"].n, 3) and proof["n"] == 1
    assert proof["not_before"] <= proof["render_time"] < proof["expires"]
    assert proof["head_ok"] is True and proof["head_seq"] >= 1
    assert proof["talent_key"] == json.loads(made["card"].read_text())["fingerprint"]


def test_without_a_trust_list_the_public_is_told_it_cannot_confirm_the_signer(made):
    done = _cli("verify", str(made["out"]), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 7 and report["verdict"] == "unconfirmed"
    assert report["consent"]["ok"]  # the talent-signed proof holds on its own
    assert report["c2pa"]["signer_sha256"] in " ".join(report["reasons"])


def test_with_the_vault_the_record_is_found_by_the_files_own_hash(made, studio):  # noqa: F811
    v = verify(made["out"], studio.vault)
    assert v.verdict == "intact" and v.attribution == "hash"
    assert v.render["render_id"] == f"{made['record'].render_id:016x}" and v.render["n"] == 1
    assert v.secret_mark is not None and v.secret_mark.found and v.secret_mark.payload == made["record"].render_id


def test_a_talent_card_of_someone_else_is_reported(made, tmp_path):
    other = json.loads(made["card"].read_text())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    other.update(public_key=base64.b64encode(raw).decode(), fingerprint=None)
    (tmp_path / "bob.card").write_text(json.dumps(other))
    done = _cli("verify", str(made["out"]), "--talent-key", str(tmp_path / "bob.card"), "--trust-list", str(made["root"]), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 3 and report["verdict"] == "consent-invalid" and report["consent"]["talent_card"] is False
    assert "not signed by the key on the talent card" in " ".join(report["reasons"])


def _segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    i, out = 2, []
    while i < len(jpeg):
        marker = jpeg[i + 1]
        if marker == 0xDA:
            out.append((marker, jpeg[i:]))
            break
        length = int.from_bytes(jpeg[i + 2 : i + 4], "big")
        out.append((marker, jpeg[i : i + 2 + length]))
        i += 2 + length
    return out


def test_a_copied_manifest_on_an_unrelated_photo_is_tampered_and_names_no_one(studio, tmp_path):  # noqa: F811
    genuine = tmp_path / "genuine.jpg"
    render(_job(studio, ASTRONAUT, genuine), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(data.coffee()).save(photo, quality=92)
    manifest = [seg for marker, seg in _segments(genuine.read_bytes()) if marker == 0xEB]  # APP11: the C2PA store
    parts = _segments(photo.read_bytes())
    forged = tmp_path / "forged.jpg"
    forged.write_bytes(b"\xff\xd8" + parts[0][1] + b"".join(manifest) + b"".join(seg for _, seg in parts[1:]))
    for vault in (None, studio.vault):
        v = verify(forged, vault)
        assert v.verdict == "tampered" and v.exit_code == 1 and v.render is None
        assert "does not match these pixels" in " ".join(v.reasons)
    done = _cli("verify", str(forged))
    assert done.returncode == 1 and "alice" not in done.stdout.split("consent:")[0]


def test_a_re_signed_output_reads_apart_from_a_genuine_one(made, tmp_path, studio):  # noqa: F811
    home_made = make_studio_chain("test-studio")  # same studio name, a certificate of one's own
    stripped = tmp_path / "stripped.png"
    Image.fromarray(media.read_image(made["out"])).save(stripped)
    resigned = tmp_path / "resigned.png"
    assertion = verify(made["out"]).c2pa.consent
    seal(stripped, resigned, render_id=made["record"].render_id, chain_pem=home_made.chain_pem, key_pem=home_made.leaf_key_pem,
         consent=assertion)
    genuine, fake = verify(made["out"], trust_roots=made["root"].read_bytes()), verify(resigned, trust_roots=made["root"].read_bytes())
    assert genuine.verdict == "intact" and fake.verdict == "unconfirmed"
    assert fake.c2pa.signer_sha256 and fake.c2pa.signer_sha256 in " ".join(fake.reasons)
    assert "audit head was signed by another certificate" in " ".join(fake.consent.problems)


def test_two_outputs_with_one_number_under_one_grant_prove_a_reset_counter(made, tmp_path, studio):  # noqa: F811
    """What an operator who reset the counter would ship: a second render carrying number 1 again."""
    assertion = verify(made["out"]).c2pa.consent
    chain, key = studio.vault.c2pa_signing()
    encoded = tmp_path / "encoded.png"
    Image.fromarray(mark_frame(data.astronaut(), render_id=12345)).save(encoded)
    again = tmp_path / "again.png"
    seal(encoded, again, render_id=12345, chain_pem=chain, key_pem=key, consent=assertion)
    done = _cli("verify", str(made["out"]), str(again), "--trust-list", str(made["root"]), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 3
    [line] = report["reset_counters"]
    assert "number 1 under grant " + made["grant"].id in line and "counter was reset" in line


def test_a_revocation_before_the_render_is_proven_by_the_talents_own_file(made, tmp_path, studio):  # noqa: F811
    key = studio.vault.owner_key("alice", TALENT)
    earlier = consent.Revocation(made["grant"].id, "alice", datetime.now(timezone.utc) - timedelta(days=1), "withdrawn")
    signed = consent.sign(key, earlier.payload())
    card = json.loads(made["card"].read_text())
    document = {"likeness": "revocations/1", "public_key": card["public_key"], "fingerprint": card["fingerprint"],
                "revocations": [{"payload": signed.payload, "signature": signed.signature}]}
    (tmp_path / "revoked.json").write_text(json.dumps(document))
    done = _cli("verify", str(made["out"]), "--revocations", str(tmp_path / "revoked.json"), "--trust-list", str(made["root"]), "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 3 and report["consent"]["revoked"]
    assert "before this render" in " ".join(report["reasons"])
    # A file the talent did not sign proves nothing.
    document["revocations"][0]["signature"] = base64.b64encode(b"x" * 64).decode()
    (tmp_path / "fake.json").write_text(json.dumps(document))
    report = json.loads(_cli("verify", str(made["out"]), "--revocations", str(tmp_path / "fake.json"), "--json").stdout)
    assert report["consent"]["revoked"] is None and "does not verify" in " ".join(report["consent"]["problems"])


def test_a_forged_public_mark_on_a_real_photo_is_never_attributed(made, studio, tmp_path):  # noqa: F811
    """Done when (16): a real photo with a public mark naming a real render is not attributed to it."""
    real_id = made["record"].render_id
    photo = tmp_path / "forged.jpg"
    Image.fromarray(Watermarker().embed(data.astronaut(), real_id)).save(photo, quality=95)
    alone = verify(photo)
    assert alone.verdict == "unconfirmed" and alone.watermark.payload == real_id and alone.render is None
    assert "only the issuing studio can confirm it" in alone.reasons[0]
    studio_view = verify(photo, studio.vault)
    assert studio_view.verdict == "forged" and studio_view.exit_code == 1 and studio_view.render is None
    assert "the mark was forged or moved" in studio_view.reasons[0]


def test_a_recompressed_cropped_copy_of_a_genuine_output_is_confirmed(made, studio, tmp_path):  # noqa: F811
    """Done when (16): JPEG q70 of a crop to about half the area, manifest gone: still its render."""
    image = media.read_image(made["out"])
    h, w = image.shape[:2]
    crop = image[int(h * 0.1) : int(h * 0.1) + int(h * 0.72), int(w * 0.2) : int(w * 0.2) + int(w * 0.72)]
    copy = tmp_path / "copy.jpg"
    cv2.imwrite(str(copy), np.ascontiguousarray(crop[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 70])
    v = verify(copy, studio.vault)
    assert v.c2pa.state == "absent"
    assert v.verdict == "confirmed" and v.exit_code == 6
    assert v.render is not None and v.render["render_id"] == f"{made['record'].render_id:016x}"
    assert v.attribution in ("fingerprint", "secret-mark")


@pytest.mark.parametrize("case", ["no face", "face 99", "text named .jpg", "existing output"])
def test_a_failure_after_the_check_uses_nothing(made, studio, tmp_path, case):  # noqa: F811
    """Issue 9: no face, --face 99, a text file named .jpg, an existing output: the quota is untouched."""
    from likeness.errors import InputError

    before = studio.vault.grant_record(made["grant"].id).used
    target, face, out = ASTRONAUT, "largest", tmp_path / "out.png"
    if case == "no face":
        target = tmp_path / "coffee.png"
        Image.fromarray(data.coffee()).save(target)
    elif case == "face 99":
        face = 99
    elif case == "text named .jpg":
        target = tmp_path / "notes.jpg"
        target.write_text("not a picture")
    else:
        out.write_bytes(b"someone's file")
    with pytest.raises(InputError):
        render(_job(studio, target, out, grant=made["grant"].id, face=face), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert studio.vault.grant_record(made["grant"].id).used == before
    report, facts = studio.vault.chain_facts()
    assert report.ok and len(facts.uses[made["grant"].id]) == before
    assert out.read_bytes() == b"someone's file" if case == "existing output" else not out.exists()


def test_an_edited_registry_row_attributes_nothing(made, studio, tmp_path):  # noqa: F811
    """Point a render row at another file's hash, or drop its fingerprint: the keyed entry disagrees."""
    from sqlalchemy import text

    other = tmp_path / "other.png"
    Image.fromarray(mark_frame(data.astronaut(), render_id=made["record"].render_id)).save(other)
    digest = verify(other).sha256
    rid = made["record"].render_id
    with studio.vault.engine.begin() as connection:
        connection.execute(text("UPDATE renders SET output_sha256 = :h WHERE id = :i"), {"h": digest, "i": rid})
    try:
        v = verify(other, studio.vault)
        assert v.attribution is None and v.verdict != "intact"
        assert "does not match its audit entry (output_sha256 was edited)" in " ".join(v.reasons)
    finally:
        with studio.vault.engine.begin() as connection:
            connection.execute(text("UPDATE renders SET output_sha256 = :h WHERE id = :i"), {"h": made["record"].output_sha256, "i": rid})
    assert verify(made["out"], studio.vault).verdict == "intact"


def test_a_text_file_named_png_is_one_clear_line(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    done = _cli("verify", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "notes.png" in done.stderr
    done = _cli("verify", str(bad), str(tmp_path / "missing.jpg"), str(ASTRONAUT))
    assert done.returncode == 2 and done.stderr.count("likeness: error:") == 2 and "no-mark-found" in done.stdout
