"""Content Credentials: every output format signs, reads back trusted, and breaks when pixels change."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from likeness.tagging import COMPOSITE_SOURCE, read_manifest, read_xmp_label, seal, sign
from likeness.vault.certs import make_studio_chain

CONSENT = {"grant_id": "g-42", "scope": "advert", "signer_role": "self", "expires": "2031-01-01", "private_note": "not shown"}


@pytest.fixture(scope="module")
def chain():
    return make_studio_chain("test-studio")


def _write(path, image):
    if path.suffix in (".mp4", ".mov"):
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
            for _ in range(5):
                for packet in stream.encode(av.VideoFrame.from_ndarray(image[:256, :256].copy(), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    else:
        Image.fromarray(image).save(path, quality=92)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".mp4", ".mov"])
def test_signed_output_is_trusted_against_studio_root(tmp_path, astronaut, chain, suffix):
    src, dst = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    _write(src, astronaut)
    seal(src, dst, render_id=77, chain_pem=chain.chain_pem, key_pem=chain.leaf_key_pem, consent=CONSENT)
    manifest = read_manifest(dst, chain.root_cert_pem)
    assert manifest.state == "trusted"
    assert manifest.render_id == 77
    assert manifest.digital_source_type == COMPOSITE_SOURCE
    assert manifest.actions == ("c2pa.created", "c2pa.watermarked")
    assert manifest.consent == {k: CONSENT[k] for k in ("grant_id", "scope", "signer_role", "expires")}
    if suffix != ".mp4" and suffix != ".mov":
        assert read_xmp_label(dst) == COMPOSITE_SOURCE  # XMP went in before signing and survived it


def test_without_trust_root_it_is_valid_and_other_root_is_not_trusted(tmp_path, astronaut, chain):
    _write(tmp_path / "a.png", astronaut)
    sign(tmp_path / "a.png", tmp_path / "b.png", chain_pem=chain.chain_pem, key_pem=chain.leaf_key_pem, render_id=1, consent={})
    assert read_manifest(tmp_path / "b.png").state == "valid"
    assert read_manifest(tmp_path / "b.png", make_studio_chain("elsewhere").root_cert_pem).state == "valid"


def test_unsigned_file_has_no_manifest(tmp_path, astronaut):
    _write(tmp_path / "a.jpg", astronaut)
    assert read_manifest(tmp_path / "a.jpg").state == "absent"


def test_changed_pixels_make_the_manifest_invalid(tmp_path, astronaut, chain):
    _write(tmp_path / "a.jpg", astronaut)
    sign(tmp_path / "a.jpg", tmp_path / "b.jpg", chain_pem=chain.chain_pem, key_pem=chain.leaf_key_pem, render_id=5, consent={})
    data = bytearray((tmp_path / "b.jpg").read_bytes())
    data[-3000] ^= 0x5A
    (tmp_path / "c.jpg").write_bytes(bytes(data))
    manifest = read_manifest(tmp_path / "c.jpg", chain.root_cert_pem)
    assert manifest.state == "invalid"
    assert any("mismatch" in f for f in manifest.failures)


def test_manifest_carries_no_thumbnail(tmp_path, astronaut, chain):
    import c2pa
    import json

    _write(tmp_path / "a.png", astronaut)
    sign(tmp_path / "a.png", tmp_path / "b.png", chain_pem=chain.chain_pem, key_pem=chain.leaf_key_pem, render_id=5, consent={})
    store = json.loads(c2pa.Reader(str(tmp_path / "b.png")).json())
    active = store["manifests"][store["active_manifest"]]
    assert "thumbnail" not in active
    assert all(a.get("created") for a in active["assertions"] if not a["label"].startswith("c2pa.hash"))


def test_studio_chain_is_root_plus_signing_leaf(chain):
    from cryptography import x509

    leaf = x509.load_pem_x509_certificate(chain.leaf_cert_pem)
    root = x509.load_pem_x509_certificate(chain.root_cert_pem)
    assert leaf.issuer == root.subject
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days > 365 * 5
    assert b"PRIVATE KEY" in chain.leaf_key_pem
