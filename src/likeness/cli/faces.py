"""``likeness faces FILE [--json] [--render OUT]``: faces per image or frame, and an overlay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from likeness.errors import InputError

if TYPE_CHECKING:
    from likeness.faces import FaceAnalyzer

# likeness.faces (mediapipe, scipy), likeness.media (PyAV, numpy) and rich are imported inside the
# commands: every command builds this module, so `likeness --help` and the vault commands would
# pay for them.


def register(app: typer.Typer) -> None:
    """Add ``faces`` to the top-level app."""

    @app.command("faces")
    def faces_command(
        file: Path = typer.Argument(..., help="Image or video to analyse."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every frame's faces."),
        render: Optional[Path] = typer.Option(None, "--render", help="Write an overlay image or video here."),
        max_faces: int = typer.Option(16, help="At most this many faces per frame (largest kept)."),
        min_face: int = typer.Option(40, help="Smallest face width in pixels to search for."),
    ) -> None:
        """Detect faces (boxes, 478 landmarks, pose, quality) and track them through video."""
        from likeness import media
        from likeness.faces import FaceAnalyzer

        info = media.probe(file)
        with FaceAnalyzer(max_faces=max_faces, min_face=min_face) as analyzer:
            if info.kind == "video":
                frames = analyse_video_file(file, info, analyzer, render)
            else:
                frames = analyse_image_file(file, analyzer, render)
        if as_json:
            print(json.dumps({"frames": frames}))
        else:
            print_summary(file, frames, video=info.kind == "video", render=render)


def analyse_image_file(file: Path, analyzer: FaceAnalyzer, render: Path | None) -> list[dict]:
    from likeness import media
    from likeness.faces.drawing import draw_faces
    from likeness.faces.report import frame_record

    image = media.read_image(file)
    faces = analyzer.detect(image)
    if render is not None:
        media.write_image(render, draw_faces(image, faces))
    return [frame_record(0, 0.0, faces, video=False)]


def analyse_video_file(file: Path, info, analyzer: FaceAnalyzer, render: Path | None) -> list[dict]:  # noqa: ANN001
    from likeness import media
    from likeness.faces import analyze_video
    from likeness.faces.drawing import draw_faces
    from likeness.faces.report import frame_record

    records = []
    with media.read_frames(file) as reader:
        frames = media.track_progress(reader, info.frame_count or None, "analysing faces")
        writer = None
        try:
            if render is not None:
                writer = media.VideoWriter(render, width=info.width, height=info.height, fps=info.fps, audio_from=file if info.has_audio else None)
            for frame, faces in analyze_video(frames, analyzer):
                records.append(frame_record(frame.index, frame.time, faces, video=True))
                if writer is not None:
                    writer.write(draw_faces(frame.image, faces), time=frame.time)
        finally:
            if writer is not None:
                writer.close()
    if not records:
        raise InputError(f"{file}: no video frame could be decoded (truncated or damaged file?)")
    return records


def print_summary(file: Path, frames: list[dict], *, video: bool, render: Path | None) -> None:
    from rich.console import Console

    console = Console()
    counts = [len(f["faces"]) for f in frames]
    if not video:
        console.print(f"{file}: {counts[0]} face(s)")
        for face in frames[0]["faces"]:
            pose, quality = face["pose"], face["quality"]
            console.print(
                f"  box {face['box']}  yaw {pose['yaw']:+.1f} pitch {pose['pitch']:+.1f} roll {pose['roll']:+.1f}"
                f"  quality {quality['overall']:.2f}"
            )
    else:
        tracks = sorted({face["track"] for f in frames for face in f["faces"]})
        console.print(
            f"{file}: {len(frames)} frames, {sum(1 for c in counts if c)} with faces,"
            f" {min(counts, default=0)}-{max(counts, default=0)} faces per frame, {len(tracks)} track(s): {tracks}"
        )
    if render is not None:
        console.print(f"overlay written to {render}")
