"""Attacks on the avatar export (issue 15) and on ``verify`` of a GLB, each as its adversary in the threat model tries it.

A malicious GLB (JSON bombs, hostile buffer views, a texture that is no PNG or a decompression
bomb) gives one clear error (exit 2 on the CLI, a problem on the API), never a traceback or a
verdict about pixels nobody looked at. A bare GLB (its sidecar gone) whose unsigned extras were
copied from another export, whose texture was swapped, or which draws its face from another image
than the marked one is ``tampered``, not ``confirmed``. An organisation learns nothing about
another organisation's grant, and cannot download its GLB or sidecar. An export is refused before
it is counted when the sidecar's name cannot be written, and a grant revoked mid-export uses nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from skimage import data

from likeness import consent, media, tagging
from likeness.errors import ConsentError, InputError
from likeness.faces import FaceAnalyzer
from likeness.media.gltf import BIN_CHUNK, JSON_CHUNK, pack_glb, read_glb
from likeness.render.avatar import AvatarJob, export_avatar
from tests.conftest import SHARED_MEDIA
from tests.test_avatar import TALENT, alice_vault

ALICE_PHOTO = SHARED_MEDIA / "syn_SFHQ_pt1_00000161.jpg"
OTHER_PHOTO = SHARED_MEDIA / "syn_SFHQ_pt2_00001286.jpg"


@dataclasses.dataclass
class Studio:
    vault: object
    home: Path
    game: str  # alice, game, the grant a and b are exported under
    other: str  # alice, game, another grant that asks for a visible label (c is exported under it)
    a: Path
    b: Path
    c: Path


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    home = tmp_path_factory.mktemp("attack-home")
    with FaceAnalyzer() as analyzer:
        vault = alice_vault(home, analyzer)
    game, other = _grant(vault, max_renders=20), _grant(vault, max_renders=20, visible_label=True)
    out = tmp_path_factory.mktemp("attack-out")
    paths = []
    for name, grant in (("a", game), ("b", game), ("c", other)):
        export_avatar(AvatarJob("alice", grant, out / f"{name}.glb", texture=1024), vault=vault)
        paths.append(out / f"{name}.glb")
    yield Studio(vault, home, game, other, *paths)
    vault.close()


def _grant(vault, grantee: str = "game-studio", scopes: tuple[str, ...] = ("game",), **kw) -> str:  # noqa: ANN001
    return consent.create_grant(vault, "alice", grantee=grantee, scopes=list(scopes), expires="2035-01-01", talent_passphrase=TALENT, **kw).id


def _uses(studio: Studio, grant: str) -> int:
    return consent.check(studio.vault, consent.Request("alice", grant, "game", "avatar", "game-studio")).next_n - 1


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text, text


# -- a malicious GLB given to verify -------------------------------------------------------------------


def _doc(glb) -> dict:  # noqa: ANN001
    return json.loads(json.dumps(glb.document))


def _texture_view(document: dict) -> dict:
    return document["bufferViews"][document["images"][0]["bufferView"]]


def _with_png(glb, png: bytes, *, append: bool = False):  # noqa: ANN001, ANN202
    """The document and binary of ``glb`` with ``png`` as its texture, or added as a second image."""
    document, binary = _doc(glb), bytearray(glb.binary)
    start = len(binary)
    binary += png + b"\0" * (-len(png) % 4)
    if append:
        document["bufferViews"].append({"buffer": 0, "byteOffset": start, "byteLength": len(png)})
        document["images"].append({"bufferView": len(document["bufferViews"]) - 1, "mimeType": "image/png"})
    else:
        _texture_view(document).update(byteOffset=start, byteLength=len(png))
    document["buffers"][0]["byteLength"] = len(binary)
    return document, bytes(binary)


def _set_view(key: str, value):  # noqa: ANN001, ANN202
    def change(glb):  # noqa: ANN001, ANN202
        document = _doc(glb)
        _texture_view(document)[key] = value
        return pack_glb(document, glb.binary)
    return change


def _deep_json(glb) -> bytes:  # noqa: ANN001
    text = json.dumps(glb.document)[:-1] + ',"bomb":' + "[" * 100_000 + "]" * 100_000 + "}"
    chunk = text.encode() + b" " * (-len(text) % 4)
    total = 12 + 8 + len(chunk) + 8 + len(glb.binary)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(chunk), JSON_CHUNK) + chunk
            + struct.pack("<II", len(glb.binary), BIN_CHUNK) + glb.binary)


def _png_bomb(glb) -> bytes:  # noqa: ANN001
    buffer = io.BytesIO()
    PILImage.new("RGB", (4100, 4100)).save(buffer, "PNG")  # a few kB that decode to 50 MB: past the largest export's 4096
    return pack_glb(*_with_png(glb, buffer.getvalue()))


def _not_png(glb) -> bytes:  # noqa: ANN001
    return pack_glb(*_with_png(glb, b"\x89PNG\r\n\x1a\n" + b"not a png at all" * 64))


def _images_value(value):  # noqa: ANN001, ANN202
    def change(glb):  # noqa: ANN001, ANN202
        document = _doc(glb)
        document["images"] = value
        return pack_glb(document, glb.binary)
    return change


def _view_value(value):  # noqa: ANN001, ANN202
    def change(glb):  # noqa: ANN001, ANN202
        document = _doc(glb)
        document["bufferViews"][document["images"][0]["bufferView"]] = value
        return pack_glb(document, glb.binary)
    return change


HOSTILE = {
    "json bomb (100000 nested arrays)": _deep_json,
    "huge declared length": _set_view("byteLength", 2**62),
    "negative offset": _set_view("byteOffset", -8),
    "offset that is a string": _set_view("byteOffset", "abc"),
    "offset that is null": _set_view("byteOffset", None),
    "buffer view that is a list": _view_value([1, 2]),
    "images that are an object": _images_value({"0": {"bufferView": 0}}),
    "image that is a string": _images_value(["bufferView"]),
    "texture that is not a PNG": _not_png,
    "PNG decompression bomb": _png_bomb,
}


@pytest.mark.parametrize("attack", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_glb_gives_one_clear_error(studio, tmp_path, attack):
    """Without a sidecar nothing can be checked in these: one InputError, not a crash, not a verdict."""
    hostile = tmp_path / "hostile.glb"
    hostile.write_bytes(HOSTILE[attack](read_glb(studio.a)))
    with pytest.raises(InputError) as refused:
        tagging.verify(hostile, studio.vault)
    _one_line(refused.value)


def _cli(studio: Studio, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIKENESS_HOME": str(studio.home), "LIKENESS_PASSPHRASE": "vault passphrase", "LIKENESS_DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "likeness.cli.main", *args], env=env, capture_output=True, text=True, timeout=300)


def test_cli_verify_of_a_json_bomb_exits_2_in_one_line(studio, tmp_path):
    hostile = tmp_path / "bomb.glb"
    hostile.write_bytes(_deep_json(read_glb(studio.a)))
    done = _cli(studio, "verify", str(hostile))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "nested" in done.stderr


def test_api_verify_of_a_hostile_glb_is_a_problem_not_a_500(studio):
    from fastapi.testclient import TestClient

    from likeness.studio.app import create_app

    http = TestClient(create_app(studio.vault), raise_server_exceptions=False)
    for attack in ("json bomb (100000 nested arrays)", "offset that is a string", "image that is a string"):
        answer = http.post("/api/v1/verify", files={"file": ("face.glb", HOSTILE[attack](read_glb(studio.a)), "model/gltf-binary")})
        assert answer.status_code == 400, (attack, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("name", ["blob", "face.bin", "face.c2pa"])
def test_a_glb_under_another_name_is_still_checked_against_its_sidecar(studio, tmp_path, name):
    """Browsers upload a Blob as ``blob``; the sidecar's MIME type is the GLB's whatever the name (was: KeyError)."""
    from fastapi.testclient import TestClient

    from likeness.studio.app import create_app

    http = TestClient(create_app(studio.vault), raise_server_exceptions=False)
    files = {"file": (name, studio.a.read_bytes(), "model/gltf-binary")}
    if not name.endswith(".c2pa"):  # a GLB uploaded as NAME.c2pa cannot have NAME.c2pa beside it: it is not its own manifest
        files["manifest"] = ("face.c2pa", studio.a.with_suffix(".c2pa").read_bytes(), "application/c2pa")
    answer = http.post("/api/v1/verify", files=files)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == ("confirmed" if name.endswith(".c2pa") else "intact"), answer.json()["reasons"]
    local = tmp_path / "face.bin"
    shutil.copy(studio.a, local)
    shutil.copy(studio.a.with_suffix(".c2pa"), tmp_path / "face.c2pa")
    assert tagging.verify(local, studio.vault).verdict == "intact"


# -- a bare GLB with forged or copied paperwork ----------------------------------------------------------


def _other_face() -> bytes:
    photo = media.read_image(OTHER_PHOTO) if OTHER_PHOTO.is_file() else data.chelsea()
    return media.encode_png(np.ascontiguousarray(cv2.resize(photo, (1024, 1024))))


def _extras(glb) -> dict:  # noqa: ANN001
    return glb.document["asset"]["extras"]["likeness"]


def _b_extras_on_a(s: Studio):  # noqa: ANN202
    a, b = read_glb(s.a), read_glb(s.b)
    document = _doc(a)
    document["asset"]["extras"] = _doc(b)["asset"]["extras"]
    return document, a.binary


def _b_proof_on_a(s: Studio):  # noqa: ANN202 - the same grant, a valid talent-signed proof, another export's number
    a, b = read_glb(s.a), read_glb(s.b)
    document = _doc(a)
    document["asset"]["extras"]["likeness"]["consent"] = _extras(b)["consent"]
    return document, a.binary


def _other_grant_proof_on_a(s: Studio):  # noqa: ANN202 - a valid proof under another game grant of the same talent
    a, c = read_glb(s.a), read_glb(s.c)
    document = _doc(a)
    document["asset"]["extras"]["likeness"].update(consent=_extras(c)["consent"], grant_id=_extras(c)["grant_id"])
    return document, a.binary


def _scope_film(s: Studio):  # noqa: ANN202
    a = read_glb(s.a)
    document = _doc(a)
    document["asset"]["extras"]["likeness"]["scope"] = "film"
    document["asset"]["extras"]["likeness"]["consent"]["scope"] = "film"
    return document, a.binary


def _visible_label_dropped(s: Studio):  # noqa: ANN202 - so a game shows the face without the label the talent asked for
    c = read_glb(s.c)
    document = _doc(c)
    document["asset"]["extras"]["likeness"]["visible_label"]["required"] = False
    return document, c.binary


def _clean_texture(s: Studio):  # noqa: ANN202 - the watermark-bearing texture swapped for an unmarked face
    return _with_png(read_glb(s.a), _other_face())


def _b_texture_a_extras(s: Studio):  # noqa: ANN202
    a, b = read_glb(s.a), read_glb(s.b)
    return _with_png(a, b.image(0)[0])


def _material_draws_another_face(s: Studio):  # noqa: ANN202 - the marked texture kept as images[0], unused
    document, binary = _with_png(read_glb(s.a), _other_face(), append=True)
    document["textures"].append({"sampler": 0, "source": len(document["images"]) - 1})
    for material in document["materials"]:
        material["pbrMetallicRoughness"]["baseColorTexture"]["index"] = len(document["textures"]) - 1
    return document, binary


FORGED = {
    "extras of another export": (_b_extras_on_a, True),
    "consent proof of another export": (_b_proof_on_a, False),  # without the vault the number is not checkable
    "consent proof of another grant": (_other_grant_proof_on_a, False),
    "scope changed to film": (_scope_film, True),
    "visible label request dropped": (_visible_label_dropped, True),
    "texture swapped for a clean one": (_clean_texture, True),
    "texture of another export": (_b_texture_a_extras, True),
    "material draws another image": (_material_draws_another_face, True),
}


@pytest.mark.parametrize("attack", list(FORGED), ids=list(FORGED))
def test_bare_glb_with_forged_paperwork_is_tampered(studio, tmp_path, attack):
    change, without_vault = FORGED[attack]
    forged = tmp_path / "forged.glb"
    forged.write_bytes(pack_glb(*change(studio)))
    verdict = tagging.verify(forged, studio.vault)
    assert verdict.verdict == "tampered", verdict.reasons
    assert verdict.exit_code == 1
    if without_vault:
        assert tagging.verify(forged).verdict == "tampered"


def test_bare_copy_is_still_confirmed_and_the_signed_one_intact(studio, tmp_path):
    """The checks above leave the honest files alone."""
    shutil.copy(studio.a, tmp_path / "bare.glb")
    assert tagging.verify(tmp_path / "bare.glb", studio.vault).verdict == "confirmed"
    assert tagging.verify(tmp_path / "bare.glb").verdict == "unconfirmed"
    assert tagging.verify(studio.a, studio.vault).verdict == "intact"


# -- the export ------------------------------------------------------------------------------------------


def test_a_folder_at_the_sidecars_name_is_refused_before_the_export_is_counted(studio, tmp_path):
    (tmp_path / "face.c2pa").mkdir()
    used, audited = _uses(studio, studio.game), len(studio.vault.audit_entries())
    with pytest.raises(InputError, match="is a folder") as refused:
        export_avatar(AvatarJob("alice", studio.game, tmp_path / "face.glb", texture=1024, overwrite=True), vault=studio.vault)
    _one_line(refused.value)
    assert _uses(studio, studio.game) == used and len(studio.vault.audit_entries()) == audited
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.c2pa"]


def test_a_grant_revoked_while_the_avatar_is_made_uses_nothing_and_writes_nothing(studio, tmp_path):
    grant = _grant(studio.vault, max_renders=3)

    def revoke_midway(stage: str, step: int, steps: int) -> None:
        if stage == "sealing":
            consent.revoke_grant(studio.vault, grant, talent_passphrase=TALENT, reason="mid-export")

    with pytest.raises(ConsentError, match="revoked") as refused:
        export_avatar(AvatarJob("alice", grant, tmp_path / "face.glb", texture=1024), vault=studio.vault, observer=revoke_midway)
    _one_line(refused.value)
    assert list(tmp_path.iterdir()) == []
    assert consent.check(studio.vault, consent.Request("alice", grant, "game", "avatar", "game-studio")).next_n == 1


# -- the studio: one organisation against another ------------------------------------------------------


def test_an_organisation_learns_nothing_of_another_organisations_grant_or_avatar(studio):
    from fastapi.testclient import TestClient

    from likeness.studio.app import create_app
    from likeness.vault import accounts as parties
    from likeness.vault import deliveries

    vault = studio.vault
    for org in ("acme", "rival"):
        parties.add_organisation(vault, org, by="test")
        parties.add_account(vault, f"{org}-member", "a long enough password", kind="organisation", organisation=org, org_role="member", by="test")
    acme_game = _grant(vault, grantee="acme")
    record = tagging.verify(studio.a, vault).render
    output = deliveries.add_output(vault, job_id=str(uuid.uuid4()), organisation="acme", identity="alice", grant_id=acme_game,
                                   render_id=record["render_id"], path=str(studio.a), held=False)

    def member(org: str) -> TestClient:
        http = TestClient(create_app(vault))
        login = http.post("/api/v1/sessions", json={"username": f"{org}-member", "password": "a long enough password"})
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        return http

    acme, rival = member("acme"), member("rival")
    assert acme.get(f"/api/v1/avatars/{output.id}/content-credentials").status_code == 200
    for url in (f"/api/v1/outputs/{output.id}/download", f"/api/v1/avatars/{output.id}/content-credentials",
                "/api/v1/avatars/..%2F..%2Fvault.db/content-credentials", f"/api/v1/avatars/{output.id}%2F..%2F{output.id}/content-credentials"):
        answer = rival.get(url)
        assert answer.status_code == 404, (url, answer.status_code)
        assert answer.headers["content-type"].startswith("application/problem+json")
    # The grant id is in every file made under it; exporting under it says nothing of whose face or whose grant it is.
    for identity in ("alice", "someone-else"):
        refused = rival.post("/api/v1/avatars", json={"identity": identity, "grant": acme_game, "texture": 1024})
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
        detail = refused.json()["detail"]
        assert "alice" not in detail and "acme" not in detail and acme_game in detail, detail
    refused = acme.post("/api/v1/avatars", json={"identity": "alice", "grant": studio.game, "texture": 1024})  # the studio's own grant
    assert refused.status_code == 403 and "game-studio" not in refused.json()["detail"]
