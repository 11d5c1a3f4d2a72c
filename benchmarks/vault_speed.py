"""Vault figures: enrolment time (10 s of video, 20 photos), encryption throughput, one consent check.

Run: .venv/bin/python benchmarks/vault_speed.py
10 s video = syn_motion_SFHQ_pt1_00000161_5s.mp4 twice (one identity, looped); 20 photos = the
SFHQ still of that identity flipped, cropped and scaled in memory (nothing written to disk).
The vault uses the default (memory-hard) scrypt cost; its key derivation is timed on its own.
Figures taken while other work loads the CPU are noisy.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from likeness.consent import Request, authorize, check, create_grant
from likeness.faces import FaceAnalyzer
from likeness.media import read_image
from likeness.settings import Settings
from likeness.vault import init_vault
from likeness.vault.blobs import write_blob
from likeness.vault.crypto import DEFAULT_SCRYPT_N, derive_key, new_kdf_params, new_key, seal, unseal
from likeness.vault.enrolment import collect_images, enrol

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
VIDEO = MEDIA / "syn_motion_SFHQ_pt1_00000161_5s.mp4"
STILL = MEDIA / "syn_SFHQ_pt1_00000161.jpg"


def augmented_photos(image: np.ndarray, count: int = 20):
    """``count`` variants of one still: flips, crops and scales (one identity, in memory)."""
    h, w = image.shape[:2]
    for i in range(count):
        out = image[:, ::-1] if i % 2 else image
        margin = (i // 2) * 0.02
        y0, x0 = int(h * margin), int(w * margin * (1 + (i % 3) / 2))
        out = out[y0 : h - int(h * margin), x0 : w - int(w * margin)]
        scale = 1.0 - 0.04 * (i % 5)
        out = cv2.resize(np.ascontiguousarray(out), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        yield f"photo{i:02d}", out


def main() -> None:
    if not VIDEO.is_file() or not STILL.is_file():
        raise SystemExit(f"vault_speed: needs {VIDEO.name} and {STILL.name} in {MEDIA}")
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    params = new_kdf_params(DEFAULT_SCRYPT_N)
    t = time.perf_counter()
    derive_key("a passphrase", params)
    print(f"scrypt n=2**{DEFAULT_SCRYPT_N.bit_length() - 1} r=8 (vault unlock): {1000 * (time.perf_counter() - t):.0f} ms")

    with tempfile.TemporaryDirectory(prefix="likeness-bench-") as home:
        settings = Settings(home=Path(home), database_url=f"sqlite:///{home}/vault.db", passphrase="p", talent_passphrase="t")
        with init_vault(settings) as vault, FaceAnalyzer() as analyzer:
            analyzer.detect(read_image(STILL))  # load the models outside the timings
            t = time.perf_counter()
            report = enrol(vault, "video-person", [VIDEO, VIDEO], analyzer=analyzer, talent_passphrase="t")
            video_s = time.perf_counter() - t
            print(f"enrol 10 s video (2 x 5 s, 2.5 frames/s sampled): {video_s:.2f} s, "
                  f"{report.examined} frames examined, {report.kept} crops kept")
            vault.delete_identity("video-person")

            t = time.perf_counter()
            collected = collect_images(augmented_photos(read_image(STILL)), analyzer)
            identity = vault.enrol("photo-person", list(collected.items), talent_passphrase="t")
            photos_s = time.perf_counter() - t
            print(f"enrol 20 photos (augmented SFHQ still): {photos_s:.2f} s, {identity.items} crops kept")

            t = time.perf_counter()
            faceset = vault.faceset("photo-person")
            print(f"decrypt faceset ({len(faceset)} crops of 512 px): {1000 * (time.perf_counter() - t):.0f} ms")

            grant = create_grant(vault, "photo-person", grantee=vault.studio, scopes=["film"], expires="2030-01-01", talent_passphrase="t")
            request = Request("photo-person", grant.id, "film", "render", vault.studio)
            times = []
            for _ in range(200):
                t = time.perf_counter()
                check(vault, request)
                times.append(time.perf_counter() - t)
            print(f"consent check: median {1000 * statistics.median(times):.2f} ms (200 runs)")
            times = []
            for _ in range(50):
                t = time.perf_counter()
                authorize(vault, request)
                times.append(time.perf_counter() - t)
            print(f"consent authorize (check + quota + audit, committed): median {1000 * statistics.median(times):.2f} ms (50 runs)")
            t = time.perf_counter()
            assert vault.verify_audit().ok
            print(f"audit verify ({vault.verify_audit().entries} entries): {1000 * (time.perf_counter() - t):.1f} ms")

    key, chunk = new_key(), os.urandom(1 << 20)
    ad = b"bench"
    t = time.perf_counter()
    sealed = [seal(key, chunk, ad) for _ in range(256)]
    enc = 256 / (time.perf_counter() - t)
    t = time.perf_counter()
    for s in sealed:
        unseal(key, s, ad, what="bench")
    dec = 256 / (time.perf_counter() - t)
    print(f"AES-256-GCM in memory, 1 MiB blobs: seal {enc:.0f} MB/s, unseal {dec:.0f} MB/s")
    with tempfile.TemporaryDirectory(prefix="likeness-bench-blobs-") as folder:
        t = time.perf_counter()
        for i in range(32):
            write_blob(Path(folder), f"{i:032x}", seal(key, chunk, ad))
        print(f"sealed blob files (seal + write + fsync + rename): {32 / (time.perf_counter() - t):.0f} MB/s")


if __name__ == "__main__":
    main()
