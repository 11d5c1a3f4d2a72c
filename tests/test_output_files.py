"""Outputs never clobber a file unless asked; render folders are private and swept; LIKENESS_HOME is 0600/0700."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from likeness.errors import InputError
from likeness.render.output import (
    LOCK_NAME,
    NO_LOCK_GRACE_S,
    NOTE_NAME,
    RENDER_FOLDER_PREFIX,
    OutputPlan,
    PendingOutput,
    check_output_path,
    doctor,
    pending_registry,
    plan_output,
    sha256_file,
    sweep_stale,
)
from tests.test_render_pipeline import ASTRONAUT, studio  # noqa: F401 - shared fixture


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "target.png"
    path.write_bytes(b"not read by these checks")
    return path


def _hidden(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(RENDER_FOLDER_PREFIX))


def _started(pending: PendingOutput, *, sealed: bytes | None = None) -> PendingOutput:
    """Enter ``pending`` and write its files (its lock held, as while the render runs)."""
    pending.__enter__()
    pending.encoded.write_bytes(b"unsigned")
    if sealed is not None:
        pending.sealed.write_bytes(sealed)
    return pending


def _die(*pendings: PendingOutput) -> list[Path]:
    """Leave the folders as a killed process would: files in place, locks released, nothing cleaned."""
    for pending in pendings:
        os.close(pending._lock_fd)  # the kernel drops a dead process's flock the same way
        pending._lock_fd = None
    return [p.folder for p in pendings]


def _dead_render(pending: PendingOutput, *, sealed: bytes | None = None) -> Path:
    return _die(_started(pending, sealed=sealed))[0]


# -- no silent overwrite ----------------------------------------------------------------------


def test_an_existing_output_is_refused_up_front_unless_overwrite(tmp_path, target):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    with pytest.raises(InputError) as refused:
        check_output_path(out, target)
    assert str(refused.value) == f"{out}: exists; pass --overwrite to replace it"
    with pytest.raises(InputError, match="exists; pass --overwrite"):
        plan_output(out, target, "image")
    check_output_path(out, target, overwrite=True)
    plan = plan_output(out, target, "image", overwrite=True)
    assert plan == OutputPlan(out, ".png", True)
    assert plan_output(tmp_path / "new.mp4", target, "video") == OutputPlan(tmp_path / "new.mp4", ".mp4", False)
    link = tmp_path / "dangling.png"
    link.symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(InputError, match="exists"):
        check_output_path(link, target)  # a symlink is a name taken too
    with pytest.raises(InputError, match="would overwrite the target"):
        check_output_path(target, target, overwrite=True)
    assert out.read_bytes() == b"precious"


def test_commit_never_clobbers_a_file_that_appeared_meanwhile(tmp_path):
    out = tmp_path / "out.png"
    with pytest.raises(InputError) as refused:
        with PendingOutput(OutputPlan(out, ".png")) as pending:
            pending.sealed.write_bytes(b"sealed")
            out.write_bytes(b"someone else's")  # after the up-front check
            pending.commit()
    assert str(refused.value) == f"{out}: exists; pass --overwrite to replace it"
    assert out.read_bytes() == b"someone else's" and _hidden(tmp_path) == []


@pytest.mark.parametrize("how", ["plan", "commit"])
def test_overwrite_replaces_atomically(tmp_path, how):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    with PendingOutput(OutputPlan(out, ".png", overwrite=how == "plan")) as pending:
        pending.sealed.write_bytes(b"new")
        assert pending.commit(**({"overwrite": True} if how == "commit" else {})) == out
    assert out.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["out.png"]


# -- the hidden render folder -----------------------------------------------------------------


def test_one_private_locked_folder_holds_every_temporary(tmp_path):
    out = tmp_path / "out.mp4"
    registry = tmp_path / "home" / "pending"
    with PendingOutput(OutputPlan(out, ".mp4"), registry=registry) as pending:
        folder = pending.folder
        assert folder.parent == tmp_path and folder.name.startswith(RENDER_FOLDER_PREFIX)
        assert pending.encoded.parent == folder and pending.sealed.parent == folder
        assert pending.encoded.suffix == pending.sealed.suffix == ".mp4"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        note = json.loads((folder / NOTE_NAME).read_text())
        assert note["output"] == str(out) and note["pid"] == os.getpid()
        with open(folder / LOCK_NAME) as other:  # another open file description: the flock is exclusive
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        [entry] = registry.glob("*.json")
        assert json.loads(entry.read_text())["folder"] == str(folder)
        assert stat.S_IMODE(registry.stat().st_mode) == 0o700 and stat.S_IMODE(entry.stat().st_mode) == 0o600
        pending.checkpoint("encoded")  # the test hook does nothing unless LIKENESS_TEST_PAUSE_AT names the stage
        pending.sealed.write_bytes(b"sealed")
        pending.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out.mp4"]
    assert list(registry.glob("*.json")) == []


def test_a_failure_removes_the_folder_and_its_registry_entry(tmp_path):
    registry = tmp_path / "pending"
    with pytest.raises(RuntimeError):
        with PendingOutput(OutputPlan(tmp_path / "o.png", ".png"), registry=registry) as pending:
            pending.encoded.write_bytes(b"unsigned")
            raise RuntimeError("encoder died")
    assert [p.name for p in tmp_path.iterdir()] == ["pending"] and list(registry.iterdir()) == []


def test_the_next_render_sweeps_stale_folders_but_never_a_live_one(tmp_path):
    registry = tmp_path / "pending"
    stale = _dead_render(PendingOutput(OutputPlan(tmp_path / "a.png", ".png"), registry=registry))
    with PendingOutput(OutputPlan(tmp_path / "b.png", ".png"), registry=registry) as live:
        assert not stale.exists() and _hidden(tmp_path) == [live.folder]
        assert sweep_stale(tmp_path) == [] and live.folder.is_dir()  # its lock is held
        with PendingOutput(OutputPlan(tmp_path / "c.png", ".png")) as other:
            assert live.folder.is_dir() and other.folder.is_dir()
    assert _hidden(tmp_path) == [] and list(registry.iterdir()) == []


def test_a_folder_without_its_lock_is_left_alone_while_young(tmp_path):
    young = tmp_path / f"{RENDER_FOLDER_PREFIX}young"
    young.mkdir()
    assert sweep_stale(tmp_path) == [] and young.is_dir()  # between mkdir and the lock of a starting render
    old = os.path.getmtime(young) - NO_LOCK_GRACE_S - 5
    os.utime(young, (old, old))
    assert sweep_stale(tmp_path) == [young] and not young.exists()


def test_doctor_removes_stale_folders_reports_live_ones_and_recovers_recorded_outputs(tmp_path):
    home = tmp_path / "home"
    registry = pending_registry(home)
    out_dir = tmp_path / "renders"
    out_dir.mkdir()
    (out_dir / "taken.png").write_bytes(b"mine")
    unsigned, recorded, unknown, taken, unregistered, gone = _die(
        _started(PendingOutput(OutputPlan(out_dir / "unsigned.png", ".png"), registry=registry)),
        _started(PendingOutput(OutputPlan(out_dir / "recorded.png", ".png"), registry=registry), sealed=b"recorded"),
        _started(PendingOutput(OutputPlan(out_dir / "unknown.png", ".png"), registry=registry), sealed=b"not recorded"),
        _started(PendingOutput(OutputPlan(out_dir / "taken.png", ".png"), registry=registry), sealed=b"recorded"),
        _started(PendingOutput(OutputPlan(out_dir / "u.png", ".png"))),  # not registered: found as a sibling
        _started(PendingOutput(OutputPlan(tmp_path / "g.png", ".png"), registry=registry)),
    )
    for path in gone.iterdir():
        path.unlink()
    gone.rmdir()
    recorded_hash = sha256_file(recorded / "sealed.png")
    (tmp_path / "live").mkdir()
    live = _started(PendingOutput(OutputPlan(tmp_path / "live" / "l.png", ".png"), registry=registry))
    try:
        report = doctor(home, is_recorded=lambda sha: sha == recorded_hash)
        actions = {a.folder: a for a in report.actions}
        assert actions[live.folder].action == "active" and live.folder.is_dir()
    finally:
        live.__exit__(None, None, None)
    assert actions[unsigned].action == "removed" and actions[unknown].action == "removed"
    assert actions[recorded].action == "recovered" and (out_dir / "recorded.png").read_bytes() == b"recorded"
    assert actions[taken].action == "kept" and "exists" in actions[taken].detail and (out_dir / "taken.png").read_bytes() == b"mine"
    assert actions[unregistered].action == "removed"
    assert report.forgotten == 1 and report.to_dict()["recovered"] == 1
    assert _hidden(out_dir) == [taken]
    assert sorted(p.name for p in out_dir.iterdir() if not p.name.startswith(".")) == ["recorded.png", "taken.png"]
    left = [json.loads(p.read_text())["folder"] for p in registry.glob("*.json")]
    assert left == [str(taken)]


def test_a_recorded_output_comes_back_with_its_companion_and_never_without_it(tmp_path):
    # An avatar's C2PA sidecar is a companion of its GLB: commit places it first, and doctor,
    # recovering a recorded GLB whose render died before the renames, places it too (before, the
    # GLB came back alone and verified as merely "confirmed").
    home = tmp_path / "home"
    out_dir = tmp_path / "renders"
    out_dir.mkdir()
    pending = _started(PendingOutput(OutputPlan(out_dir / "face.glb", ".glb"), registry=pending_registry(home)), sealed=b"glb")
    pending.companion(".c2pa").write_bytes(b"manifest")
    [folder] = _die(pending)
    report = doctor(home, is_recorded=lambda sha: True)
    assert [a.action for a in report.actions] == ["recovered"]
    assert (out_dir / "face.glb").read_bytes() == b"glb" and (out_dir / "face.c2pa").read_bytes() == b"manifest"
    assert not folder.exists()

    # A companion that cannot be placed (its name is taken) keeps the output back as well.
    (out_dir / "other.c2pa").write_bytes(b"someone else's")
    pending = _started(PendingOutput(OutputPlan(out_dir / "other.glb", ".glb")), sealed=b"glb")
    pending.companion(".c2pa").write_bytes(b"manifest")
    with pytest.raises(InputError):
        pending.commit()
    pending.__exit__(None, None, None)
    assert not (out_dir / "other.glb").exists() and (out_dir / "other.c2pa").read_bytes() == b"someone else's"


def test_doctor_never_acts_on_a_path_that_is_not_a_render_folder(tmp_path):
    home = tmp_path / "home"
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    old = os.path.getmtime(precious) - NO_LOCK_GRACE_S - 5
    os.utime(precious, (old, old))
    registry = pending_registry(home)
    registry.mkdir(parents=True)
    (registry / "bad.json").write_text(json.dumps({"folder": str(precious)}))
    report = doctor(home, folders=[tmp_path])
    assert report.actions == [] and report.forgotten == 1 and (precious / "keep.txt").read_text() == "mine"
    assert list(registry.iterdir()) == []


def test_doctor_on_an_empty_home_does_nothing(tmp_path):
    report = doctor(tmp_path / "nowhere")
    assert report.actions == [] and report.forgotten == 0 and not (tmp_path / "nowhere").exists()


# -- the CLI ----------------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "likeness.cli.main", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=600)


def test_doctor_command_needs_no_passphrase(tmp_path):
    out_dir = tmp_path / "renders"
    out_dir.mkdir()
    home = tmp_path / "home"
    stale = _dead_render(PendingOutput(OutputPlan(out_dir / "x.png", ".png"), registry=pending_registry(home)))
    env = {"LIKENESS_HOME": str(home), "LIKENESS_PASSPHRASE": "", "LIKENESS_DATABASE_URL": ""}
    done = _cli(env, "doctor")
    assert done.returncode == 0, done.stderr
    assert f"removed {stale}" in done.stdout and "1 removed" in done.stdout and not stale.exists()
    done = _cli(env, "doctor", "--json", str(out_dir))
    assert done.returncode == 0 and json.loads(done.stdout)["actions"] == []


def _swap_env(studio) -> dict[str, str]:
    return {"LIKENESS_HOME": str(studio.home), "LIKENESS_PASSPHRASE": "vault passphrase", "LIKENESS_DATABASE_URL": ""}


def _swap(studio, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return _cli(_swap_env(studio), "swap", str(ASTRONAUT), "-o", str(out), "--identity", "alice", "--grant", studio.grant, "--scope", "film", *extra)


def test_swap_refuses_an_existing_output(studio, tmp_path):
    out = tmp_path / "mine.png"
    out.write_bytes(b"precious")
    done = _swap(studio, out)
    assert done.returncode == 2 and done.stderr.strip() == f"likeness: error: {out}: exists; pass --overwrite to replace it"
    assert out.read_bytes() == b"precious" and [p.name for p in tmp_path.iterdir()] == ["mine.png"]


def test_swap_with_overwrite_replaces_the_output(studio, tmp_path):
    out = tmp_path / "mine.png"
    out.write_bytes(b"old")
    done = _swap(studio, out, "--overwrite")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() != b"old" and [p.name for p in tmp_path.iterdir()] == ["mine.png"]


# -- LIKENESS_HOME is private -----------------------------------------------------------------


def loose_modes(home: Path) -> list[str]:
    """Every file under ``home`` not 0600 and every folder not 0700 (the home itself included)."""
    wrong = []
    for path in [home, *sorted(home.rglob("*"))]:
        if path.is_symlink():
            wrong.append(f"{path}: symlink")
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong.append(f"{path.relative_to(home.parent)}: {mode:04o}, want {want:04o}")
    return wrong


def test_likeness_home_holds_only_private_files_after_init_and_an_enrolment(tmp_path):
    from skimage import data

    portrait = Path(data.data_dir) / "astronaut.png"
    home = tmp_path / "home"
    env = {"LIKENESS_HOME": str(home), "LIKENESS_PASSPHRASE": "vault pass", "LIKENESS_TALENT_PASSPHRASE": "talent pass",
           "LIKENESS_DATABASE_URL": "", "LIKENESS_SCRYPT_N": "1024"}
    old = os.umask(0o022)  # the usual umask: the modes must not depend on it
    try:
        done = _cli(env, "init")
        assert done.returncode == 0, done.stderr
        done = _cli(env, "identity", "enroll", "eileen", str(portrait))
        assert done.returncode == 0, done.stderr
        assert any(home.rglob("*.blob")) and (home / "vault.db").is_file()
        assert loose_modes(home) == []
        from likeness.settings import from_env
        from likeness.vault import open_vault

        with open_vault(from_env(env)) as vault:  # an open vault: SQLite's -wal and -shm files exist
            vault.identities()
            assert (home / "vault.db-wal").exists()
            assert loose_modes(home) == []
    finally:
        os.umask(old)
