"""The identity firewall compares facesets: look-alikes enrol, one person twice is refused, the
band between is held for an audited operator decision that no SQL edit can stand in for.

Real faces only: the astronaut always; the shared media's stills and motion clip when there.
The pairs and their distances are in benchmarks/firewall.py's table (docs/threat-model.md).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import jpeg, shared
from likeness.errors import ConsentError, InputError
from likeness.vault.firewall import REFUSE_BELOW, REVIEW_BELOW, clearance, closest
from test_vault_kit import TEST_SCRYPT_N, analyzer, settings, sqlite_settings, sqlite_vault, vault  # noqa: F401

TALENT = "talent pass"
GLASSES = "syn_t2i_down_glasses_FLUX1_dev_image_0001577.jpg"  # with THREE_QUARTER: the old rule's collision
THREE_QUARTER = "syn_t2i_threequarter_FLUX1_schnell_image_0017649.jpg"
PROFILE = "syn_t2i_profile_SDXL_image_0047268.jpg"  # with TURNED: distinct people in the review band
TURNED = "syn_t2i_threequarter_FLUX1_schnell_image_0014943.jpg"


def photos(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """A few copies of one photo, as a talent might send them: itself, mirrored, half size, recompressed."""
    h, w = image.shape[:2]
    return [("original", image), ("mirrored", np.ascontiguousarray(image[:, ::-1])),
            ("half size", cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)), ("jpeg q35", jpeg(image, 35))]


@pytest.fixture(scope="session")
def facesets(analyzer):
    """name -> faceset items, built by enrolment's own collection, once per session."""
    from likeness.media import read_image
    from likeness.vault.enrolment import collect, collect_images

    made: dict[str, list] = {}

    def faceset(name: str, image: np.ndarray | None = None) -> list:
        if name not in made:
            if name.endswith(".mp4"):
                made[name] = list(collect([shared(name)], analyzer).items)
            else:
                made[name] = list(collect_images(photos(read_image(shared(name)) if image is None else image), analyzer).items)
        return made[name]

    return faceset


def embeddings(items: list) -> np.ndarray:
    return np.stack([i.embedding for i in items])


def test_two_people_the_old_rule_confused_now_both_enrol(vault, facesets):
    glasses, three_quarter = facesets(GLASSES), facesets(THREE_QUARTER)
    assert closest(embeddings(three_quarter), {"glasses": embeddings(glasses)}) is not None  # the centroid rule refused this
    vault.enrol("glasses", glasses, talent_passphrase=TALENT)
    made = vault.enrol("three-quarter", three_quarter, talent_passphrase="another talent")
    assert made.status == "active" and [i.name for i in vault.identities()] == ["glasses", "three-quarter"]
    assert vault.held() == []


def test_the_same_photo_mirrored_and_recompressed_is_refused(vault, facesets, astronaut):
    vault.enrol("eileen", facesets("eileen", astronaut), talent_passphrase=TALENT)
    copies = facesets("eileen copies", np.ascontiguousarray(jpeg(astronaut[:, ::-1], 50)))  # her face is 100 px: no smaller
    with pytest.raises(ConsentError, match=r"already enrolled as 'eileen' \(median distance 0\.\d\d, \d of \d crops agree\)"):
        vault.enrol("not-eileen", copies, talent_passphrase="impostor")
    assert [i.name for i in vault.identities()] == ["eileen"] and vault.held() == []


def test_the_motion_clip_of_an_enrolled_still_is_refused(vault, facesets):
    vault.enrol("alice", facesets("syn_SFHQ_pt1_00000161.jpg"), talent_passphrase=TALENT)
    clip = facesets("syn_motion_SFHQ_pt1_00000161_5s.mp4")
    verdict = clearance(embeddings(clip), {"alice": vault.embeddings("alice")})
    assert verdict.outcome == "refuse" and verdict.distance < REFUSE_BELOW and verdict.agreeing == verdict.crops
    with pytest.raises(ConsentError, match="already enrolled as 'alice'"):
        vault.enrol("bob", clip, talent_passphrase="bob's")


def _held_pair(vault, facesets) -> None:
    vault.enrol("profile", facesets(PROFILE), talent_passphrase=TALENT)
    verdict = clearance(embeddings(facesets(TURNED)), {"profile": vault.embeddings("profile")})
    assert verdict.outcome == "review" and REFUSE_BELOW <= verdict.distance < REVIEW_BELOW
    made = vault.enrol("turned", facesets(TURNED), talent_passphrase="turned's own")
    assert made.status == "held"


