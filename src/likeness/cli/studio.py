"""``likeness serve`` and ``likeness user``: the studio server over the same vault as the CLI."""

from __future__ import annotations

import json
import sys
import threading
from typing import Optional

import typer

from likeness.errors import InputError


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``user`` group to the top-level app."""

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", help="Port to listen on."),
        workers: int = typer.Option(1, "--workers", help="Render workers started in this process (0: run `likeness worker` apart)."),
        max_upload_mb: int = typer.Option(2048, "--max-upload-mb", help="Largest upload accepted (413 above)."),
    ) -> None:
        """Serve the studio API (/api/v1) with FastAPI on uvicorn; renders run in workers, through the one pipeline."""
        import uvicorn

        from likeness.cli.vault import unlocked_settings
        from likeness.studio.app import create_app
        from likeness.studio.worker import run_worker
        from likeness.vault import open_vault

        if workers < 0:
            raise InputError("--workers must be 0 or more")
        settings = unlocked_settings()
        vault = open_vault(settings)
        stop = threading.Event()
        threads = [threading.Thread(target=run_worker, args=(lambda: open_vault(settings),), kwargs={"stop": stop},
                                    name=f"likeness-worker-{i}", daemon=True) for i in range(workers)]
        for thread in threads:
            thread.start()
        print(f"likeness studio on http://{host}:{port}/api/v1 (vault {vault.vault_id}, {workers} worker(s))", file=sys.stderr)
        try:
            uvicorn.run(create_app(vault, max_upload_bytes=max_upload_mb << 20), host=host, port=port, log_level="warning")
        finally:
            stop.set()
            vault.close()

    user = typer.Typer(help="Studio accounts: add the first operator, and others.", no_args_is_help=True)
    app.add_typer(user, name="user")

    @user.command("add")
    def user_add(
        username: str = typer.Argument(..., help="Login name."),
        kind: str = typer.Option("operator", "--kind", help="operator, organisation or talent."),
        organisation: Optional[str] = typer.Option(None, "--organisation", help="The organisation (created if missing) of an organisation account."),
        role: Optional[str] = typer.Option(None, "--role", help="admin or member (organisation accounts)."),
        represents: Optional[str] = typer.Option(None, "--represents", help="An identity this talent account acts for."),
        as_role: str = typer.Option("self", "--as", help="self, guardian, estate or agent (with --represents)."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Add an account (the first operator is made here; later ones too, or through the API)."""
        from likeness.cli.vault import _open, _prompt
        from likeness.vault import accounts as parties

        password = sys.stdin.readline().rstrip("\n") if password_stdin else _prompt("Password for " + username, confirm=True)
        if not password:
            raise InputError("no password: pass --password-stdin or enter it at the prompt")
        with _open() as vault:
            if kind == "organisation" and organisation and parties.find_organisation(vault, organisation) is None:
                parties.add_organisation(vault, organisation, by="cli")
            made = parties.add_account(vault, username, password, kind=kind, organisation=organisation, org_role=role, by="cli")
            if represents:
                parties.represent(vault, username, represents, as_role, by="cli")
                made = parties.account(vault, username=username)
        data = {"username": made.username, "kind": made.kind, "organisation": made.organisation, "org_role": made.org_role,
                "identities": made.identities}
        print(json.dumps(data, indent=2) if as_json else f"added {made.kind} account {made.username!r}")
