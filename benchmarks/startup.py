"""Start-up of the ``likeness`` command: wall time of whole commands, as a user times them.

Run: .venv/bin/python benchmarks/startup.py [--runs 5]

Each figure is the median wall time of ``--runs`` fresh subprocesses. A throw-away vault (one
identity, syn_SFHQ_pt1_00000161, and a film grant) is made under a temporary LIKENESS_HOME; the
swap target is syn_SFHQ_pt2_00003040 upscaled to 1000x1000 (1 MP). ``verify`` runs on an
untagged image and on the swap's tagged output, once without a vault (a viewer checking a file)
and once with the studio's vault at hand. The breakdown below the table times, in fresh
processes, the imports each command pays before doing any work, and the first model load.

An installed package has its bytecode cached; a checkout run with PYTHONDONTWRITEBYTECODE=1 (as
some of these machines are) compiles every likeness module at every start, about 0.1-0.3 s more.
So the runs cache bytecode under a temporary PYTHONPYCACHEPREFIX (nothing is written into the
tree), after one uncounted warm-up run of each command; ``--no-bytecode-cache`` measures the
environment as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
IDENTITY = MEDIA / "syn_SFHQ_pt1_00000161.jpg"
TARGET = MEDIA / "syn_SFHQ_pt2_00003040.jpg"
LIKENESS = [sys.executable, "-m", "likeness.cli.main"]
AIMS = {"likeness --help": 0.3, "verify untagged": 0.8, "verify tagged": 0.8, "swap 1 MP image": 1.5}

# Fresh-process probes: each prints the seconds of its steps as JSON.
IMPORTS = """
import json, sys, time
steps = {}
def step(name, fn):
    t = time.perf_counter(); fn(); steps[name] = time.perf_counter() - t
import importlib
for name in sys.argv[1:]:
    step(name, lambda: importlib.import_module(name))
print(json.dumps(steps))
"""
MODELS = """
import json, time
t = time.perf_counter()
from likeness.faces import FaceAnalyzer
from likeness.media import read_image
steps = {"import likeness.faces.detection": time.perf_counter() - t}
image = read_image(__import__("sys").argv[1])
t = time.perf_counter()
with FaceAnalyzer() as analyzer:
    steps["FaceAnalyzer()"] = time.perf_counter() - t
    t = time.perf_counter(); faces = analyzer.detect(image)
    steps["first detect, 1 MP"] = time.perf_counter() - t
    t = time.perf_counter(); analyzer.embed(image, faces[0])
    steps["first embed (loads dlib)"] = time.perf_counter() - t
    t = time.perf_counter(); analyzer.detect(image)
    steps["second detect, 1 MP"] = time.perf_counter() - t
print(json.dumps(steps))
"""


def wall(cmd: list[str], env: dict[str, str], runs: int, ok: tuple[int, ...] = (0,)) -> list[float]:
    """Wall seconds of ``runs`` fresh runs of ``cmd`` after one uncounted warm-up; a failed run stops the benchmark."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")
    return times[1:]


