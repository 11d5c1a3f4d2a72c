"""The avatar export: a licensed, tagged, animatable 3D face for games, from an enrolled identity.

The story: alice (a synthetic SFHQ person, or the astronaut without the shared media) is enrolled
from one photo, grace (a GRID speaker) from a talking clip. A grant with scope ``game`` exports
each as a GLB that the Khronos validator passes, that three.js draws in headless Chromium and that
dlib still recognises; ``verify`` reads its watermark, extras and signed sidecar. A grant without
``game``, a revoked or an expired one is refused and writes nothing; an export uses exactly one
from the quota; an edited extras field, a replaced texture or a sidecar from another export fails
``verify``. Screenshots go to ``test-artifacts/avatar/``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from likeness import consent, media, swap, tagging
from likeness.avatar import MORPH_TARGETS, face_uv
from likeness.avatar.canonical import CANONICAL, measure
from likeness.avatar.topology import topology
from likeness.errors import ConsentError, InputError
from likeness.faces import FaceAnalyzer, distance
from likeness.media.gltf import pack_glb, read_glb
from likeness.render.avatar import AvatarJob, export_avatar
from likeness.settings import Settings
from likeness.vault import FacesetItem, init_vault
from likeness.vault.enrolment import enrol
from tests.avatar_viewer import CHROMIUM, JS, Viewer
from tests.conftest import ROOT, SHARED_MEDIA

TALENT = "talent passphrase for avatar tests"
SHOTS = ROOT / "test-artifacts" / "avatar"
ALICE_PHOTO = SHARED_MEDIA / "syn_SFHQ_pt1_00000161.jpg"
GRACE_CLIP = SHARED_MEDIA / "grid_swiz3n.mpg"


@dataclasses.dataclass
class Studio:
    vault: object
    home: Path
    analyzer: FaceAnalyzer
    game: str  # alice: game, at most 5 exports, visible label asked
    film: str  # alice: film only
    grace: str | None  # grace: game


def alice_vault(home: Path, analyzer: FaceAnalyzer):
    """A new vault at ``home`` with alice enrolled from her one photo."""
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="vault passphrase", talent_passphrase=TALENT)
    vault = init_vault(settings, studio="game-studio", scrypt_n=2**10)
    photo = media.read_image(ALICE_PHOTO) if ALICE_PHOTO.is_file() else data.astronaut()
    made = swap.make_faceset([photo], analyzer, identity="alice")
    vault.enrol("alice", [FacesetItem(i.image, i.landmarks, i.pose, i.embedding, i.quality) for i in made.items], talent_passphrase=TALENT)
    return vault


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    home = tmp_path_factory.mktemp("avatar-home")
    with FaceAnalyzer() as analyzer:
        vault = alice_vault(home, analyzer)
        grace = None
        if GRACE_CLIP.is_file():
            enrol(vault, "grace", [GRACE_CLIP], analyzer=analyzer, talent_passphrase=TALENT)
            grace = _grant(vault, "grace", ["game"])
        yield Studio(vault, home, analyzer, _grant(vault, "alice", ["game"], max_renders=5, visible_label=True),
                     _grant(vault, "alice", ["film"]), grace)
    vault.close()


def _grant(vault, identity: str, scopes: list[str], **kw) -> str:  # noqa: ANN001
    return consent.create_grant(vault, identity, grantee="game-studio", scopes=scopes, expires="2035-01-01", talent_passphrase=TALENT, **kw).id


def _export(studio: Studio, folder: Path, name: str = "alice", grant: str | None = None, **kw):  # noqa: ANN202
    job = AvatarJob(identity=name, grant_id=grant or studio.game, output=folder / f"{name}.glb", texture=1024, **kw)
    return job, export_avatar(job, vault=studio.vault)


@pytest.fixture(scope="module")
def alice(studio, tmp_path_factory):
    """alice's avatar, exported once: (job, record)."""
    return _export(studio, tmp_path_factory.mktemp("alice-out"), expressions=True)


@pytest.fixture(scope="module")
def grace(studio, tmp_path_factory):
    if studio.grace is None:
        pytest.skip(f"{GRACE_CLIP.name} not found in {SHARED_MEDIA}")
    return _export(studio, tmp_path_factory.mktemp("grace-out"), "grace", studio.grace, expressions=True)


def _uses(studio: Studio, grant: str) -> int:
    return consent.check(studio.vault, consent.Request("alice", grant, None, "avatar", "game-studio")).next_n - 1


# -- the export and what it carries -----------------------------------------------------------


