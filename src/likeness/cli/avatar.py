"""``likeness avatar``: build an AvatarJob from the command line and hand it to the export."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``avatar`` to the top-level app."""

    @app.command()
    def avatar(
        identity: str = typer.Argument(..., help="Enrolled identity whose face is exported."),
        grant: str = typer.Option(..., "--grant", help="Id of a grant with scope game that allows this use."),
        output: Path = typer.Option(..., "-o", "--output", help="The avatar to write (.glb); its C2PA manifest goes beside it as NAME.c2pa."),
        texture: int = typer.Option(2048, "--texture", help="Texture size: 1024, 2048 or 4096."),
        expressions: bool = typer.Option(False, "--expressions", help="Add ARKit-named morph targets for the expressions the faceset shows."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT (and its .c2pa) if they exist."),
        as_json: bool = typer.Option(False, "--json", help="Print the render record, with the avatar's report, as JSON."),
    ) -> None:
        """Export IDENTITY's face as a textured, tagged 3D avatar for games (glTF binary), under a game grant.

        Counts against the grant's quota like a render. The texture carries the watermark, the
        file's asset.extras the consent proof and the grant's visible-label wish, and a signed
        C2PA manifest lies beside it; `likeness verify OUTPUT` reads all of it.
        """
        from likeness import settings
        from likeness.render import record_dict
        from likeness.render.avatar import AvatarJob, export_avatar
        from likeness.vault import open_vault

        job = AvatarJob(identity=identity, grant_id=grant, output=output, texture=texture, expressions=expressions, overwrite=overwrite)
        vault = open_vault(settings.from_env())
        try:
            record = export_avatar(job, vault=vault)
        finally:
            vault.close()
        data = record_dict(record)
        if as_json:
            print(json.dumps(data, default=str, indent=2))
            return
        report = data["settings"]["avatar"]
        print(f"wrote {output} and {job.sidecar.name} (render {data['render_id']}, export {record.n} under grant {grant})")
        print(f"  {report['vertices']} vertices, {report['triangles']} triangles, texture {report['texture']} px, "
              f"{report['filled']:.0%} of the face filled where no crop saw it squarely")
        if expressions:
            made = ", ".join(report["morph_targets"]) or "none"
            print(f"  morph targets: {made}")
            for name, why in report["morph_missing"].items():
                print(f"  missing {name}: {why}")
        if data["settings"].get("visible_label"):
            print("  the grant asks for a visible label on screen: the file says so (asset.extras.likeness.visible_label)")
