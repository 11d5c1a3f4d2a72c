"""``kill -9`` of a real ``likeness swap`` at each stage: no file a person would take for an output.

The render is paused at a stage with the test hook of ``likeness.render.output``
(``LIKENESS_TEST_PAUSE_AT``, which writes ``LIKENESS_TEST_PAUSE_MARKER`` and then sleeps), then
killed with SIGKILL. Afterwards the output folder holds nothing but the hidden render folder; the
next render into the folder removes it, and so does ``likeness doctor``. Stages:

* ``encoded``, ``sealing``, ``sealed``: the pipeline calls ``pending.checkpoint(...)`` after
  encoding, right before sealing and right after sealing (before the vault records the render):
  an unsigned, watermarked file exists then, and a sealed one that no record vouches for;
* ``before-rename``: inside ``PendingOutput.commit``, after the vault recorded the render: doctor
  moves the recorded, sealed file to its output name;
* ``linked``: the output has its final name, the temporary link is not yet removed.

A video render is also killed mid-encode, with no hook: as soon as its encoded file grows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from likeness import tagging
from likeness.render.output import RENDER_FOLDER_PREFIX
from tests.conftest import shared
from tests.test_render_pipeline import ASTRONAUT, TALENT, studio  # noqa: F401 - shared fixture

PAUSE_TIMEOUT_S = 240.0


def _env(studio, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "LIKENESS_HOME": str(studio.home),
        "LIKENESS_PASSPHRASE": "vault passphrase",
        "LIKENESS_TALENT_PASSPHRASE": TALENT,
        "LIKENESS_DATABASE_URL": "",
        **extra,
    }
    for key in ("LIKENESS_TEST_PAUSE_AT", "LIKENESS_TEST_PAUSE_MARKER", "LIKENESS_DEBUG"):
        if key not in extra:
            env.pop(key, None)
    return env


def _likeness(studio, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "likeness.cli.main", *args], env=_env(studio, **extra), capture_output=True, text=True, timeout=600)


def _swap_args(studio, output: Path, target: Path = ASTRONAUT) -> list[str]:
    return ["swap", str(target), "-o", str(output), "--identity", "alice", "--grant", studio.grant, "--scope", "film"]


def _killed_at(studio, stage: str, output: Path, marker_dir: Path) -> dict:
    """Run ``likeness swap`` until it pauses at ``stage``; SIGKILL it there. Returns the pause note."""
    marker = marker_dir / f"pause-{stage}-{output.stem}.json"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "likeness.cli.main", *_swap_args(studio, output)],
        env=_env(studio, LIKENESS_TEST_PAUSE_AT=stage, LIKENESS_TEST_PAUSE_MARKER=str(marker)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + PAUSE_TIMEOUT_S
        while not marker.is_file():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the render ended (exit {proc.returncode}) without pausing at {stage!r}: is "
                            f"pending.checkpoint({stage!r}) called by the pipeline?\nstdout: {out}\nstderr: {err}")
            if time.monotonic() > deadline:
                pytest.fail(f"the render did not reach {stage!r} within {PAUSE_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        note = json.loads(marker.read_text())
        assert note["stage"] == stage and note["pid"] == proc.pid
        return {**note, "proc": proc}
    except BaseException:
        _kill(proc)
        raise


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # any helper it started (none for an image target)
    except ProcessLookupError:
        pass
    proc.communicate()


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(RENDER_FOLDER_PREFIX))


def _hidden(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(RENDER_FOLDER_PREFIX))


def _doctor(studio, *args: str) -> dict:
    done = _likeness(studio, "doctor", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _registered(studio) -> set[str]:
    pending = studio.home / "pending"
    return {json.loads(p.read_text())["folder"] for p in pending.glob("*.json")} if pending.is_dir() else set()


@pytest.mark.parametrize("stage", ["encoded", "sealing", "sealed", "before-rename"])
def test_kill_at_a_stage_leaves_only_the_hidden_folder_and_doctor_clears_it(studio, tmp_path, stage):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "swapped.png"
    paused = _killed_at(studio, stage, output, tmp_path)
    proc = paused.pop("proc")
    try:
        [folder] = _hidden(out_dir)
        assert Path(paused["folder"]) == folder
        assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
        if stage != "before-rename":
            assert any(folder.glob("encoded.*")), "the encoded file lives in the hidden folder"
        if stage in ("sealed", "before-rename"):
            assert any(folder.glob("sealed.*")), "the sealed file lives in the hidden folder"
        # While the render lives, its lock is held: doctor reports it and leaves it.
        report = _doctor(studio, str(out_dir))
        assert [a["action"] for a in report["actions"]] == ["active"] and folder.is_dir()
    finally:
        _kill(proc)
    assert _visible(out_dir) == [], f"a file a person could take for an output: {_visible(out_dir)}"
    assert _hidden(out_dir) == [folder]

    report = _doctor(studio, str(out_dir))
    assert _hidden(out_dir) == []
    [action] = report["actions"]
    assert action["folder"] == str(folder) and action["output"] == str(output)
    if stage == "before-rename":
        # The vault recorded it before the kill: doctor gives the sealed file its output name.
        assert action["action"] == "recovered" and _visible(out_dir) == [output.name]
        verdict = tagging.verify(output, studio.vault).as_dict()  # the signed output the vault recorded
        assert verdict["c2pa"]["state"] == "trusted" and verdict["render"] is not None
    else:  # "sealed": signed, but the vault has no record of it (the transaction died with the process)
        assert action["action"] == "removed" and _visible(out_dir) == []


def test_kill_in_the_middle_of_a_video_encode(studio, tmp_path):
    target = shared("grid_bbaf2n.mpg")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "likeness.cli.main", *_swap_args(studio, out_dir / "clip.mp4", target)],
        env=_env(studio), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + PAUSE_TIMEOUT_S
        while not any(f.stat().st_size > 0 for d in _hidden(out_dir) for f in d.glob("encoded.*")):
            assert proc.poll() is None, f"the render ended (exit {proc.returncode}) before it was caught encoding"
            assert time.monotonic() < deadline, "the render did not start encoding in time"
            time.sleep(0.01)
    finally:
        _kill(proc)
    assert _visible(out_dir) == [] and len(_hidden(out_dir)) == 1
    report = _doctor(studio, str(out_dir))
    assert [a["action"] for a in report["actions"]] == ["removed"] and list(out_dir.iterdir()) == []


def test_next_render_into_the_folder_removes_what_a_killed_one_left(studio, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    _kill(_killed_at(studio, "before-rename", out_dir / "first.png", tmp_path)["proc"])
    [stale] = _hidden(out_dir)
    assert _visible(out_dir) == []
    done = _likeness(studio, *_swap_args(studio, out_dir / "second.png"), "--json")
    assert done.returncode == 0, done.stderr
    assert _hidden(out_dir) == [] and not stale.exists()
    # The stale folder held a recorded output: removed, or moved to its name when the pipeline passes is_recorded.
    assert _visible(out_dir) in (["second.png"], ["first.png", "second.png"])


def test_kill_after_the_final_name_keeps_the_output_and_doctor_drops_the_link(studio, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "done.png"
    _kill(_killed_at(studio, "linked", output, tmp_path)["proc"])
    assert _visible(out_dir) == ["done.png"]  # whole and sealed: it had its final name
    report = _doctor(studio, str(out_dir))
    assert [a["action"] for a in report["actions"]] == ["removed"] and _hidden(out_dir) == []
    assert tagging.verify(output, studio.vault).as_dict()["c2pa"]["state"] == "trusted"


def test_a_killed_render_is_registered_and_plain_doctor_finds_it(studio, tmp_path):
    """``likeness doctor`` with no folder: the render registered its folder under LIKENESS_HOME/pending."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    paused = _killed_at(studio, "sealing", out_dir / "x.png", tmp_path)
    _kill(paused.pop("proc"))
    [folder] = _hidden(out_dir)
    assert str(folder) in _registered(studio), "the pipeline must pass registry=pending_registry(home) to PendingOutput"
    report = _doctor(studio)
    assert {(a["folder"], a["action"]) for a in report["actions"]} >= {(str(folder), "removed")}
    assert _hidden(out_dir) == [] and _visible(out_dir) == []
    assert str(folder) not in _registered(studio)


def test_a_finished_render_leaves_no_registry_entry(studio, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    done = _likeness(studio, *_swap_args(studio, out_dir / "ok.png"), "--json")
    assert done.returncode == 0, done.stderr
    assert _visible(out_dir) == ["ok.png"] and _hidden(out_dir) == []
    assert not any(Path(f).parent == out_dir for f in _registered(studio))