def test_game_grant_exports_a_tagged_avatar_that_verifies_intact(studio, alice):
    job, record = alice
    assert sorted(p.name for p in job.output.parent.iterdir()) == ["alice.c2pa", "alice.glb"]  # nothing else, no temporaries
    verdict = tagging.verify(job.output, studio.vault).as_dict()
    assert verdict["verdict"] == "intact", verdict["reasons"]
    assert verdict["c2pa"]["state"] == "trusted" and verdict["c2pa"]["render_id"] == f"{record.render_id:016x}"
    assert verdict["watermark"]["found"] and verdict["watermark"]["render_id"] == f"{record.render_id:016x}"
    assert verdict["secret_mark"]["found"]
    assert verdict["consent"]["ok"] and verdict["consent"]["grant_id"] == studio.game and verdict["consent"]["n"] == record.n
    assert verdict["render"]["render_id"] == f"{record.render_id:016x}" and verdict["attribution"] == "hash"
    extras = read_glb(job.output).document["asset"]["extras"]["likeness"]
    assert extras["label"] == "AI-generated likeness" and extras["scope"] == "game" and extras["grant_id"] == studio.game
    assert extras["render_id"] == f"{record.render_id:016x}" and extras["content_credentials"] == "alice.c2pa"
    assert extras["visible_label"]["required"] is True  # the grant asked for it: games are asked to honour it
    assert extras["consent"]["render"]["n"] == record.n and extras["consent"]["grant_id"] == studio.game
    assert verdict["model"]["extras"]["render_id"] == extras["render_id"] and "consent" not in verdict["model"]["extras"]


def test_export_uses_exactly_one_from_the_quota_and_is_audited(studio, tmp_path):
    before = _uses(studio, studio.game)
    _, record = _export(studio, tmp_path)
    assert _uses(studio, studio.game) == before + 1 and record.n == before + 1
    entries = studio.vault.audit_entries()
    decision = [e for e in entries if e.event == "consent.decision" and e.data.get("use") == "avatar"][-1]
    assert decision.data["allowed"] is True and decision.data["scope"] == "game"
    recorded = [e for e in entries if e.event == "render.record" and e.data.get("render_id") == f"{record.render_id:016x}"]
    assert recorded and recorded[0].data["kind"] == "avatar" and recorded[0].data["use"] == "avatar"


def _expired(studio: Studio) -> str:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ident = studio.vault.identity("alice")
    grant = consent.Grant(id=str(uuid.uuid4()), identity="alice", grantee="game-studio", scopes=("game",), not_before=now - timedelta(days=9),
                          expires=now - timedelta(days=1), max_renders=None, visible_label=False, signer_role="self", note="",
                          created=now - timedelta(days=9), identity_id=ident.id, talent_key=ident.fingerprint, vault=studio.vault.vault_id)
    signed = consent.sign(studio.vault.owner_key("alice", TALENT), grant.payload())
    studio.vault.store_grant("alice", grant.id, signed.payload, signed.signature, None, {"grant": grant.id})
    return grant.id


def _revoked(studio: Studio) -> str:
    grant = _grant(studio.vault, "alice", ["game"])
    consent.revoke_grant(studio.vault, grant, talent_passphrase=TALENT, reason="test")
    return grant


@pytest.mark.parametrize("case", ["film grant", "revoked", "expired"])
def test_grant_without_a_valid_game_scope_is_refused_and_writes_nothing(studio, tmp_path, case):
    grant = {"film grant": lambda s: s.film, "revoked": _revoked, "expired": _expired}[case](studio)
    used = _uses(studio, grant)
    audited = len(studio.vault.audit_entries())
    with pytest.raises(ConsentError) as refused:
        _export(studio, tmp_path, grant=grant)
    assert "nothing was written" in str(refused.value)
    if case == "film grant":
        assert "scope 'game' is not granted" in str(refused.value)
    assert list(tmp_path.iterdir()) == [] and _uses(studio, grant) == used
    last = studio.vault.audit_entries()[audited:]
    assert [e.data["allowed"] for e in last if e.event == "consent.decision"] == [False]


def test_bad_output_names_are_refused_before_consent(studio, tmp_path):
    audited = len(studio.vault.audit_entries())
    for output, texture in ((tmp_path / "face.png", 1024), (tmp_path / "missing" / "face.glb", 1024)):
        with pytest.raises(InputError):
            export_avatar(AvatarJob("alice", studio.game, output, texture=texture), vault=studio.vault)
    with pytest.raises(InputError, match="--texture 300"):
        AvatarJob("alice", studio.game, tmp_path / "face.glb", texture=300)
    (tmp_path / "taken.c2pa").write_bytes(b"someone else's")
    with pytest.raises(InputError, match="exists"):
        export_avatar(AvatarJob("alice", studio.game, tmp_path / "taken.glb", texture=1024), vault=studio.vault)
    assert len(studio.vault.audit_entries()) == audited  # nothing asked, nothing used


