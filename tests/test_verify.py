"""``likeness verify`` on files sealed by hand (no vault, no consent proof): the witnesses and the words.

Pipeline outputs with their consent proof are in test_verify_proof."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import shared
from likeness.tagging import mark_frame, seal, verify
from likeness.vault.certs import make_studio_chain

RENDER_ID = 0x0FED_CBA9_8765_4321
CONSENT = {"grant_id": "g-7", "scope": "film", "signer_role": "self", "expires": "2030-06-30"}


@pytest.fixture(scope="module")
def chain():
    return make_studio_chain("verify-studio")


@pytest.fixture(scope="module")
def output(tmp_path_factory, astronaut, chain):
    folder = tmp_path_factory.mktemp("verify")
    marked = mark_frame(astronaut, render_id=RENDER_ID, face_boxes=[(150, 40, 170, 190)], visible=False, time=0.0)
    Image.fromarray(marked).save(folder / "encoded.png")
    seal(folder / "encoded.png", folder / "out.png", render_id=RENDER_ID, chain_pem=chain.chain_pem, key_pem=chain.leaf_key_pem, consent=CONSENT)
    return folder / "out.png"


def test_untouched_output_is_trusted_but_without_a_consent_proof(output, chain):
    v = verify(output, trust_roots=chain.root_cert_pem)
    assert v.verdict == "consent-invalid" and v.exit_code == 3  # sealed by hand: no signed grant inside
    assert any("no signed grant" in r for r in v.reasons)
    assert v.c2pa.state == "trusted"
    assert v.watermark.found and v.watermark.payload == RENDER_ID
    assert v.xmp and v.xmp.endswith("compositeWithTrainedAlgorithmicMedia")


def test_jpeg_q50_cropped_to_half_area_still_names_the_render_but_cannot_confirm_it(output, tmp_path):
    image = np.asarray(Image.open(output).convert("RGB"))
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 50])
    again = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    h, w = again.shape[:2]
    ch, cw = int(h * 0.71), int(w * 0.71)
    # A centred crop. Known limit: at other offsets JPEG q50 + half-area crop of this small (512 px)
    # image reads back in about 2 of 3 cases (see benchmarks/watermark.py).
    crop = again[(h - ch) // 2 : (h - ch) // 2 + ch, (w - cw) // 2 : (w - cw) // 2 + cw]
    cv2.imwrite(str(tmp_path / "stripped.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
    v = verify(tmp_path / "stripped.jpg")
    assert v.c2pa.state == "absent"
    assert v.verdict == "unconfirmed" and v.watermark.payload == RENDER_ID and v.exit_code == 7
    assert "only the issuing studio can confirm it" in v.reasons[0]


def test_unmarked_photo_is_no_mark_found(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "photo.jpg", quality=90)
    v = verify(tmp_path / "photo.jpg")
    assert v.verdict == "no-mark-found" and v.exit_code == 5


def test_manifest_over_changed_pixels_is_tampered(output, tmp_path, chain):
    # Re-sign foreign pixels with a copied manifest's render id: the watermark contradicts it.
    other = mark_frame(np.asarray(Image.open(output).convert("RGB"))[::-1].copy(), render_id=RENDER_ID ^ 1, face_boxes=[], visible=False, time=0.0)
    Image.fromarray(other).save(tmp_path / "other.png")
    seal(tmp_path / "other.png", tmp_path / "forged.png", render_id=RENDER_ID, chain_pem=chain.chain_pem, key_pem=chain.leaf_key_pem, consent=CONSENT)
    assert verify(tmp_path / "forged.png").verdict == "tampered" and verify(tmp_path / "forged.png").exit_code == 1
    # And a plain pixel edit under the original manifest breaks its hash.
    data = bytearray(output.read_bytes())
    data[len(data) // 2] ^= 0x40
    (tmp_path / "edited.png").write_bytes(bytes(data))
    assert verify(tmp_path / "edited.png").verdict == "tampered"


def test_cli_json_has_the_promised_keys(output):
    out = subprocess.run([sys.executable, "-m", "likeness.cli.main", "verify", str(output), "--json"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LIKENESS_HOME": str(output.parent / "no-vault")})
    assert out.returncode == 7, out.stderr  # a signer nobody here trusts: not confirmable
    data = json.loads(out.stdout)
    assert data["verdict"] == "unconfirmed" and data["exit_code"] == 7
    assert data["watermark"]["found"] is True and data["watermark"]["render_id"] == f"{RENDER_ID:016x}"
    assert data["c2pa"]["state"] == "valid"  # no vault here, so no studio root to trust
    assert data["c2pa"]["signer_sha256"] and data["c2pa"]["signer_sha256"] in " ".join(data["reasons"])
    assert data["c2pa"]["consent"]["grant_id"] == "g-7"
    assert "digital_source_type" in data["xmp"]


def test_cli_missing_file_is_one_line_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "likeness.cli.main", "verify", str(tmp_path / "nope.png")], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "nope.png" in out.stderr


@pytest.mark.parametrize(("crf", "divide"), [(28, 1), (23, 2)])
def test_marked_video_is_found_after_reencoding(tmp_path, crf, divide):
    """H.264 CRF 28 at full size, and half resolution at CRF 23 (both at once fails on 256 px: see report)."""
    import av

    from likeness import media

    path = shared("syn_motion_SFHQ_pt1_00000161_5s.mp4")
    frames = [f.image for _, f in zip(range(30), media.read_frames(path))]
    marked = [mark_frame(f, render_id=RENDER_ID, face_boxes=[], visible=True, time=i / 25) for i, f in enumerate(frames)]
    out = tmp_path / "reencoded.mp4"
    h, w = marked[0].shape[:2]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = w // divide, h // divide, "yuv420p"
        for image in marked:
            small = cv2.resize(image, (w // divide, h // divide), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(small, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    v = verify(out)
    assert v.verdict == "unconfirmed" and v.watermark.payload == RENDER_ID
