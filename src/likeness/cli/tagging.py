"""``likeness verify FILE [--json]``: works with or without a vault at hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def _open_vault_quietly() -> Any:
    """The vault from the environment when it opens without asking; None otherwise (never required)."""
    try:
        from likeness import vault as vault_pkg
        from likeness.settings import from_env

        settings = from_env()
        if not settings.passphrase or not (settings.home / "vault.db").exists() and settings.database_url.startswith("sqlite"):
            return None
        return vault_pkg.open_vault(settings)
    except Exception:  # noqa: BLE001 - verify must work without a vault, whatever is wrong with it
        return None


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""

    @app.command()
    def verify(
        file: Path = typer.Argument(..., help="Image or video to check."),
        as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
    ) -> None:
        """Say whether FILE is a likeness output: watermark, C2PA state, XMP label, render record."""
        from likeness.tagging import verify as run_verify

        vault = _open_vault_quietly()
        try:
            verdict = run_verify(file, vault)
        finally:
            close = getattr(vault, "close", None)
            if close:
                close()
        data = verdict.as_dict()
        if as_json:
            print(json.dumps(data, indent=2, default=str))
            return
        from rich.console import Console

        console = Console()
        colour = {"synthetic": "yellow", "tampered": "red"}.get(verdict.verdict, "green")
        console.print(f"[bold {colour}]{verdict.verdict}[/]  {file}")
        wm = data["watermark"]
        console.print(f"  watermark: {'found, render ' + wm['render_id_hex'] if wm['found'] else 'not found'} (confidence {wm['confidence']})")
        c2 = data["c2pa"]
        line = f"  c2pa: {c2['state']}"
        if c2["signer"]:
            line += f", signed by {c2['signer']}"
        if c2["render_id"] is not None:
            line += f", render {c2['render_id']:016x}"
        console.print(line)
        if c2["consent"]:
            console.print("  consent: " + ", ".join(f"{k}={v}" for k, v in c2["consent"].items()))
        console.print(f"  xmp: {data['xmp']['digital_source_type'] or 'none'}")
        if data["render"]:
            r = data["render"]
            console.print(f"  render record: identity {r.get('identity')}, grant {r.get('grant_id')}, at {r.get('created_at', r.get('created', ''))}")
        for reason in verdict.reasons:
            console.print(f"  [red]! {reason}[/]")