def test_a_middle_band_enrolment_is_held_until_an_audited_confirmation(vault, facesets):
    from likeness.consent import Request, check, create_grant

    _held_pair(vault, facesets)
    assert [i.name for i in vault.identities()] == ["profile"]
    (held,) = vault.held()
    assert held.identity.name == "turned" and held.firewall["nearest"] == "profile" and held.firewall["crops"] == len(facesets(TURNED))
    with pytest.raises(ConsentError, match="'turned' is held for review") as refused:
        create_grant(vault, "turned", grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase="turned's own")
    assert "\n" not in str(refused.value)
    with pytest.raises(ConsentError, match="held for review"):
        vault.faceset("turned")  # what a render or training run reads
    with pytest.raises(ConsentError, match="held for review"):
        vault.enrol("turned", facesets(TURNED), talent_passphrase="again")
    with pytest.raises(InputError, match="held for its likeness to 'profile', not 'someone'"):
        vault.confirm_identity("turned", different_from="someone", by="op")

    vault.confirm_identity("turned", different_from="profile", by="op")
    assert [i.name for i in vault.identities()] == ["profile", "turned"] and vault.held() == []
    confirmed = [e for e in vault.audit_entries() if e.event == "identity.confirm"]
    assert [(e.data["identity"], e.data["different_from"], e.data["by"]) for e in confirmed] == [("turned", "profile", "op")]
    grant = create_grant(vault, "turned", grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase="turned's own")
    assert check(vault, Request("turned", grant.id, "film")).allowed
    assert len(vault.faceset("turned")) == len(facesets(TURNED))


def test_a_rejected_enrolment_is_shredded_and_audited(vault, facesets):
    _held_pair(vault, facesets)
    vault.reject_identity("turned", by="op")
    assert vault.held() == [] and [i.name for i in vault.identities()] == ["profile"]
    events = [(e.event, e.data.get("identity")) for e in vault.audit_entries()][-2:]
    assert events == [("identity.reject", "turned"), ("identity.delete", "turned")]
    with pytest.raises(InputError, match="no enrolment named 'turned' is held"):
        vault.confirm_identity("turned", different_from="profile")


def test_flipping_the_status_in_sql_does_not_release_a_held_identity(sqlite_vault, facesets, analyzer, tmp_path, monkeypatch, astronaut):
    from likeness.consent import Request, check, create_grant
    from likeness.render import RenderJob, render
    from likeness.vault import ledger

    vault = sqlite_vault
    _held_pair(vault, facesets)
    with vault.engine.begin() as connection:  # the operator, with sqlite3 and no passphrase
        connection.exec_driver_sql("UPDATE identities SET status = 'active' WHERE name = 'turned'")
    assert "turned" in [i.name for i in vault.identities()]  # the row believes it
    with pytest.raises(ConsentError, match="no confirmation, whatever its status row says"):
        create_grant(vault, "turned", grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase="turned's own")

    # A writer without that guard (an older likeness) stores a grant anyway: the consent check still refuses.
    monkeypatch.setattr(ledger, "held_problem", lambda *args: None)
    grant = create_grant(vault, "turned", grantee="demo-studio", scopes=["film"], expires="2030-01-01", talent_passphrase="turned's own")
    decision = check(vault, Request("turned", grant.id, "film"))
    assert not decision.allowed
    assert any("held for review at enrolment" in r and "no operator confirmation" in r for r in decision.reasons)
    target = tmp_path / "target.png"
    cv2.imwrite(str(target), astronaut[:, :, ::-1])
    with pytest.raises(ConsentError, match="render of 'turned' .* refused: .*held for review"):
        render(RenderJob(target, tmp_path / "out.png", "turned", grant.id, "film"), vault=vault, analyzer=analyzer, progress=False)
    assert not (tmp_path / "out.png").exists()


