"""``likeness verify FILE [--json]``: works with or without a vault at hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from likeness.errors import LikenessError


def _open_vault_quietly() -> Any:
    """The vault from the environment when it opens without asking; None otherwise (never required)."""
    try:
        from likeness.settings import from_env

        settings = from_env()
        if not settings.passphrase or not (settings.home / "vault.db").exists() and settings.database_url.startswith("sqlite"):
            return None
        from likeness import vault as vault_pkg  # SQLAlchemy: only paid when there is a vault to open

        return vault_pkg.open_vault(settings)
    except Exception:  # noqa: BLE001 - verify must work without a vault, whatever is wrong with it
        return None


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""

    @app.command()
    def verify(
        files: list[Path] = typer.Argument(..., help="Images, videos or avatars (.glb, with their .c2pa beside them) to check."),
        as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
        talent_key: Optional[Path] = typer.Option(None, "--talent-key", help="A talent card: is the grant signed by this talent's key?"),
        revocations: Optional[Path] = typer.Option(None, "--revocations", help="The talent's signed revocations file: was the grant revoked before the render?"),
        trust_list: Optional[Path] = typer.Option(None, "--trust-list", help="PEM file of root certificates to trust (e.g. a studio's published root)."),
    ) -> None:
        """Say what FILES are: intact likeness output, tampered, forged mark, confirmed, unconfirmed or no mark.

        Exit code: 0 intact, 1 tampered or forged, 3 consent proof fails, 5 no mark found,
        6 mark confirmed by the studio, 7 mark not confirmable here; with several files, the
        worst of them (a render number seen twice under one grant is 3).
        """
        from likeness.tagging.verify import duplicates, read_json_file
        from likeness.tagging import verify as run_verify

        card = read_json_file(talent_key, "talent card") if talent_key else None
        revoked = read_json_file(revocations, "revocations file") if revocations else None
        roots = _read_trust_list(trust_list) if trust_list else None
        vault = _open_vault_quietly()
        verdicts, failed = [], 0
        try:
            for f in files:
                try:
                    verdicts.append(run_verify(f, vault, trust_roots=roots, talent_card=card, revocations=revoked))
                except LikenessError as exc:
                    if len(files) == 1:
                        raise
                    print(f"likeness: error: {exc}", file=sys.stderr)  # one line per unreadable file; the others still count
                    failed += 1
        finally:
            close = getattr(vault, "close", None)
            if close:
                close()
        resets = duplicates(verdicts)
        codes = [v.exit_code for v in verdicts] + ([3] if resets else []) + ([2] if failed else [])
        code = next((c for c in (1, 3, 2, 7, 6, 5) if c in codes), 0)
        if as_json:
            reports = [v.as_dict() for v in verdicts]
            print(json.dumps(reports[0] if len(reports) == 1 and not resets else {"files": reports, "reset_counters": resets},
                             indent=2, default=str))
        else:
            for verdict in verdicts:
                _print_verdict(verdict)
            from rich.console import Console

            for line in resets:
                Console().print(f"[bold red]! {line}[/]")
        if code:
            raise typer.Exit(code)


def _read_trust_list(path: Path) -> bytes:
    from likeness.errors import InputError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the trust list: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(f"{path}: not a PEM trust list (no certificate in it)")
    return data


def _print_verdict(verdict: Any) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    data = verdict.as_dict()
    colour = {"intact": "green", "confirmed": "green", "tampered": "red", "forged": "red", "consent-invalid": "red"}.get(verdict.verdict, "yellow")
    console.print(f"[bold {colour}]{verdict.verdict}[/]  {escape(data['path'])}")
    wm = data["watermark"]
    console.print(f"  watermark: {'found, render ' + wm['render_id'] if wm['found'] else 'not found'} (confidence {wm['confidence']})")
    if data["secret_mark"] is not None:
        sm = data["secret_mark"]
        console.print(f"  studio secret mark: {'found, render ' + sm['render_id'] if sm['found'] else 'not found'}")
    c2 = data["c2pa"]
    line = f"  c2pa: {c2['state']}"
    if c2["signer"]:
        line += f", signed by {escape(c2['signer'])}"
    if c2["signer_sha256"] and c2["state"] != "trusted":
        line += f" (certificate sha256:{c2['signer_sha256'][:32]}…, not trusted here)"
    if c2["render_id"] is not None:
        line += f", render {c2['render_id']}"
    console.print(line)
    proof = data["consent"]
    if proof["present"]:
        card = {True: ", the talent card's key", False: ", NOT the talent card's key", None: ""}[proof["talent_card"]]
        console.print(f"  consent: grant {proof['grant_id']} from {escape(str(proof['identity']))} ({proof['signer_role']}), "
                      f"signed by key {str(proof['talent_key'])[:16]}{card}")
        quota = f"of {proof['of']}" if proof["of"] is not None else "(no limit)"
        console.print(f"  render {proof['n']} {quota} at {proof['render_time']}, window {proof['not_before']} .. {proof['expires']}"
                      + (f", revoked {proof['revoked']}" if proof["revoked"] else ""))
        console.print(f"  audit head: entry {proof['head_seq']} ({'signature ok' if proof['head_ok'] else 'does not verify'})")
    if data["model"] is not None:
        model, extras = data["model"], data["model"]["extras"] or {}
        sidecar = escape(model["sidecar"]) if model["sidecar"] else "missing"
        console.print(f"  avatar: render {extras.get('render_id')}, grant {extras.get('grant_id')}, scope {extras.get('scope')}, "
                      f"label {escape(str(extras.get('label')))!r}; C2PA sidecar {sidecar}")
        if (extras.get("visible_label") or {}).get("required"):
            console.print("  the grant asks for a visible label wherever the face is on screen")
    else:
        console.print(f"  xmp: {data['xmp']['digital_source_type'] or 'none'}")
    if data["render"]:
        r = data["render"]
        console.print(f"  render record ({data['attribution']}): {r.get('render_id')}, identity {escape(str(r.get('identity')))}, "
                      f"grant {r.get('grant_id')}, number {r.get('n')}")
    for reason in verdict.reasons:
        console.print(f"  [{colour}]! {escape(reason)}[/]")