def probe(script: str, args: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median seconds per step of ``script`` over ``runs`` fresh processes (after one uncounted warm-up)."""
    results = [json.loads(subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                                         text=True, check=True).stdout) for _ in range(runs + 1)][1:]
    return {name: statistics.median(r[name] for r in results) for name in results[0]}


def make_studio(folder: Path) -> tuple[dict[str, str], str, Path]:
    """A vault with identity 'bench' and a film grant under ``folder``; returns env, grant id, 1 MP target."""
    from PIL import Image as PILImage

    from likeness import consent, media, swap
    from likeness.faces import FaceAnalyzer
    from likeness.settings import Settings
    from likeness.vault import FacesetItem, init_vault

    home = folder / "home"
    home.mkdir()
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="bench", talent_passphrase="bench")
    vault = init_vault(settings, studio="bench-studio", scrypt_n=2**10)
    with FaceAnalyzer() as analyzer:
        faceset = swap.make_faceset([media.read_image(IDENTITY)], analyzer, identity="bench")
    vault.enrol("bench", [FacesetItem(i.image, i.landmarks, i.pose, i.embedding, i.quality) for i in faceset.items], talent_passphrase="bench")
    grant = consent.create_grant(vault, "bench", grantee="bench-studio", scopes=["film"], expires="2035-01-01", talent_passphrase="bench")
    vault.close()
    target = folder / "target_1mp.png"
    PILImage.open(TARGET).convert("RGB").resize((1000, 1000), PILImage.LANCZOS).save(target)
    env = {**os.environ, "LIKENESS_HOME": str(home), "LIKENESS_PASSPHRASE": "bench", "LIKENESS_DATABASE_URL": ""}
    return env, grant.id, target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure (median reported)")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="run with the environment's bytecode setting as it is")
    args = parser.parse_args(argv)
    if not (IDENTITY.is_file() and TARGET.is_file()):
        print(f"skipped: {IDENTITY} or {TARGET} not found", file=sys.stderr)
        return 0
    runs = max(1, args.runs)
    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env, grant, target = make_studio(folder)
        if not args.no_bytecode_cache:
            env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        # A viewer's environment: no vault, no passphrase.
        bare = {k: v for k, v in env.items() if not k.startswith("LIKENESS_")}
        bare["LIKENESS_HOME"] = str(folder / "nobody")
        out = folder / "out.jpg"
        swap = [*LIKENESS, "swap", str(target), "-o", str(out), "--identity", "bench", "--grant", grant, "--scope", "film", "--overwrite"]
        rows.append(("python -c pass", wall([sys.executable, "-c", "pass"], bare, runs)))
        rows.append(("likeness --help", wall([*LIKENESS, "--help"], bare, runs)))
        rows.append(("verify untagged", wall([*LIKENESS, "verify", str(IDENTITY)], bare, runs, ok=(5,))))
        rows.append(("swap 1 MP image", wall(swap, env, runs)))
        rows.append(("verify tagged", wall([*LIKENESS, "verify", str(out)], bare, runs, ok=(0, 6, 7))))
        rows.append(("verify tagged, vault at hand", wall([*LIKENESS, "verify", str(out)], env, runs, ok=(0, 6, 7))))
        # In the order a swap pays them; each line is what the import adds to those above it.
        imports = probe(IMPORTS, ["likeness.cli.main", "numpy", "cv2", "PIL.Image", "av", "sqlalchemy", "c2pa",
                                  "likeness.faces.detection", "likeness.vault.store", "likeness.tagging", "likeness.render"], bare, runs)
        # What the face models would cost through mediapipe's own __init__ (drawing utils, matplotlib, tasks).
        whole = probe(IMPORTS, ["numpy", "cv2", "mediapipe"], bare, runs)
        models = probe(MODELS, [str(target)], bare, runs)

    cache = "as the environment has it" if args.no_bytecode_cache else "cached (temporary PYTHONPYCACHEPREFIX)"
    print(f"likeness start-up, median of {runs} fresh processes (wall s); bytecode {cache}")
    print(f"{'command':<30} {'median':>7} {'min':>7} {'max':>7} {'aim':>6}")
    for name, times in rows:
        aim = f"{AIMS[name]:.1f}" if name in AIMS else ""
        print(f"{name:<30} {statistics.median(times):7.2f} {min(times):7.2f} {max(times):7.2f} {aim:>6}")
    print("\nimport time in one fresh process, cumulative in this order (each line: what it added)")
    for name, seconds in imports.items():
        print(f"  import {name:<34} {seconds:6.3f}")
    print(f"  (for comparison: import mediapipe, the whole package, after numpy and cv2: {whole['mediapipe']:.3f})")
    print("\nmodels, fresh process")
    for name, seconds in models.items():
        print(f"  {name:<41} {seconds:6.3f}")
    print(f"\ncommand: {' '.join(Path(a).name if a == sys.executable else a for a in swap)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
