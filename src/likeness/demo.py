"""``make demo``: the whole job on embedded defaults, in a throw-away vault.

Init a vault in a temporary LIKENESS_HOME, enrol a synthetic person, sign a grant, swap that
face into a still and a talking-head clip through the one render pipeline, check each output
with ``verify``, and write side-by-side reports next to the outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED_MEDIA = ROOT.parent / "shared" / "media"
IDENTITY_MEDIA = ("syn_SFHQ_pt1_00000161.jpg", "syn_motion_SFHQ_pt1_00000161_5s.mp4")  # synthetic person (SFHQ, MIT)
TARGETS = ("pd_nasa_astronaut_eileen_collins.png", "grid_bbaf2n.mpg")  # NASA portrait (PD), GRID speaker (CC BY 4.0)
CREDITS = (
    "Synthetic identity: SFHQ dataset (SelfishGene/SFHQ-dataset), MIT licence. "
    "Astronaut: NASA portrait of Eileen Collins, public domain. "
    "Talking head: GRID audio-visual corpus, Cooke, Barker, Cunningham and Shao (2006), CC BY 4.0."
)


def _as_dict(value: Any) -> dict[str, Any]:
    if hasattr(value, "as_dict"):
        return dict(value.as_dict())
    if hasattr(value, "to_dict"):
        return dict(value.to_dict())
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return dict(value)


def _inputs() -> tuple[list[Path], list[Path], str]:
    """Identity media and targets: the shared synthetic faces when present, else what ships with scikit-image."""
    if SHARED_MEDIA.is_dir() and all((SHARED_MEDIA / n).is_file() for n in (*IDENTITY_MEDIA, *TARGETS)):
        return [SHARED_MEDIA / n for n in IDENTITY_MEDIA], [SHARED_MEDIA / n for n in TARGETS], "alice"
    from skimage import data

    astronaut = Path(data.data_dir) / "astronaut.png"
    print(
        f"demo: the synthetic test faces are not at {SHARED_MEDIA} ({', '.join(IDENTITY_MEDIA + TARGETS)}).\n"
        "demo: falling back to the one face on this machine, the public-domain NASA portrait that ships\n"
        "demo: with scikit-image, swapped onto itself: it shows the consent, tagging and verify steps only.",
        file=sys.stderr,
    )
    return [astronaut], [astronaut], "eileen-collins-nasa-portrait"


def run(out: Path) -> list[Path]:
    """Do the demo, writing into ``out``; returns the files written."""
    from likeness import consent, faces, tagging
    from likeness.render import RenderJob, record_dict, render
    from likeness.render.report import write_report
    from likeness.settings import Settings
    from likeness.vault import init_vault
    from likeness.vault.enrolment import enrol

    out.mkdir(parents=True, exist_ok=True)
    identity_media, targets, identity = _inputs()
    written: list[Path] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="likeness-demo-") as home:
        settings = Settings(home=Path(home), database_url=f"sqlite:///{Path(home) / 'vault.db'}",
                            passphrase="demo vault passphrase", talent_passphrase="demo talent passphrase")
        print(f"demo: 1/5 throw-away vault in {home} (cheap scrypt: it dies with the demo)")
        with init_vault(settings, studio="demo-studio", scrypt_n=2**12) as vault, faces.FaceAnalyzer() as analyzer:
            print(f"demo: 2/5 enrolling {identity} from {', '.join(p.name for p in identity_media)}")
            report = enrol(vault, identity, identity_media, analyzer=analyzer, talent_passphrase=settings.talent_passphrase)
            print(f"demo:     kept {report.kept} of {report.examined} photos/frames")
            expires = date.today() + timedelta(days=30)
            grant = consent.create_grant(vault, identity, grantee="demo-studio", scopes=["film"], expires=expires.isoformat(),
                                         visible_label=True, note="make demo", talent_passphrase=settings.talent_passphrase)
            print(f"demo: 3/5 grant {grant.id} (film, until {expires}, visible label asked)")
            for target in targets:
                suffix = target.suffix.lower() if target.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".mp4", ".mov") else ".mp4"
                output = out / f"swap-{target.stem}{suffix}"
                print(f"demo: 4/5 swapping {identity} into {target.name} -> {output}")
                job = RenderJob(target=target, output=output, identity=identity, grant_id=grant.id, scope="film",
                                options={"overwrite": True})  # the demo's own folder: a rerun replaces its outputs
                record = record_dict(render(job, vault=vault, analyzer=analyzer, progress=True))
                verdict = _as_dict(tagging.verify(output, vault))
                c2pa = verdict.get("c2pa") or {}
                print(f"demo: 5/5 verify {output.name}: {verdict.get('verdict')}, C2PA {c2pa.get('state') if isinstance(c2pa, dict) else c2pa}")
                png, page = write_report(out, name=f"report-{target.stem}", target=target, output=output,
                                         record=record, verdict=verdict, notes=CREDITS)
                written += [output, png, page]
            # What a talent and the public keep, to check outputs without the vault:
            # `likeness verify OUTPUT --trust-list studio-root.pem --talent-key TALENT.card`.
            root, card = out / "studio-root.pem", out / f"{identity}.card"
            root.write_bytes(vault.c2pa_root())
            card.write_text(consent.talent_card(vault, identity), encoding="utf-8")
            written += [root, card]
            print(f"demo: public check: likeness verify {out / 'swap-*'} --trust-list {root} --talent-key {card}")
    print(f"demo: done in {time.perf_counter() - started:.0f} s")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo-output", type=Path, help="folder for the outputs and reports")
    args = parser.parse_args(argv)
    written = run(args.out)
    print("demo: outputs in " + str(args.out.resolve()))
    for path in written:
        print(f"  {path}")


if __name__ == "__main__":
    main()
