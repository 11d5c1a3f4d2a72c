"""Each command imports only what it uses: `likeness --help` starts in a fraction of a second,
the face models load without mediapipe's drawing code, and a viewer's `verify` opens no database.

Every check runs in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from skimage import data

ASTRONAUT = Path(data.data_dir) / "astronaut.png"  # a face with no likeness mark


def modules_after(code: str, *watch: str, env: dict[str, str] | None = None) -> dict[str, bool]:
    """Run ``code`` in a fresh interpreter; which of the ``watch`` modules it left imported."""
    script = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {list(watch)!r}}}))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cli(*args: str) -> str:
    """Python code that runs the CLI with ``args`` and carries on whatever exit code it gives."""
    return f"from likeness.cli.main import main\ntry:\n    main({list(args)!r})\nexcept SystemExit:\n    pass"


def test_help_loads_no_media_face_or_database_library(tmp_path):
    loaded = modules_after(run_cli("--help"), "numpy", "av", "cv2", "mediapipe", "sqlalchemy", "alembic", "c2pa",
                           env={"LIKENESS_HOME": str(tmp_path)})
    assert not any(loaded.values()), loaded


def test_face_models_load_without_drawing_utilities_or_tasks():
    loaded = modules_after(
        f"from likeness.faces import FaceAnalyzer\nfrom likeness.media import read_image\n"
        f"with FaceAnalyzer() as a:\n    assert len(a.detect(read_image({str(ASTRONAUT)!r}))) == 1",
        "mediapipe.python.solutions.face_mesh", "mediapipe.python.solutions.drawing_utils", "matplotlib", "mediapipe.tasks",
    )
    assert loaded == {"mediapipe.python.solutions.face_mesh": True, "mediapipe.python.solutions.drawing_utils": False,
                      "matplotlib": False, "mediapipe.tasks": False}


def test_mediapipe_imported_afterwards_is_the_whole_package():
    # Other code in the process may use the rest of mediapipe the usual way.
    loaded = modules_after(
        "from likeness.faces.mediapipe_loader import solutions\nlean = solutions()\n"
        "import mediapipe as mp\nassert mp.solutions is lean and mp.solutions.drawing_utils.draw_landmarks\n"
        "assert mp.tasks.vision.FaceLandmarker and mp.Image and mp.__version__",
        "matplotlib", "mediapipe.tasks.python.vision",
    )
    assert all(loaded.values()), loaded


def test_loader_uses_mediapipe_when_it_was_imported_the_usual_way():
    modules_after("import mediapipe as mp\nfrom likeness.faces.mediapipe_loader import solutions\n"
                  "assert solutions() is mp.solutions and solutions().hands.Hands")


def test_verify_of_an_unmarked_image_without_a_vault_opens_no_database(tmp_path):
    loaded = modules_after(run_cli("verify", str(ASTRONAUT)), "sqlalchemy", "alembic", "mediapipe",
                           env={"LIKENESS_HOME": str(tmp_path), "LIKENESS_PASSPHRASE": ""})
    assert not any(loaded.values()), loaded


def test_checking_a_consent_proof_needs_no_database():
    # What `likeness verify` imports for a tagged output's grant, head and talent key (tagging.verify.consent_proof).
    loaded = modules_after("from likeness.consent.grants import Grant, Revocation\nfrom likeness.vault.heads import check_head\n"
                           "from likeness.vault.talent_keys import key_fingerprint, read_signed\nimport likeness.media, likeness.tagging",
                           "sqlalchemy", "alembic", "av", "likeness.vault.store")
    assert not any(loaded.values()), loaded
