"""The README's studio story, run as written: `likeness serve` on loopback plus curl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_curl_story_runs(tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    block = re.search(r"```sh studio-story\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    Image.fromarray(data.astronaut()).save(tmp_path / "photo.png")
    Image.fromarray(data.astronaut()).save(tmp_path / "target.png")
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(tmp_path)}
    script = "set -euo pipefail\ntrap 'kill $SERVER 2>/dev/null || true' EXIT\n" + block
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1].endswith("403") and "intact" in lines
    assert '"state": "succeeded"' in done.stdout or '"state":"succeeded"' in done.stdout
    assert (tmp_path / "swapped.png").stat().st_size > 0