# -- tampering ---------------------------------------------------------------------------------


def _rewrite(src: Path, dst: Path, change) -> Path:  # noqa: ANN001
    glb = read_glb(src)
    document, binary = change(json.loads(json.dumps(glb.document)), bytearray(glb.binary), glb)
    dst.write_bytes(pack_glb(document, bytes(binary)))
    shutil.copy(src.with_suffix(".c2pa"), dst.with_suffix(".c2pa"))
    return dst


def _edit_scope(document, binary, glb):  # noqa: ANN001, ANN202
    document["asset"]["extras"]["likeness"]["scope"] = "film"
    return document, binary


def _replace_texture(document, binary, glb):  # noqa: ANN001, ANN202
    texture = media.decode_image(glb.image(0)[0], name="texture")
    other = media.encode_png(np.ascontiguousarray(texture[:, ::-1]))  # the same face, mirrored: no longer the marked pixels
    view = document["bufferViews"][document["images"][0]["bufferView"]]
    start = len(binary) + (-len(binary) % 4)
    binary += b"\0" * (start - len(binary)) + other
    view.update(byteOffset=start, byteLength=len(other))
    document["buffers"][0]["byteLength"] = len(binary) + (-len(binary) % 4)
    return document, binary


@pytest.mark.parametrize("change", [_edit_scope, _replace_texture], ids=["extras edited", "texture replaced"])
def test_tampered_avatar_fails_verify(studio, alice, tmp_path, change):
    job, _ = alice
    forged = _rewrite(job.output, tmp_path / "forged.glb", change)
    verdict = tagging.verify(forged, studio.vault)
    assert verdict.verdict == "tampered", verdict.reasons
    assert verdict.exit_code == 1


def test_sidecar_of_another_export_fails_verify(studio, alice, tmp_path):
    job, _ = alice
    other, _ = _export(studio, tmp_path)
    shutil.copy(job.output, tmp_path / "mixed.glb")
    shutil.copy(other.sidecar, tmp_path / "mixed.c2pa")
    verdict = tagging.verify(tmp_path / "mixed.glb", studio.vault)
    assert verdict.verdict == "tampered"


def test_avatar_without_its_sidecar_is_not_intact_and_says_why(studio, alice, tmp_path):
    job, record = alice
    shutil.copy(job.output, tmp_path / "bare.glb")
    verdict = tagging.verify(tmp_path / "bare.glb", studio.vault)
    assert verdict.verdict == "confirmed"  # the studio's secret mark and the texture's fingerprint still name the render
    assert verdict.watermark.payload == record.render_id
    assert any("sidecar" in reason and "unsigned" in reason for reason in verdict.reasons)
    assert tagging.verify(tmp_path / "bare.glb").verdict == "unconfirmed"  # without the vault: only the public mark


# -- geometry, texture, expressions ---------------------------------------------------------------


def test_avatar_is_a_metric_closed_face_with_a_fixed_uv_layout(alice):
    job, record = alice
    report = record.settings["avatar"]
    glb = read_glb(job.output)
    document = glb.document
    assert [n["name"] for n in document["nodes"]] == ["face", "eye_left", "eye_right", "likeness_avatar"]
    face = document["meshes"][0]["primitives"][0]
    positions = np.frombuffer(glb.buffer_view(document["accessors"][face["attributes"]["POSITION"]]["bufferView"]), np.float32).reshape(-1, 3)
    uv = np.frombuffer(glb.buffer_view(document["accessors"][face["attributes"]["TEXCOORD_0"]]["bufferView"]), np.float32).reshape(-1, 2)
    np.testing.assert_allclose(uv[:468], face_uv(), atol=1e-6)  # the layout is the canonical one, whoever is exported
    eyes = [np.array(document["nodes"][i]["translation"]) for i in (1, 2)]
    assert 0.055 < np.linalg.norm(eyes[0] - eyes[1]) < 0.07  # metres: eyeball centres about one inter-pupil distance apart
    assert eyes[0][0] > 0 > eyes[1][0]  # the subject's left eye on +X
    width, height = np.ptp(positions[:468, 0]), np.ptp(positions[:468, 1])
    assert 0.11 < width < 0.17 and 0.14 < height < 0.21  # a human face, in metres
    assert report["vertices"] == sum(document["accessors"][m["primitives"][0]["attributes"]["POSITION"]]["count"] for m in document["meshes"])
    assert report["triangles"] > 852 and 0.0 < report["filled"] < 0.5
    assert document["images"][0]["mimeType"] == "image/png"
    assert media.decode_image(glb.image(0)[0], name="texture").shape == (1024, 1024, 3)


