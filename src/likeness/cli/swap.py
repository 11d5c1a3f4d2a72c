"""CLI commands of this area (to be filled in)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
