"""``likeness swap``: build a RenderJob from the command line and hand it to the pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from likeness.errors import InputError


def register(app: typer.Typer) -> None:
    """Add ``swap`` to the top-level app."""

    @app.command()
    def swap(
        target: Path = typer.Argument(..., help="Image or video whose face(s) get replaced."),
        output: Path = typer.Option(..., "-o", "--output", help="Where to write the tagged result."),
        identity: str = typer.Option(..., "--identity", help="Enrolled identity whose face is used."),
        grant: str = typer.Option(..., "--grant", help="Id of the grant that allows this use."),
        scope: Optional[str] = typer.Option(None, "--scope", help="The use (needed when the grant allows several)."),
        engine: str = typer.Option("retrieval", "--engine", help="Swap engine."),
        face: str = typer.Option("largest", "--face", help="largest, all, or a face index (0 = largest track)."),
        reference: Optional[Path] = typer.Option(None, "--reference", help="Swap the target face most like this photo."),
        model: Optional[str] = typer.Option(None, "--model", help="Trained model id (autoencoder engine; default: the identity's latest)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (autoencoder engine)."),
        colour: str = typer.Option("reinhard", "--colour", help="Colour transfer: reinhard, histogram or none."),
        blend: str = typer.Option("laplacian", "--blend", help="Blending: laplacian (multi-band) or poisson."),
        preset: str = typer.Option("veryfast", "--preset", help="x264 preset of video outputs (slower: smaller file, same quality)."),
        crf: int = typer.Option(18, "--crf", help="H.264 quality of video outputs (lower: better)."),
        work_size: Optional[int] = typer.Option(None, "--work-size", help="Largest face side (px) the swap works at; default: the engine's."),
        visible_label: bool = typer.Option(False, "--visible-label", help="Add the visible AI-generated label even if the grant does not ask."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists (otherwise it is refused)."),
        executor: str = typer.Option("local", "--executor", help="Where a video's frames are worked: local (this process) or ray (a Ray cluster)."),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join (host:port or auto); default: LIKENESS_RAY_ADDRESS, else a local cluster started for the render."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Ray workers at once (default: one per CPU of the cluster, per GPU with --device cuda)."),
        chunk_seconds: float = typer.Option(20.0, "--chunk-seconds", min=0.1, help="Seconds of video per Ray chunk (cut at the keyframe after)."),
        as_json: bool = typer.Option(False, "--json", help="Print the render record as JSON."),
    ) -> None:
        """Swap an enrolled identity's face into TARGET, under a grant; the output is watermarked and signed."""
        from likeness import faces, settings, swap
        from likeness.render import RenderJob, record_dict, render
        from likeness.vault import open_vault

        job = RenderJob(
            target=target, output=output, identity=identity, grant_id=grant, scope=scope,
            engine=engine, face=face, reference=reference,
            options={"colour": colour, "blend": blend, "preset": preset, "crf": crf, "work_size": work_size,
                     "visible_label": visible_label, "overwrite": overwrite},
        )
        if model is not None and engine != "autoencoder":
            raise InputError(f"--model is for the autoencoder engine, not {engine!r}")
        if executor not in ("local", "ray"):
            raise InputError(f"--executor {executor!r}: use local or ray")
        config = settings.from_env()
        vault = open_vault(config)
        made = cluster = None
        if executor == "ray":
            from likeness.render.cluster import RayExecutor

            cluster = RayExecutor(address=ray_address or config.ray_address, workers=workers, chunk_seconds=chunk_seconds,
                                  device=device, model=model)
        elif engine == "autoencoder":
            # The trained engine reads its model from the vault; it is decrypted only in prepare(),
            # after the pipeline's consent check.
            made = swap.make_engine(engine, vault=vault, model=model, device=device)
        with faces.FaceAnalyzer() as analyzer:
            record = render(job, vault=vault, analyzer=analyzer, engine=made, progress=not as_json, executor=cluster)
        data = record_dict(record)
        if as_json:
            print(json.dumps(data, default=str, indent=2))
        else:
            failed = data["settings"].get("failed_frames") or 0
            note = f", {failed} frame(s) kept unswapped or held after engine errors" if failed else ""
            print(f"wrote {output} (render {data['render_id']}, {data['settings'].get('frames')} frame(s){note})")