def test_uv_layout_never_folds(studio):
    uv, t = face_uv(), topology().triangles
    area = np.cross(uv[t[:, 1]] - uv[t[:, 0]], uv[t[:, 2]] - uv[t[:, 0]])
    assert (area < 0).all() or (area > 0).all()  # every triangle keeps its orientation in the texture
    assert uv.min() >= 0.0 and uv.max() <= 1.0


def test_canonical_face_is_the_measured_one():
    portraits = sorted(SHARED_MEDIA.glob("syn_SFHQ_pt*.jpg"))
    if len(portraits) < 7:
        pytest.skip(f"the seven SFHQ portraits are not in {SHARED_MEDIA}")
    with FaceAnalyzer() as analyzer:
        crops = [swap.make_faceset([media.read_image(p)], analyzer).items[0].landmarks for p in portraits]
    np.testing.assert_allclose(measure(crops), CANONICAL, atol=2e-3)


def test_expressions_come_from_the_talking_clip(grace):
    job, record = grace
    report = record.settings["avatar"]
    assert "jawOpen" in report["morph_targets"]
    assert set(report["morph_targets"]) | set(report["morph_missing"]) == set(MORPH_TARGETS)
    assert all("enrol" in why for why in report["morph_missing"].values())  # each missing one says what to add
    glb = read_glb(job.output)
    mesh = glb.document["meshes"][0]
    names = mesh["extras"]["targetNames"]
    assert names == report["morph_targets"] and len(mesh["primitives"][0]["targets"]) == len(names)
    accessor = glb.document["accessors"][mesh["primitives"][0]["targets"][names.index("jawOpen")]["POSITION"]]
    jaw = np.frombuffer(glb.buffer_view(accessor["bufferView"]), np.float32).reshape(-1, 3)
    assert jaw[14, 1] < -0.005 and jaw[152, 1] < 0  # the lower lip drops by millimetres, the chin with it (GRID talks with the lips more than the jaw)
    assert np.abs(jaw[[10, 151, 9]]).max() < 1e-4  # the forehead does not move


def test_alice_from_one_photo_says_which_expressions_are_missing(alice):
    _, record = alice
    report = record.settings["avatar"]
    assert report["morph_targets"] == [] and set(report["morph_missing"]) == set(MORPH_TARGETS)


# -- the Khronos validator and three.js in headless Chromium ----------------------------------------


def _node_tools() -> Path:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("LIKENESS_TEST_REQUIRE_NODE"):
            pytest.fail("node is required here (LIKENESS_TEST_REQUIRE_NODE) but not installed")
        pytest.skip("node is not installed here (CI installs it and runs `npm ci` in tests/js)")
    if not (JS / "node_modules" / "gltf-validator").is_dir() or not (JS / "node_modules" / "three").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `npm ci` in tests/js (make test does it when npm is there)")
    return Path(node)


