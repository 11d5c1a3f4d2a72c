"""Only the render pipeline (and the media/tagging internals it calls) may write media files.

That is what makes "every output is consented, watermarked and signed" structural: a module
that writes an image or video on its own could skip the consent check or the watermark.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "likeness"

# Packages whose job is writing media: the pipeline, the encoders, and tagging's own signer.
ALLOWED_PACKAGES = ("media", "render", "tagging")
# Writers whatever they are called on (names specific enough not to mean anything else).
ALWAYS = {"VideoWriter", "SequenceWriter", "write_image", "write_sequence", "imwrite", "save", "sign_file"}
# Writers only when they come from likeness.tagging (x509 builders have a .sign(), crypto a seal()).
FROM_TAGGING = {"seal", "sign", "mark_frame", "embed", "add_xmp_label"}
# (path under src/likeness, call name): writes that never carry a swapped face, and why.
ALLOWED_CALLS: dict[tuple[str, str], str] = {
    ("cli/faces.py", "write_image"): "`likeness faces --render`: boxes drawn on the unmodified input, no swapped face",
    ("cli/faces.py", "VideoWriter"): "`likeness faces --render` on a video: the same overlay, frame by frame",
    ("train/trainer.py", "save"): "torch.save into an in-memory BytesIO checkpoint that goes to the vault sealed",
}


def _writes(tree: ast.AST) -> list[tuple[int, str]]:
    tagging_names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("likeness.tagging")
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if name in ALWAYS or (name in FROM_TAGGING and name in tagging_names):
                found.append((node.lineno, name))
        elif isinstance(func, ast.Attribute):
            name, base = func.attr, ast.unparse(func.value)
            if name in ALWAYS or (name in FROM_TAGGING and "tagging" in base):
                found.append((node.lineno, name))
            elif name == "open" and base == "av" and any(
                isinstance(a, ast.Constant) and str(a.value).startswith("w") for a in [*node.args[1:], *(k.value for k in node.keywords)]
            ):
                found.append((node.lineno, "av.open(w)"))
    return found


def media_writes_outside_pipeline(src: Path = SRC) -> list[str]:
    offenders = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if rel.parts[0] in ALLOWED_PACKAGES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, name in _writes(tree):
            if (rel.as_posix(), name) not in ALLOWED_CALLS:
                offenders.append(f"{rel}:{line} calls {name}()")
    return offenders


def test_no_module_but_the_pipeline_writes_media():
    offenders = media_writes_outside_pipeline()
    assert not offenders, "media written outside likeness.render:\n" + "\n".join(offenders)


def test_the_check_catches_stray_writers(tmp_path):
    # The scan must not be vacuous: a copy of the tree with stray writers in it is reported.
    (tmp_path / "vault").mkdir()
    (tmp_path / "render").mkdir()
    (tmp_path / "vault" / "leak.py").write_text(
        "import av, cv2\nfrom likeness.tagging import sign\n"
        "def leak(img, im):\n    cv2.imwrite('x.png', img)\n    im.save('y.jpg')\n"
        "    sign('a', 'b')\n    av.open('z.mp4', 'w')\n"
    )
    (tmp_path / "vault" / "certs.py").write_text(
        "from likeness.vault.crypto import seal\ndef cert(builder, key):\n    seal(key, b'')\n    return builder.sign(key, None)\n"
    )
    (tmp_path / "render" / "pipeline.py").write_text("from likeness.media import write_image\nwrite_image('o.png', None)\n")
    assert media_writes_outside_pipeline(tmp_path) == [
        "vault/leak.py:4 calls imwrite()",
        "vault/leak.py:5 calls save()",
        "vault/leak.py:6 calls sign()",
        "vault/leak.py:7 calls av.open(w)()",
    ]
