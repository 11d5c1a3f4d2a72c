"""Avatar figures: every identity of ../shared/media that can be enrolled, exported as a GLB and looked at.

Each file that shows one person (a still, a talking clip; the 161 portrait together with the clip
made from it) is enrolled the way `likeness identity enroll` does it, in a vault of its own (so
the firewall does not hold one synthetic face for another), and exported under a game grant with
`--expressions`. Per identity it prints: the crops, the dlib distance from the three.js front
render (headless Chromium) to the nearest enrolled crop and to the crops' mean (aim < 0.6), the
file size, vertex and triangle counts, the share of the texture filled where no crop saw the face
squarely, the Khronos validator's error count, and the morph targets made and missing. Front and
45-degree renders go to bench-output/avatar/ (they show synthetic and public-domain faces: publish
them with the credits of ../shared/media/README.md).

    .venv/bin/python benchmarks/avatar.py [--texture 2048] [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
OUT = ROOT / "bench-output" / "avatar"
sys.path.insert(0, str(ROOT))  # tests.avatar_viewer: the page and browser the tests draw with

from likeness import consent, media  # noqa: E402
from likeness.errors import LikenessError  # noqa: E402
from likeness.faces import FaceAnalyzer, distance  # noqa: E402
from likeness.render.avatar import AvatarJob, export_avatar  # noqa: E402
from likeness.settings import Settings  # noqa: E402
from likeness.vault import init_vault  # noqa: E402
from likeness.vault.enrolment import enrol  # noqa: E402
from tests.avatar_viewer import JS, Viewer  # noqa: E402

TALENT = "benchmark talent passphrase"
NOT_ONE_PERSON = ("grid_8faces", "multiface", "class_group", "tears_of_steel")  # several people: enrolment refuses them


def identities() -> dict[str, list[Path]]:
    """Name -> the media of one person."""
    found: dict[str, list[Path]] = {}
    for path in sorted(MEDIA.iterdir()):
        if path.suffix.lower() not in (".jpg", ".png", ".mpg", ".mp4") or any(k in path.name for k in NOT_ONE_PERSON):
            continue
        if path.name.startswith("syn_motion_SFHQ_pt1_00000161"):
            continue  # the same person as the 161 portrait: enrolled with it
        name = path.stem.replace("syn_", "").replace("_FLUX1", "").replace("_image", "")[:40]
        found[name] = [path] + ([p for p in MEDIA.glob("syn_motion_SFHQ_pt1_00000161*")] if "00000161" in path.name else [])
    if not found:
        astronaut = Path(tempfile.mkdtemp()) / "astronaut.png"
        media.write_image(astronaut, data.astronaut())
        found["astronaut"] = [astronaut]
    return found


def validator_errors(glb: Path) -> int | None:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "gltf-validator").is_dir():
        return None
    done = subprocess.run([node, str(JS / "validate.mjs"), str(glb)], capture_output=True, text=True, timeout=120)
    return int(json.loads(done.stdout)["issues"]["numErrors"]) if done.returncode == 0 else -1


def export_one(name: str, paths: list[Path], work: Path, analyzer: FaceAnalyzer, texture: int, viewer: Viewer | None) -> dict:
    home = work / name
    home.mkdir()
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="bench", talent_passphrase=TALENT)
    vault = init_vault(settings, studio="bench-studio", scrypt_n=2**10)
    row: dict = {"identity": name, "media": ", ".join(p.name for p in paths)}
    try:
        report = enrol(vault, name, paths, analyzer=analyzer, talent_passphrase=TALENT)
        row["crops"] = report.kept
        grant = consent.create_grant(vault, name, grantee="bench-studio", scopes=["game"], expires="2035-01-01", talent_passphrase=TALENT)
        glb = OUT / f"{name}.glb"
        glb.unlink(missing_ok=True)
        glb.with_suffix(".c2pa").unlink(missing_ok=True)
        started = time.perf_counter()
        record = export_avatar(AvatarJob(name, grant.id, glb, texture=texture, expressions=True), vault=vault)
        row["export_s"] = round(time.perf_counter() - started, 1)
        avatar = record.settings["avatar"]
        row.update(size_kb=round(glb.stat().st_size / 1024), vertices=avatar["vertices"], triangles=avatar["triangles"],
                   filled=avatar["filled"], morphs=avatar["morph_targets"], missing=sorted(avatar["morph_missing"]),
                   validator_errors=validator_errors(glb))
        if viewer is not None:
            front = OUT / f"{name}-front.png"
            viewer.shoot(glb, front)
            viewer.shoot(glb, OUT / f"{name}-45.png", yaw=45)
            image = media.read_image(front)
            faces = analyzer.detect(image)
            if faces:
                rendered = analyzer.embed(image, faces[0])
                crops = vault.faceset(name).embeddings
                row["dlib_nearest"] = round(min(distance(rendered, e) for e in crops), 3)
                row["dlib_mean"] = round(distance(rendered, crops.mean(0)), 3)
            else:
                row["dlib_nearest"] = row["dlib_mean"] = "no face found"
    except LikenessError as exc:
        row["error"] = str(exc)
    finally:
        vault.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texture", type=int, default=2048)
    parser.add_argument("--only", default="", help="comma-separated identity names (default: all)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = identities()
    if args.only:
        wanted = {k: v for k, v in wanted.items() if k in args.only.split(",")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="likeness-avatar-bench-") as work, FaceAnalyzer() as analyzer:
        try:
            viewer = Viewer().__enter__()
        except Exception as exc:  # noqa: BLE001 - no Chromium or no node_modules: the other figures still count
            print(f"(no renders: {type(exc).__name__}: {exc})")
            viewer = None
        try:
            for name, paths in wanted.items():
                rows.append(export_one(name, paths, Path(work), analyzer, args.texture, viewer))
                print(json.dumps(rows[-1]), flush=True)
        finally:
            if viewer is not None:
                viewer.__exit__(None, None, None)
    print()
    print(f"{'identity':42} {'crops':>5} {'dlib near':>9} {'dlib mean':>9} {'KB':>6} {'verts':>5} {'tris':>5} {'filled':>6} {'val.err':>7}  morphs (made / missing)")
    for r in rows:
        if "error" in r:
            print(f"{r['identity']:42} refused or failed: {r['error']}")
            continue
        print(f"{r['identity']:42} {r['crops']:>5} {str(r.get('dlib_nearest', '-')):>9} {str(r.get('dlib_mean', '-')):>9} {r['size_kb']:>6} "
              f"{r['vertices']:>5} {r['triangles']:>5} {r['filled']:>6.1%} {str(r['validator_errors']):>7}  "
              f"{', '.join(r['morphs']) or '-'} / {', '.join(r['missing']) or '-'}")
    passed = [r for r in rows if isinstance(r.get("dlib_nearest"), float)]
    if passed:
        near = np.array([r["dlib_nearest"] for r in passed])
        print(f"\nrecognised (nearest crop < 0.6): {int((near < 0.6).sum())} of {len(passed)}; median distance {np.median(near):.3f}")


if __name__ == "__main__":
    main()
