"""``verify``: is this file a likeness output, which render, and does its paperwork still hold?

Three independent witnesses: the watermark (survives re-encoding and stripping), the C2PA
manifest (signed, breaks on any change) and the XMP label (informative only). The verdict:
- ``tampered``: a manifest is present but fails validation, or it names a render id that the
  pixels' watermark contradicts (the SDK does not check soft bindings against pixels);
- ``synthetic``: a watermark or a valid manifest says this is a likeness output;
- ``no-mark-found``: neither (which is not proof that the file is authentic).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from likeness.errors import InputError, LikenessError
from likeness.tagging.content_credentials import Manifest, read_manifest
from likeness.tagging.watermark import PUBLIC_KEY, Detection, Watermarker
from likeness.tagging.xmp import read_xmp_label

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".m4v"}
MAX_VIDEO_FRAMES = 24  # sampled evenly; pooled detection needs few frames


@dataclass(frozen=True)
class Verdict:
    """Everything ``likeness verify`` reports; :meth:`as_dict` is its JSON."""

    path: str
    verdict: str
    watermark: Detection
    c2pa: Manifest
    xmp: str | None
    render: dict[str, Any] | None = None
    reasons: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        wm = self.watermark
        return {
            "path": self.path,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "watermark": {
                "found": wm.found,
                "render_id": wm.payload,
                "render_id_hex": f"{wm.payload:016x}" if wm.payload is not None else None,
                "confidence": round(wm.confidence, 3),
            },
            "c2pa": {**asdict(self.c2pa), "actions": list(self.c2pa.actions), "failures": list(self.c2pa.failures)},
            "xmp": {"digital_source_type": self.xmp},
            "render": self.render,
        }


def verify(path: str | Path, vault: Any = None, *, trust_root: bytes | None = None, marker: Watermarker | None = None) -> Verdict:
    """Check ``path``; ``vault`` (optional) supplies the trust root and the render record."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if trust_root is None and vault is not None:
        try:
            trust_root = vault.c2pa_root()
        except LikenessError:
            trust_root = None
    marker = marker or Watermarker(PUBLIC_KEY)
    manifest = read_manifest(path, trust_root)
    unreadable = None
    try:
        detection = _detect_file(path, marker)
    except InputError as exc:
        if manifest.state == "absent":
            raise
        detection, unreadable = Detection(False, None, 0.0), str(exc)
    xmp = read_xmp_label(path)

    reasons: list[str] = [f"pixels unreadable: {unreadable}"] if unreadable else []
    if manifest.state == "invalid":
        reasons.append("the C2PA manifest does not validate: " + ("; ".join(manifest.failures) or "invalid"))
    if manifest.render_id is not None and detection.found and detection.payload != manifest.render_id:
        reasons.append(f"watermark render id {detection.payload:016x} contradicts the manifest's {manifest.render_id:016x}")
    if manifest.state in ("valid", "trusted") and manifest.render_id is not None and not detection.found:
        reasons.append("manifest names a render but no watermark was found in the pixels")
    if manifest.state == "invalid" or any("contradicts" in r for r in reasons):
        verdict = "tampered"
    elif detection.found or manifest.state in ("valid", "trusted"):
        verdict = "synthetic"
    else:
        verdict = "no-mark-found"

    render = None
    render_id = detection.payload if detection.found else manifest.render_id
    if vault is not None and render_id is not None:
        render = _render_record(vault, render_id)
    return Verdict(str(path), verdict, detection, manifest, xmp, render, tuple(reasons))


def _detect_file(path: Path, marker: Watermarker) -> Detection:
    from likeness import media

    if path.suffix.lower() in VIDEO_SUFFIXES or media.is_video(path):
        info = media.probe(path)
        total = max(1, int(info.frame_count or 1))
        step = max(1, total // MAX_VIDEO_FRAMES)
        frames = []
        for frame in media.read_frames(path):
            if frame.index % step == 0:
                frames.append(frame.image)
            if len(frames) >= MAX_VIDEO_FRAMES:
                break
        if not frames:
            raise InputError(f"{path}: no frames could be decoded")
        # Pool in groups so a scene cut or a fade cannot drown the rest; any group may find it.
        pooled = marker.detect_frames(frames)
        if pooled.found:
            return pooled
        best = pooled
        for start in range(0, len(frames), 4):
            d = marker.detect_frames(frames[start : start + 4])
            if d.found:
                return d
        return best
    return marker.detect(media.read_image(path))


def _render_record(vault: Any, render_id: int) -> dict[str, Any] | None:
    try:
        record = vault.render(render_id)
    except LikenessError:
        return None
    if record is None:
        return None
    data = asdict(record) if hasattr(record, "__dataclass_fields__") else dict(vars(record))
    return {k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)) for k, v in data.items()}
