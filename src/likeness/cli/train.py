"""``likeness train`` and ``likeness model list|show|delete``: thin over :mod:`likeness.train`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer


def _open_vault():  # -> Vault
    from likeness.cli.vault import unlocked_settings
    from likeness.vault import open_vault

    return open_vault(unlocked_settings())


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _preview_writer(path: Path, *, vault, identity: str, grant_id: str, scope: str | None):  # noqa: ANN001, ANN202
    """A callback writing the preview grid through the render package, like every output.

    The grid shows the talent's swapped face: it is watermarked, labelled, C2PA-signed and
    recorded as a render of the training grant (no extra quota: training took its use).
    """
    import cv2

    from likeness.render.still import write_still

    written: list[int] = []

    def write(grid) -> None:  # noqa: ANN001 - numpy image
        # Called only after training's consent check passed, so the grant is known to exist.
        scale = max(1, 256 // max(1, grid.shape[1] // 5))  # five columns of R px cells: make them judgeable by eye
        if scale > 1:
            grid = cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        record = write_still(grid, path, vault=vault, identity=identity, grant_id=grant_id, scope=scope,
                             engine="autoencoder-preview", settings={"kind": "train-preview", "update": len(written) + 1})
        written.append(record.render_id)

    write.render_ids = written  # type: ignore[attr-defined]
    return write


def register(app: typer.Typer) -> None:
    """Add ``train`` and the ``model`` group to the top-level app."""

    @app.command()
    def train(
        name: str = typer.Argument(..., help="Enrolled identity to train on (the source face)."),
        grant: str = typer.Option(..., "--grant", help="Id of the grant that allows training on this likeness."),
        target: Path = typer.Option(..., "--target", help="Target video, image or folder of images."),
        preset: str = typer.Option("quick", "--preset", help="quick (CPU, 64 px) or quality (GPU, 192 px)."),
        resolution: Optional[int] = typer.Option(None, "--resolution", help="Face crop size, 64..256, multiple of 16."),
        iterations: Optional[int] = typer.Option(None, "--iterations", help="Train this many iterations."),
        minutes: Optional[float] = typer.Option(None, "--minutes", help="Train for this many minutes."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (cuda is never silently replaced by cpu)."),
        resume: Optional[str] = typer.Option(None, "--resume", help="Continue training this model id."),
        seed: int = typer.Option(0, "--seed", help="Random seed, for reproducible runs."),
        scope: Optional[str] = typer.Option(None, "--scope", help="The grant scope (needed when it has several)."),
        preview: Optional[Path] = typer.Option(
            None, "--preview", help="Write a preview grid PNG here (it shows the talent's face: keep it private)."
        ),
        preview_every: int = typer.Option(200, "--preview-every", help="Iterations between two preview updates."),
        as_json: bool = typer.Option(False, "--json", help="Print the stored model's metadata as JSON."),
    ) -> None:
        """Train the autoencoder engine on NAME's faceset and the faces of TARGET; the model goes into the vault."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from likeness import faces
        from likeness.train import TrainJob, resolve_device, train_model

        if preview is not None and preview.suffix.lower() != ".png":
            from likeness.errors import InputError

            raise InputError(f"--preview {preview}: give a .png path")
        job = TrainJob(
            identity=name, grant_id=grant, target=target, preset=preset, resolution=resolution,
            iterations=iterations, minutes=minutes, device=device, resume=resume, seed=seed, scope=scope,
        )
        resolve_device(device)  # refuse an absent GPU before the bar appears (train_model checks again)
        err = Console(stderr=True)
        total = float(iterations) if iterations is not None else float(minutes) * 60  # type: ignore[arg-type]
        bar = Progress(
            TextColumn("training"), BarColumn(), TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
            console=err, disable=as_json, transient=False,
        )
        task = bar.add_task("train", total=total, status="loading faces")

        def started(where: str, n_source: int, n_target: int) -> None:
            err.print(f"training on [bold]{where}[/bold]: {n_source} source faces, {n_target} target faces, preset {preset}")

        steps = [0]

        def progressed(p) -> None:  # noqa: ANN001 - likeness.train.Progress
            steps[0] += 1
            left = f"  {p.remaining / 60:.1f} min left" if p.remaining is not None else ""
            status = f"it {p.iteration}  src {p.src_loss:.3f}  dst {p.dst_loss:.3f}  {p.its_per_second:.2f} it/s{left}"
            bar.update(task, completed=steps[0] if iterations is not None else p.elapsed, status=status)

        vault = _open_vault()
        on_preview = _preview_writer(preview, vault=vault, identity=name, grant_id=grant, scope=scope) if preview is not None else None
        with faces.FaceAnalyzer() as analyzer, bar:
            outcome = train_model(
                job, vault=vault, analyzer=analyzer, on_start=started, on_progress=progressed,
                on_preview=on_preview,
                preview_every=preview_every if preview is not None else 0,
            )
        if as_json:
            _print_json({"model": outcome.model_id, **outcome.meta})
            return
        r = outcome.result
        how = "stopped by Ctrl-C, checkpoint saved" if r.interrupted else "done"
        print(f"model {outcome.model_id} stored in the vault for {name!r} ({how}): {r.iterations} iterations "
              f"({r.steps} this run, {r.seconds / 60:.1f} min on {outcome.device}), "
              f"loss src {outcome.meta['losses']['src']} dst {outcome.meta['losses']['dst']}")
        if preview is not None:
            print(f"preview grid (source | rebuilt | target | rebuilt | swapped): {preview}")

    model_app = typer.Typer(help="Trained models in the vault: list, show, delete.", no_args_is_help=True)
    app.add_typer(model_app, name="model")

    @model_app.command("list")
    def model_list(
        identity: Optional[str] = typer.Option(None, "--identity", help="Only this identity's models."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """List trained models (newest last)."""
        vault = _open_vault()
        rows = [
            {"id": m.id, "identity": m.identity, "created": m.created, "preset": m.meta.get("preset"),
             "resolution": m.meta.get("resolution"), "iterations": m.meta.get("iterations"), "grant": m.meta.get("grant_id")}
            for m in vault.list_models(identity)
        ]
        if as_json:
            _print_json(rows)
            return
        if not rows:
            print("no trained models")
        for row in rows:
            print(f"{row['id']}  {row['identity']}  {row['preset']} {row['resolution']}px  "
                  f"{row['iterations']} it  grant {row['grant']}  {row['created']}")

    @model_app.command("show")
    def model_show(
        model_id: str = typer.Argument(..., help="Model id (from `likeness model list`)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Show a model's settings, iterations, losses and grant (the weights stay sealed)."""
        vault = _open_vault()
        info = next((m for m in vault.list_models() if m.id == model_id), None)
        if info is None:
            from likeness.errors import InputError

            raise InputError(f"no model {model_id} in the vault (see `likeness model list`)")
        meta = {k: v for k, v in info.meta.items() if k != "loss_history"}
        data = {"id": info.id, "identity": info.identity, "created": info.created, **meta}
        if as_json:
            _print_json({**data, "loss_history": info.meta.get("loss_history", [])})
            return
        for key, value in data.items():
            print(f"{key}: {value}")

    @model_app.command("delete")
    def model_delete(
        model_id: str = typer.Argument(..., help="Model id to destroy."),
        yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    ) -> None:
        """Delete a trained model from the vault (audited)."""
        vault = _open_vault()
        if not yes:
            typer.confirm(f"Delete model {model_id}?", abort=True)
        vault.delete_model(model_id)
        print(f"deleted model {model_id}")