def test_khronos_validator_reports_no_errors(alice, grace):
    node = _node_tools()
    for job, _ in (alice, grace):
        done = subprocess.run([str(node), str(JS / "validate.mjs"), str(job.output)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        issues = json.loads(done.stdout)["issues"]
        errors = [m for m in issues["messages"] if m["severity"] == 0]
        assert issues["numErrors"] == 0, errors
        assert issues["numWarnings"] == 0, issues["messages"]


@pytest.fixture(scope="module")
def viewer():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (set LIKENESS_TEST_CHROMIUM)")
    pytest.importorskip("playwright.sync_api")
    _node_tools()
    with Viewer() as viewer:
        yield viewer


def _shoot(viewer: Viewer, glb: Path, name: str, **kw) -> tuple[Path, dict]:  # noqa: ANN003
    shot = SHOTS / f"{name}.png"
    return shot, viewer.shoot(glb, shot, **kw)


def test_three_js_draws_the_avatar_and_dlib_recognises_her(studio, alice, viewer):
    job, _ = alice
    front, info = _shoot(viewer, job.output, "alice-front")
    assert "error" not in info, info
    assert [m["name"] for m in info["meshes"]] == ["face", "eye_left", "eye_right"]
    assert info["extras"]["likeness"]["label"] == "AI-generated likeness"
    side, _ = _shoot(viewer, job.output, "alice-45", yaw=45)
    image = media.read_image(front)
    found = studio.analyzer.detect(image)
    assert found, "no face found in the front render"
    enrolled = studio.vault.faceset("alice").embeddings
    gap = min(distance(studio.analyzer.embed(image, found[0]), e) for e in enrolled)
    assert gap < 0.6, f"dlib distance {gap:.3f} from the front render to alice's faceset"
    assert studio.analyzer.detect(media.read_image(side)), "no face found at 45 degrees"


def test_three_js_drives_the_morph_targets(grace, viewer):
    job, _ = grace
    rest, info = _shoot(viewer, job.output, "grace-front")
    assert "jawOpen" in info["targets"]["face"]
    opened, _ = _shoot(viewer, job.output, "grace-jaw-open", morphs={"jawOpen": 1.0})
    _shoot(viewer, job.output, "grace-jaw-open-45", yaw=45, morphs={"jawOpen": 1.0})
    assert np.abs(media.read_image(rest).astype(int) - media.read_image(opened)).mean() > 0.5  # the mouth moved


# -- the CLI ----------------------------------------------------------------------------------------


def _cli(studio: Studio, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIKENESS_HOME": str(studio.home), "LIKENESS_PASSPHRASE": "vault passphrase", "LIKENESS_DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "likeness.cli.main", *args], env=env, capture_output=True, text=True, timeout=300)


def test_cli_exports_and_verify_names_render_and_grant(studio, tmp_path):
    out = tmp_path / "cli.glb"
    done = _cli(studio, "avatar", "alice", "--grant", studio.game, "-o", str(out), "--texture", "1024", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["engine"] == "avatar" and record["settings"]["texture"] == 1024 and out.is_file() and out.with_suffix(".c2pa").is_file()
    checked = _cli(studio, "verify", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "intact" in checked.stdout and record["render_id"] in checked.stdout and studio.game in checked.stdout


def test_cli_refuses_a_film_grant_in_one_line(studio, tmp_path):
    done = _cli(studio, "avatar", "alice", "--grant", studio.film, "-o", str(tmp_path / "no.glb"))
    assert done.returncode == 3 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "game" in done.stderr and list(tmp_path.iterdir()) == []


# -- the studio API ---------------------------------------------------------------------------------


def test_studio_exports_an_avatar_for_an_organisation(studio, tmp_path):
    from fastapi.testclient import TestClient

    from likeness.studio.app import create_app
    from likeness.studio.worker import run_worker
    from likeness.vault import accounts as parties

    vault = studio.vault
    parties.add_organisation(vault, "acme", by="test")
    parties.add_account(vault, "acme-member", "a long enough password", kind="organisation", organisation="acme", org_role="member", by="test")
    game = consent.create_grant(vault, "alice", grantee="acme", scopes=["game"], expires="2035-01-01", talent_passphrase=TALENT).id
    film = consent.create_grant(vault, "alice", grantee="acme", scopes=["film"], expires="2035-01-01", talent_passphrase=TALENT).id
    http = TestClient(create_app(vault))
    login = http.post("/api/v1/sessions", json={"username": "acme-member", "password": "a long enough password"})
    headers = {"X-CSRF-Token": login.json()["csrf_token"]}
    refused = http.post("/api/v1/avatars", json={"identity": "alice", "grant": film}, headers=headers)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert "game" in refused.json()["detail"]
    assert http.post("/api/v1/avatars", json={"identity": "alice", "grant": game, "texture": 300}, headers=headers).status_code == 422
    queued = http.post("/api/v1/avatars", json={"identity": "alice", "grant": game, "texture": 1024}, headers=headers)
    assert queued.status_code == 201, queued.text
    assert run_worker(vault, once=True) == 1
    job = http.get(f"/api/v1/jobs/{queued.json()['id']}").json()
    assert job["state"] == "succeeded", job
    glb = http.get(f"/api/v1/outputs/{job['output']}/download")
    sidecar = http.get(f"/api/v1/avatars/{job['output']}/content-credentials")
    assert glb.status_code == 200 and sidecar.status_code == 200 and sidecar.headers["content-type"] == "application/c2pa"
    (tmp_path / "acme.glb").write_bytes(glb.content)
    (tmp_path / "acme.c2pa").write_bytes(sidecar.content)
    assert tagging.verify(tmp_path / "acme.glb", vault).verdict == "intact"
    public = TestClient(create_app(vault)).post("/api/v1/verify", files={"file": ("acme.glb", glb.content, "model/gltf-binary"),
                                                                        "manifest": ("acme.c2pa", sidecar.content, "application/c2pa")})
    assert public.status_code == 200 and public.json()["verdict"] == "intact"
    assert public.json()["model"]["sidecar"] == "acme.c2pa" and public.json()["model"]["extras"]["identity"] is None  # alice is not named
