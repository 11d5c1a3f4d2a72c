"""``likeness init``, ``identity``, ``grant`` and ``audit``: thin commands over vault and consent.

Passphrases come from LIKENESS_PASSPHRASE / LIKENESS_TALENT_PASSPHRASE, or a hidden prompt when
a terminal is attached; without either the command fails with one line. LIKENESS_SCRYPT_N
lowers the key-derivation cost of a new vault (throw-away vaults, tests); the default is
memory-hard.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from likeness.errors import InputError, VaultError


def _prompt(label: str, *, confirm: bool = False) -> str | None:
    if not sys.stdin.isatty():
        return None
    return typer.prompt(label, hide_input=True, confirmation_prompt=confirm)


def unlocked_settings(*, talent: bool = False, new: bool = False):  # -> Settings
    """Settings from the environment, asking for missing passphrases when a terminal is attached."""
    from likeness.settings import from_env

    settings = from_env()
    if not settings.passphrase:
        settings = dataclasses.replace(settings, passphrase=_prompt("Vault passphrase", confirm=new))
    if talent and not settings.talent_passphrase:
        settings = dataclasses.replace(settings, talent_passphrase=_prompt("Talent passphrase (the owner's, not the vault's)", confirm=new))
    return settings


def _open(*, talent: bool = False):  # -> Vault
    from likeness.vault import open_vault

    return open_vault(unlocked_settings(talent=talent))


def _load_key(path: Path):  # -> Ed25519PrivateKey
    from likeness.vault.talent_keys import load_key_file

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the key file: {exc.strerror}") from None
    passphrase = os.environ.get("LIKENESS_TALENT_PASSPHRASE") or _prompt(f"Passphrase of {path}")
    return load_key_file(data, passphrase, source=str(path))


def _write_or_print(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc.strerror}") from None
    print(f"wrote {out}")


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _identity_dict(identity: Any) -> dict[str, Any]:
    return {
        "name": identity.name,
        "id": identity.id,
        "role": identity.role,
        "created": identity.created,
        "items": identity.items,
        "owner_key": identity.fingerprint,
        "coverage": identity.coverage.as_dict(),
    }


def _grant_dict(grant: Any, record: Any) -> dict[str, Any]:
    data = dict(grant.payload()) if grant is not None else {"id": record.id, "identity": record.identity, "unreadable": True}
    data.pop("type", None)
    data["used"] = record.used
    data["revoked"] = record.revocation is not None
    return data


def _describe_coverage(coverage: Any) -> list[str]:
    lines = [
        f"  crops: {coverage.items}",
        f"  yaw: {coverage.yaw[0]:+.0f}..{coverage.yaw[1]:+.0f} deg, pitch: {coverage.pitch[0]:+.0f}..{coverage.pitch[1]:+.0f} deg",
        f"  mouth open: {coverage.mouth_open_share:.0%}, eyes closed: {coverage.eyes_closed_share:.0%}",
        f"  glasses: {coverage.glasses_share:.0%}, hair over the forehead: {coverage.hair_share:.0%}",
    ]
    lines += [f"  advice: {a}" for a in coverage.advice]
    return lines


def register(app: typer.Typer) -> None:
    """Add ``init``, ``identity``, ``grant`` and ``audit`` to the top-level app."""

    @app.command()
    def init(
        studio: str = typer.Option("demo-studio", "--studio", help="Studio name: the grantee grants must name."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Create the vault: master key from the passphrase, studio C2PA chain, audit log."""
        from likeness.vault import init_vault
        from likeness.vault.crypto import DEFAULT_SCRYPT_N

        raw_n = os.environ.get("LIKENESS_SCRYPT_N") or str(DEFAULT_SCRYPT_N)
        try:
            scrypt_n = int(raw_n)
        except ValueError:
            raise InputError(f"LIKENESS_SCRYPT_N must be a power of two, got {raw_n!r}") from None
        settings = unlocked_settings(new=True)
        with init_vault(settings, studio=studio, scrypt_n=scrypt_n) as vault:
            data = {"home": str(settings.home), "studio": vault.studio, "scrypt_n": scrypt_n}
        if as_json:
            _print_json(data)
        else:
            print(f"vault created in {settings.home} for studio {studio!r}")

    identity = typer.Typer(help="Enrolled identities: enrol, list, show, delete, review held enrolments.", no_args_is_help=True)
    app.add_typer(identity, name="identity")

    def _enrol(name: str, media: list[Path], role: str, as_json: bool, key_file: Path | None = None) -> None:
        from likeness.faces import FaceAnalyzer
        from likeness.vault.enrolment import enrol

        for path in media:
            if not path.is_file():
                raise InputError(f"{path}: no such file")
        owner = _load_key(key_file) if key_file is not None else None
        with _open(talent=owner is None) as vault, FaceAnalyzer() as analyzer:
            report = enrol(vault, name, media, analyzer=analyzer, role=role, talent_passphrase=vault.settings.talent_passphrase, owner=owner)
            firewall = next((h.firewall for h in vault.held() if h.identity.id == report.identity.id), None)
        if as_json:
            _print_json(dict(report.as_dict(), firewall=firewall) if firewall is not None else report.as_dict())
            return
        dropped = ", ".join(f"{n} {why}" for why, n in report.dropped.items()) or "none"
        if firewall is not None:
            print(f"held {report.identity.name!r} for review: its face is close to {firewall.get('nearest')!r} (median distance "
                  f"{firewall.get('distance', 0):.2f}); nothing is granted or rendered until an operator runs "
                  f"`likeness identity confirm {report.identity.name} --different-from {firewall.get('nearest')}` (or --reject)")
            return
        print(f"enrolled {report.identity.name!r}: kept {report.kept} of {report.examined} frames/photos (dropped: {dropped})")
        held = "held by the talent: only its public half is in the vault" if owner is not None else "sealed under the talent passphrase"
        print(f"owner key {report.identity.fingerprint} ({held})")
        print("\n".join(_describe_coverage(report.identity.coverage)))

    @identity.command("enroll")
    def identity_enroll(
        name: str = typer.Argument(..., help="Name of the identity."),
        media: list[Path] = typer.Argument(..., help="Photos and videos of this one person."),
        role: str = typer.Option("self", "--role", help="Who signs for the talent: self, guardian, estate or agent."),
        key: Optional[Path] = typer.Option(None, "--key", help="The talent's own key file (`likeness talent keygen`): only its public half is stored."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Enrol NAME from MEDIA (or add MEDIA to NAME after checking it is the same person)."""
        _enrol(name, media, role, as_json, key)

    @identity.command("add")
    def identity_add(
        name: str = typer.Argument(..., help="An enrolled identity."),
        media: list[Path] = typer.Argument(..., help="More photos and videos of the same person."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Add MEDIA to an enrolled identity (refused unless it shows the same person)."""
        with _open() as vault:
            vault.identity(name)
        _enrol(name, media, "self", as_json)

    @identity.command("list")
    def identity_list(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
        """List enrolled identities."""
        with _open() as vault:
            rows = [_identity_dict(i) for i in vault.identities()]
        if as_json:
            _print_json(rows)
            return
        if not rows:
            print("no identities enrolled")
        for row in rows:
            print(f"{row['name']}\t{row['role']}\t{row['items']} crops\towner key {row['owner_key']}\tsince {row['created']}")

    @identity.command("show")
    def identity_show(
        name: str = typer.Argument(..., help="An enrolled identity."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Show one identity: role, owner key, coverage and advice, grants."""
        from likeness.consent import list_grants

        with _open() as vault:
            ident = vault.identity(name)
            data = _identity_dict(ident)
            data["models"] = [{"id": m.id, "created": m.created} for m in vault.list_models(name)]
            data["grants"] = [_grant_dict(g, r) for g, r in list_grants(vault, name)]
        if as_json:
            _print_json(data)
            return
        print(f"{data['name']} ({data['role']}), id {data['id']}, since {data['created']}")
        print(f"  owner key fingerprint {data['owner_key']} (compare with the talent card)")
        print("\n".join(_describe_coverage(ident.coverage)))
        for g in data["grants"]:
            state = "revoked" if g["revoked"] else "active"
            print(f"  grant {g['id']} -> {g.get('grantee')} {','.join(g.get('scopes', []))} until {g.get('expires')} ({state}, {g['used']} used)")

    @identity.command("delete")
    def identity_delete(
        name: str = typer.Argument(..., help="The identity to destroy."),
        yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Destroy an identity for good: its data key first (crypto-shredding), then blobs, models, grants."""
        if not yes:
            if not sys.stdin.isatty():
                raise InputError("deleting an identity cannot be undone: pass --yes")
            typer.confirm(f"Destroy {name!r} and every crop, model and grant of it?", abort=True)
        with _open() as vault:
            vault.delete_identity(name)
        if as_json:
            _print_json({"deleted": name})
        else:
            print(f"deleted {name!r}: its data key is destroyed, so any copy of its blobs is unreadable")

    @identity.command("review")
    def identity_review(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
        """List enrolments the firewall held for review: close to an enrolled identity, not refused."""
        with _open() as vault:
            rows = [{"name": h.identity.name, "id": h.identity.id, "created": h.identity.created, "items": h.identity.items, **h.firewall}
                    for h in vault.held()]
        if as_json:
            _print_json(rows)
            return
        if not rows:
            print("no enrolments held for review")
        for row in rows:
            distance = row.get("distance")
            print(f"{row['name']}\tclose to {row.get('nearest')!r}\tmedian distance {'?' if distance is None else f'{distance:.2f}'}\t"
                  f"{row.get('agreeing', '?')} of {row.get('crops', '?')} crops agree\tsince {row['created']}")

    @identity.command("confirm")
    def identity_confirm(
        name: str = typer.Argument(..., help="An enrolment held for review."),
        different_from: Optional[str] = typer.Option(None, "--different-from", help="The identity it was held for: they are different people."),
        reject: bool = typer.Option(False, "--reject", help="They are the same person: destroy the held enrolment."),
        by: Optional[str] = typer.Option(None, "--by", help="Who decided (kept in the audit chain; default: the login name)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Decide a held enrolment: activate it (--different-from OTHER) or destroy it (--reject); audited either way."""
        import getpass

        if (different_from is None) == (not reject):
            raise InputError("say what you saw: --different-from OTHER (different people) or --reject (the same person)")
        who = by or getpass.getuser()
        with _open() as vault:
            if reject:
                vault.reject_identity(name, by=who)
            else:
                vault.confirm_identity(name, different_from=str(different_from), by=who)
        if as_json:
            _print_json({"identity": name, "decision": "rejected" if reject else "confirmed", "different_from": different_from, "by": who})
        elif reject:
            print(f"rejected {name!r}: the held enrolment is destroyed (its data key first)")
        else:
            print(f"confirmed {name!r} is not {different_from!r}: it is active, and the audit chain records it ({who})")

    grant = typer.Typer(help="Signed grants: create, list, show, revoke, export, import, check.", no_args_is_help=True)
    app.add_typer(grant, name="grant")

    @grant.command("create")
    def grant_create(
        name: str = typer.Argument(..., help="The identity granting use of their likeness."),
        grantee: str = typer.Option(..., "--grantee", help="Studio allowed to use it."),
        scope: list[str] = typer.Option(..., "--scope", help="film, game, advertising, education, satire or personal (repeatable)."),
        expires: str = typer.Option(..., "--expires", help="End of validity: YYYY-MM-DD (UTC) or ISO time."),
        not_before: Optional[str] = typer.Option(None, "--not-before", help="Start of validity (default: now)."),
        max_renders: Optional[int] = typer.Option(None, "--max-renders", help="Most renders allowed (default: no limit)."),
        visible_label: bool = typer.Option(False, "--visible-label", help="Outputs must carry a visible AI label."),
        note: str = typer.Option("", "--note", help="Free text kept in the signed grant."),
        as_json: bool = typer.Option(False, "--json", help="Print the grant as JSON (with its id)."),
    ) -> None:
        """Sign a grant with NAME's owner key (needs the talent passphrase)."""
        from likeness.consent import create_grant

        scopes = [s for item in scope for s in item.split(",") if s.strip()]
        with _open(talent=True) as vault:
            made = create_grant(
                vault, name, grantee=grantee, scopes=scopes, expires=expires, not_before=not_before,
                max_renders=max_renders, visible_label=visible_label, note=note,
                talent_passphrase=vault.settings.talent_passphrase,
            )
        data = dict(made.payload())
        data.pop("type")
        if as_json:
            _print_json(data)
        else:
            print(f"grant {made.id}: {name} -> {made.grantee}, {', '.join(made.scopes)}, until {data['expires']}")

    @grant.command("list")
    def grant_list(
        name: Optional[str] = typer.Argument(None, help="Only this identity's grants."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """List grants (with use count and revocation state)."""
        from likeness.consent import list_grants

        with _open() as vault:
            rows = [_grant_dict(g, r) for g, r in list_grants(vault, name)]
        if as_json:
            _print_json(rows)
            return
        if not rows:
            print("no grants")
        for g in rows:
            state = "revoked" if g["revoked"] else "active"
            quota = f"{g['used']}/{g.get('max_renders') or 'unlimited'}"
            print(f"{g['id']}\t{g['identity']} -> {g.get('grantee')}\t{','.join(g.get('scopes', []))}\tuntil {g.get('expires')}\t{quota}\t{state}")

    @grant.command("show")
    def grant_show(
        grant_id: str = typer.Argument(..., help="Grant id."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Show one grant and whether it would allow a render now."""
        from likeness.consent import Request, check, load_grant

        with _open() as vault:
            made, record = load_grant(vault, grant_id)
            scope = made.scopes[0]  # valid for at least one of its scopes
            decision = check(vault, Request(made.identity, grant_id, scope, "render", vault.studio))
            data = _grant_dict(made, record)
        data["valid_now"] = decision.allowed
        data["reasons"] = list(decision.reasons)
        if as_json:
            _print_json(data)
            return
        for key in ("id", "identity", "grantee", "scopes", "not_before", "expires", "max_renders", "used", "visible_label", "signer_role", "note", "created", "revoked"):
            print(f"{key}: {data.get(key)}")
        print("valid now: yes" if decision.allowed else "valid now: no: " + "; ".join(decision.reasons))

    @grant.command("revoke")
    def grant_revoke(
        grant_id: str = typer.Argument(..., help="Grant id."),
        reason: str = typer.Option("", "--reason", help="Kept in the signed revocation."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Revoke a grant with a signed revocation (needs the talent passphrase)."""
        from likeness.consent import revoke_grant

        with _open(talent=True) as vault:
            revocation = revoke_grant(vault, grant_id, talent_passphrase=vault.settings.talent_passphrase, reason=reason)
        if as_json:
            _print_json(revocation.payload())
        else:
            print(f"revoked grant {grant_id}; renders under it are refused from now on")

    @grant.command("export")
    def grant_export(
        grant_id: str = typer.Argument(..., help="Grant id."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="File to write (default: stdout)."),
    ) -> None:
        """Write the signed grant (and its revocation, if any) as a file another vault can import."""
        from likeness.consent import export_document

        with _open() as vault:
            text = export_document(vault, grant_id)
        if out is None:
            sys.stdout.write(text)
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{out}: cannot write: {exc.strerror}") from None
        print(f"wrote {out}")

    @grant.command("import")
    def grant_import(
        path: Path = typer.Argument(..., help="A signed grant or revocation file."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Import a signed grant or revocation; its signature must match the identity's owner key."""
        from likeness.consent import import_document

        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        with _open() as vault:
            made, revocation = import_document(vault, text, source=str(path))
        if as_json:
            _print_json({"grant": made.id, "identity": made.identity, "revoked": revocation is not None})
        else:
            print(f"imported grant {made.id} for {made.identity!r}" + (" (revoked)" if revocation else ""))

    @grant.command("check")
    def grant_check(
        grant_id: str = typer.Argument(..., help="Grant id."),
        identity_name: str = typer.Option(..., "--identity", help="Identity to be rendered."),
        scope: Optional[str] = typer.Option(None, "--scope", help="Intended use."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Would a render be allowed now? (No quota is used, nothing is written.)"""
        from likeness.consent import Request, check

        with _open() as vault:
            decision = check(vault, Request(identity_name, grant_id, scope, "render", vault.studio))
        if as_json:
            _print_json({"allowed": decision.allowed, "reasons": list(decision.reasons)})
        else:
            print("allowed" if decision.allowed else "refused: " + "; ".join(decision.reasons))
        if not decision.allowed:
            raise typer.Exit(3)

    @grant.command("revocations")
    def grant_revocations(
        name: str = typer.Argument(..., help="The identity whose revocations to export."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="File to write (default: stdout)."),
    ) -> None:
        """Write the talent's signed revocations (with their public key): `verify --revocations` reads it."""
        from likeness.consent import revocations_document

        with _open() as vault:
            _write_or_print(revocations_document(vault, name), out)

    talent = typer.Typer(help="What a talent keeps and publishes: their card.", no_args_is_help=True)
    app.add_typer(talent, name="talent")

    @talent.command("keygen")
    def talent_keygen(out: Path = typer.Option(..., "--out", "-o", help="Key file to write (keep it; it never goes to the server).")) -> None:
        """Make the talent's own Ed25519 key file, encrypted with their passphrase (LIKENESS_TALENT_PASSPHRASE or a prompt)."""
        import base64

        from likeness.vault.talent_keys import key_fingerprint, new_key_file

        if out.exists():
            raise InputError(f"{out}: exists; a key file is never overwritten")
        passphrase = os.environ.get("LIKENESS_TALENT_PASSPHRASE") or _prompt("Passphrase for the new key file", confirm=True)
        if not passphrase:
            raise InputError("no passphrase: set LIKENESS_TALENT_PASSPHRASE or enter it at the prompt")
        pem, public = new_key_file(passphrase)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        print(json.dumps({"key_file": str(out), "public_key": base64.b64encode(public).decode(), "fingerprint": key_fingerprint(public)}, indent=2))

    @grant.command("sign")
    def grant_sign(
        request: Path = typer.Argument(..., help="The licence request (or revocation) the studio asks you to sign."),
        key: Path = typer.Option(..., "--key", help="Your key file (`likeness talent keygen`)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write the signed file (default: stdout)."),
    ) -> None:
        """Sign a licence request with the talent's key on their own machine (the same as `likeness sign`)."""
        sign_payload_file(request, key, out)

    @app.command("sign")
    def sign_payload_file(
        request: Path = typer.Argument(..., help="What the studio asks you to sign (JSON with a \"payload\": a licence request, a revocation)."),
        key: Path = typer.Option(..., "--key", help="Your key file (`likeness talent keygen`)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write the signed file (default: stdout)."),
    ) -> None:
        """Sign a payload with the talent's key, on the talent's own machine (no vault needed); shows what you sign."""
        from likeness.tagging.verify import read_json_file
        from likeness.vault.talent_keys import key_fingerprint, sign_payload

        document = read_json_file(request, "request to sign")
        payload = document.get("payload") or (document.get("to_sign") or {}).get("payload")
        if not isinstance(payload, str):
            raise InputError(f"{request}: holds no payload to sign")
        try:
            data = json.loads(payload)
        except ValueError:
            raise InputError(f"{request}: the payload is not JSON") from None
        owner = _load_key(key)
        text, signature = sign_payload(owner, data)
        if text != payload:
            raise InputError(f"{request}: the payload is not in canonical form; refusing to sign something else than shown")
        public = owner.public_key().public_bytes_raw()
        print(f"signing {data.get('type')} for {data.get('identity')!r} -> {data.get('grantee', data.get('grant'))!r} "
              f"with key {key_fingerprint(public)[:16]}", file=sys.stderr)
        _write_or_print(json.dumps({"payload": text, "signature": signature}, indent=2) + "\n", out)

    @talent.command("card")
    def talent_card(
        name: str = typer.Argument(..., help="An enrolled identity."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="File to write (default: stdout)."),
    ) -> None:
        """Export NAME's talent card (public key and fingerprint) to publish and compare out of band."""
        from likeness.consent import talent_card as make_card

        with _open() as vault:
            _write_or_print(make_card(vault, name), out)

    @app.command("trust-root")
    def trust_root(out: Optional[Path] = typer.Option(None, "--out", "-o", help="File to write (default: stdout).")) -> None:
        """Export the studio's C2PA root certificate (PEM): a trust list for `verify --trust-list`."""
        with _open() as vault:
            _write_or_print(vault.c2pa_root().decode("ascii"), out)

    audit = typer.Typer(help="The keyed, hash-chained audit log: verify, show, head, check.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def audit_verify(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
        """Check the hash chain; fails (exit 4) naming the first edited, inserted or missing entry."""
        with _open() as vault:
            report = vault.verify_audit()
        if as_json:
            _print_json(dataclasses.asdict(report))
            if not report.ok:
                raise typer.Exit(VaultError.exit_code)
            return
        if not report.ok:
            raise VaultError(f"audit chain broken at entry {report.bad_seq}: {report.problem}")
        print(f"audit chain intact: {report.entries} entries, head {report.head_seq} {report.head_hash}")

    @audit.command("head")
    def audit_head(
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="File to write (default: stdout)."),
        as_json: bool = typer.Option(True, "--json/--text", help="Print the signed head as JSON (the default)."),
    ) -> None:
        """Export the chain's head (sequence, hash, time), signed by the studio: keep it, check it later."""
        with _open() as vault:
            head = vault.signed_head()
        text = json.dumps(head, indent=2, sort_keys=True) + "\n"
        if out is not None or as_json:
            _write_or_print(text, out)
        else:
            print(f"audit head: entry {head['seq']} {head['hash']} at {head['time']} (vault {head['vault']})")

    @audit.command("check")
    def audit_check(
        heads: list[Path] = typer.Argument(..., help="Signed heads saved earlier (from `likeness audit head`)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Prove the present chain extends each saved head; fails (exit 4) naming what changed."""
        from likeness.tagging.verify import read_json_file

        documents = [read_json_file(h, "signed audit head") for h in heads]
        with _open() as vault:
            results = [(str(h), *vault.check_head(d)) for h, d in zip(heads, documents)]
        if as_json:
            _print_json([{"head": h, "ok": ok, "detail": detail} for h, ok, detail in results])
        else:
            for h, ok, detail in results:
                print(f"{'ok' if ok else 'FAILED'}\t{h}\t{detail}")
        if not all(ok for _, ok, _ in results):
            raise typer.Exit(VaultError.exit_code)

    @audit.command("show")
    def audit_show(
        limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Only the last N entries."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Print audit entries, oldest first."""
        with _open() as vault:
            rows = vault.audit_entries(limit=limit)
        if as_json:
            _print_json([dataclasses.asdict(e) for e in rows])
            return
        for e in rows:
            print(f"{e.seq}\t{e.time}\t{e.event}\t{json.dumps(e.data, sort_keys=True, ensure_ascii=False)}")