def test_cli_holds_lists_confirms_and_refuses_in_one_line(sqlite_settings, facesets, tmp_path, monkeypatch, capsys):
    from likeness.cli.main import main
    from likeness.media import read_image

    for key, value in {"LIKENESS_HOME": str(sqlite_settings.home), "LIKENESS_PASSPHRASE": "vault pass", "LIKENESS_TALENT_PASSPHRASE": TALENT,
                       "LIKENESS_DATABASE_URL": "", "LIKENESS_SCRYPT_N": str(TEST_SCRYPT_N)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LIKENESS_DEBUG", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    def files(name: str) -> list[str]:
        paths = []
        for label, image in photos(read_image(shared(name))):
            path = tmp_path / f"{name}.{label.replace(' ', '_')}.png"
            cv2.imwrite(str(path), image[:, :, ::-1])
            paths.append(str(path))
        return paths

    assert run("init")[0] == 0
    assert run("identity", "enroll", "profile", *files(PROFILE))[0] == 0
    code, out, err = run("identity", "enroll", "turned", *files(TURNED))
    assert code == 0 and out.startswith("held 'turned' for review") and "--different-from profile" in out, err
    code, out, err = run("grant", "create", "turned", "--grantee", "demo-studio", "--scope", "film", "--expires", "2030-01-01")
    assert code == 3 and "Traceback" not in err and len(err.strip().splitlines()) == 1 and "held for review" in err
    code, out, _ = run("identity", "review")
    assert code == 0 and out.startswith("turned\tclose to 'profile'\tmedian distance 0.")
    code, _, err = run("identity", "confirm", "turned")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--different-from" in err
    code, out, err = run("identity", "confirm", "turned", "--different-from", "profile", "--by", "op")
    assert code == 0 and "confirmed 'turned' is not 'profile'" in out, err
    assert run("grant", "create", "turned", "--grantee", "demo-studio", "--scope", "film", "--expires", "2030-01-01")[0] == 0
    code, _, err = run("identity", "enroll", "again", *files(PROFILE))
    assert code == 3 and len(err.strip().splitlines()) == 1 and "already enrolled as 'profile'" in err and "Traceback" not in err


def test_studio_answers_a_held_enrolment_with_202_and_the_operator_decides(sqlite_vault, facesets, tmp_path):
    import base64
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from fastapi.testclient import TestClient
    from likeness.media import read_image
    from likeness.studio.app import create_app
    from likeness.vault import accounts as parties
    from likeness.vault.talent_keys import sign_payload
    from test_studio_api import PASSWORD, Client

    vault = sqlite_vault
    vault.enrol("profile", facesets(PROFILE), talent_passphrase=TALENT)
    parties.add_account(vault, "root", PASSWORD, kind="operator", by="test")
    app = create_app(vault)
    assert TestClient(app).post("/api/v1/signup", json={"username": "tess", "password": PASSWORD}).status_code == 201
    tess, root = Client(app, "tess"), Client(app, "root")

    def enrol(name: str, photo: str):  # noqa: ANN202 - what the talent's browser sends
        key = Ed25519PrivateKey.generate()
        raw = base64.b64encode(key.public_key().public_bytes_raw()).decode()
        text, signature = sign_payload(key, json.loads(tess.post("/api/v1/identities/enrolment-statement",
                                                                 json={"name": name, "public_key": raw}).json()["payload"]))
        files = []
        for label, image in photos(read_image(shared(photo))):
            ok, encoded = cv2.imencode(".png", image[:, :, ::-1])
            files.append(("files", (f"{label}.png", encoded.tobytes(), "image/png")))
        return tess.post("/api/v1/identities", data={"statement": text, "signature": signature}, files=files)

    held = enrol("turned", TURNED)
    assert held.status_code == 202 and held.json()["status"] == "held" and "held for review" in held.json()["detail"]
    assert tess.get("/api/v1/enrolment-reviews").status_code == 403
    (listed,) = root.get("/api/v1/enrolment-reviews").json()["items"]
    assert listed["name"] == "turned" and listed["firewall"]["nearest"] == "profile"
    wrong = root.post("/api/v1/enrolment-reviews/turned", json={"different_from": "nobody"})
    assert wrong.status_code == 400 and wrong.headers["content-type"].startswith("application/problem+json")
    done = root.post("/api/v1/enrolment-reviews/turned", json={"different_from": "profile"})
    assert done.status_code == 200 and done.json()["status"] == "active"
    assert tess.get("/api/v1/identities/turned").status_code == 200  # she represents it now it is active
    refused = enrol("profile-again", PROFILE)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert "already enrolled as 'profile'" in refused.json()["detail"]
