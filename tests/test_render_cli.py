"""``likeness swap`` from the shell: a thin face over the render pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.test_render_pipeline import ASTRONAUT, studio  # noqa: F401 - shared fixture


def _swap(studio, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIKENESS_HOME": str(studio.home), "LIKENESS_PASSPHRASE": "vault passphrase", "LIKENESS_DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "likeness.cli.main", "swap", *args], env=env, capture_output=True, text=True)


def test_swap_command_prints_the_render_record_as_json(studio, tmp_path):
    out = tmp_path / "cli.jpg"
    done = _swap(studio, str(ASTRONAUT), "-o", str(out), "--identity", "alice", "--grant", studio.grant, "--scope", "film", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert len(record["render_id"]) == 16 and record["grant_id"] == studio.grant and record["n"] >= 1
    assert record["settings"]["frames"] == 1
    assert out.is_file() and studio.vault.render(int(record["render_id"], 16)) is not None


def test_swap_command_with_another_scope_exits_3_and_writes_nothing(studio, tmp_path):
    out = tmp_path / "refused.png"
    done = _swap(studio, str(ASTRONAUT), "-o", str(out), "--identity", "alice", "--grant", studio.grant, "--scope", "advertising")
    assert done.returncode == 3
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "refused" in done.stderr and "advertising" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_swap_command_names_a_bad_face_choice(studio, tmp_path):
    done = _swap(studio, str(ASTRONAUT), "-o", str(tmp_path / "x.png"), "--identity", "alice", "--grant", studio.grant, "--face", "left")
    assert done.returncode == 2 and "--face 'left'" in done.stderr and "Traceback" not in done.stderr
