"""``likeness doctor [FOLDER...] [--json]``: clean up after renders that were killed.

Needs no passphrase. It finds the hidden render folders (``.likeness-render-*``) that renders
registered under ``LIKENESS_HOME/pending`` (and any in the FOLDERs given), removes those whose
render is gone, and leaves those whose lock is held (a render still running). A sealed file
the vault already recorded (the render died just before its final rename) is moved to its
output name instead, when that name is free. The vault's render table is read without the
passphrase: output hashes are not secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer


def _recorded_lookup(settings) -> Callable[[str], bool] | None:  # noqa: ANN001 - likeness.settings.Settings
    """``is_recorded(sha256_hex)`` reading the vault's render table; None when there is no vault to read."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or not Path(path).is_file():
            return None
    try:
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        from likeness.vault import schema
        from likeness.vault.database import make_engine

        engine = make_engine(url)
    except Exception:  # noqa: BLE001 - no readable vault: nothing can be recorded in it
        return None

    def is_recorded(sha256_hex: str) -> bool:
        try:
            with engine.connect() as connection:
                query = select(schema.renders.c.id).where(schema.renders.c.output_sha256 == sha256_hex).limit(1)
                return connection.execute(query).first() is not None
        except SQLAlchemyError as exc:
            raise RuntimeError(f"cannot read the vault's renders: {type(exc).__name__}") from None

    return is_recorded


def register(app: typer.Typer) -> None:
    """Add ``doctor`` to the top-level app."""

    @app.command()
    def doctor(
        folders: Optional[list[Path]] = typer.Argument(None, metavar="[FOLDER]...", help="Output folders to look in as well (only their .likeness-render-* entries)."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Remove what killed renders left behind (hidden .likeness-render-* folders); needs no passphrase."""
        from likeness.render.output import doctor as run_doctor
        from likeness.settings import from_env

        settings = from_env()
        report = run_doctor(settings.home, is_recorded=_recorded_lookup(settings), folders=folders or ())
        if as_json:
            print(json.dumps(report.to_dict(), indent=2))
            return
        for action in report.actions:
            about = f" (output {action.output})" if action.output else ""
            detail = f": {action.detail}" if action.detail else ""
            print(f"{action.action} {action.folder}{about}{detail}")
        counts = [f"{report.count(a)} {a}" for a in ("removed", "recovered", "active", "kept") if report.count(a)]
        print(f"likeness doctor: {', '.join(counts)}" if counts else "likeness doctor: nothing to clean up")
