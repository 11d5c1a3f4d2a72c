"""Where the output goes: checked up front, written in a hidden folder, renamed when whole.

A reader of the output folder sees either nothing or the finished, sealed file, even after
``kill -9`` at any moment:

* every temporary of one render (the encoded file, the signer's staging copy, the sealed file)
  lives in one hidden folder ``<output dir>/.likeness-render-<token>/`` beside the output (same
  filesystem, so the final rename is atomic); nothing else is ever written in the output folder
  before the final name appears;
* the folder holds a ``lock`` file, locked (``flock``) for the render's whole life, and a small
  note (``render.json``: output, pid, host, time). A render folder is *stale* when its lock can
  be taken: the process that made it is gone;
* the next render into the same output folder removes stale render folders there (only the
  ``.likeness-render-*`` entries of that one folder are looked at), and ``likeness doctor``
  removes them wherever a render was registered: each render writes
  ``LIKENESS_HOME/pending/<token>.json`` naming its folder when it starts and removes it when
  done (see :func:`doctor`);
* an existing output is never replaced unless asked (``overwrite``): the sealed file is given
  its final name with ``link`` + ``unlink`` (or ``renameat2(RENAME_NOREPLACE)``), which fails
  instead of clobbering a file that appeared meanwhile.

A render killed after the vault recorded it but before the rename leaves a recorded, sealed
file in its stale folder; given ``is_recorded``, the sweep moves it to its output name (when
that name is free) instead of deleting it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from likeness.errors import InputError, LikenessError
from likeness.media.digest import sha256_file
from likeness.render.job import IMAGE_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger("likeness.render")

RENDER_FOLDER_PREFIX = ".likeness-render-"
LOCK_NAME = "lock"
NOTE_NAME = "render.json"
ENCODED_STEM = "encoded"
SEALED_STEM = "sealed"
COMPANION_STEM = "companion"  # a file the output needs beside it (an avatar's C2PA sidecar), placed as OUTPUT.<its suffix>
REGISTRY_FOLDER = "pending"  # under LIKENESS_HOME
NO_LOCK_GRACE_S = 60.0  # a render folder without its lock file yet is being created; stale only after this

# Test hook (see _checkpoint): pause the process at a named stage so a test can kill it there.
PAUSE_ENV = "LIKENESS_TEST_PAUSE_AT"
PAUSE_MARKER_ENV = "LIKENESS_TEST_PAUSE_MARKER"

IsRecorded = Callable[[str], bool]


@dataclass(frozen=True)
class OutputPlan:
    """The final path, the format (as a suffix) the file is written in, and whether an existing file may be replaced."""

    path: Path
    suffix: str
    overwrite: bool = False


def _exists_error(output: Path) -> InputError:
    return InputError(f"{output}: exists; pass --overwrite to replace it")


def check_output_path(output: Path, target: Path, *, overwrite: bool = False) -> None:
    """The checks that need no file read: run before consent, so a typo does not use up a render.

    An existing output is refused unless ``overwrite``.
    """
    output = Path(output)
    if not Path(target).is_file():
        raise InputError(f"{target}: no such file")
    if output.resolve() == Path(target).resolve():
        raise InputError(f"{output}: the output would overwrite the target; choose another name")
    if output.is_dir():
        raise InputError(f"{output}: is a folder; give a file name for the output")
    if not output.parent.is_dir():
        raise InputError(f"{output}: folder {output.parent} does not exist")
    suffix = output.suffix.lower()
    if suffix and suffix not in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        raise InputError(f"{output}: unsupported output format {suffix}; use {', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}")
    if not overwrite and os.path.lexists(output):
        raise _exists_error(output)


def plan_output(output: Path, target: Path, kind: str, *, overwrite: bool = False) -> OutputPlan:
    """Check the output path against the target's kind; images keep the target's format unless told.

    Raises :class:`InputError` before anything is written.
    """
    output = Path(output)
    check_output_path(output, target, overwrite=overwrite)
    suffix = output.suffix.lower()
    if kind == "image":
        if suffix in IMAGE_SUFFIXES:
            return OutputPlan(output, suffix, overwrite)
        if suffix in VIDEO_SUFFIXES:
            raise InputError(f"{output}: the target {target} is an image; give an image output ({', '.join(IMAGE_SUFFIXES)})")
        if suffix:
            raise InputError(f"{output}: unsupported image format {suffix}; use {', '.join(IMAGE_SUFFIXES)}")
        target_suffix = Path(target).suffix.lower()
        return OutputPlan(output, target_suffix if target_suffix in IMAGE_SUFFIXES else ".png", overwrite)
    if suffix in VIDEO_SUFFIXES:
        return OutputPlan(output, suffix, overwrite)
    if suffix in IMAGE_SUFFIXES:
        raise InputError(f"{output}: the target {target} is a video; give a video output ({', '.join(VIDEO_SUFFIXES)})")
    if suffix:
        raise InputError(f"{output}: unsupported video container {suffix}; use {', '.join(VIDEO_SUFFIXES)}")
    return OutputPlan(output, ".mp4", overwrite)


def pending_registry(home: Path) -> Path:
    """The folder under ``LIKENESS_HOME`` where running renders register their hidden folder."""
    return Path(home) / REGISTRY_FOLDER


class PendingOutput:
    """One render's hidden folder: the encoded and the sealed file; removed unless :meth:`commit` ran.

    Use as a context manager around encoding, sealing and recording. Inside it, ``folder`` is
    the hidden render folder (give it to the signer as its staging folder), ``encoded`` and
    ``sealed`` are the two files in it. ``registry`` (usually :func:`pending_registry` of the
    vault's home) lets ``likeness doctor`` find the folder if the process dies; ``is_recorded``
    lets the sweep of stale folders recover a sealed file the vault recorded.
    """

    def __init__(self, plan: OutputPlan, *, registry: Path | None = None, is_recorded: IsRecorded | None = None) -> None:
        self.plan = plan
        self.registry = Path(registry) if registry is not None else None
        self.is_recorded = is_recorded
        self._lock_fd: int | None = None
        self._entry: Path | None = None
        self._committed = False
        self._use_token(secrets.token_hex(8))

    def _use_token(self, token: str) -> None:
        self.token = token
        self.folder = self.plan.path.parent / f"{RENDER_FOLDER_PREFIX}{token}"
        self.encoded = self.folder / f"{ENCODED_STEM}{self.plan.suffix}"
        self.sealed = self.folder / f"{SEALED_STEM}{self.plan.suffix}"

    def __enter__(self) -> PendingOutput:
        parent = self.plan.path.parent
        try:
            sweep_stale(parent, is_recorded=self.is_recorded, registry=self.registry)
        except OSError as exc:  # best effort: a folder we cannot list is reported when we write in it
            log.debug("sweeping %s: %s", parent, exc)
        for _attempt in range(8):
            if _attempt:
                self._use_token(secrets.token_hex(8))
            self._entry = _register(self.registry, self.token, self.folder, self.plan.path)
            try:
                os.mkdir(self.folder, 0o700)
            except FileExistsError:
                self._unregister()
                continue
            except OSError as exc:
                self._unregister()
                raise InputError(f"{self.plan.path}: cannot write in {parent}: {exc.strerror}") from None
            lock_path = self.folder / LOCK_NAME
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:  # a sweeper took the folder for a dead one: start again
                self._unregister()
                continue
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, lock_path):
                self._lock_fd = fd
                break
            os.close(fd)  # swept between mkdir and the lock: start again under another name
            self._unregister()
        else:
            raise LikenessError(f"{self.plan.path}: cannot create a private render folder in {parent}")
        note = {"output": str(_absolute(self.plan.path)), "pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
        try:
            _write_json(self.folder / NOTE_NAME, note)
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, OSError):
                raise InputError(f"{self.plan.path}: cannot write in {parent}: {exc.strerror}") from None
            raise
        _checkpoint("started", self.folder)
        return self

    def companion(self, suffix: str) -> Path:
        """Where to write a file the output needs beside it (e.g. ``.c2pa``): :meth:`commit` (or
        ``doctor``, recovering the output) places it as the output's name with ``suffix``, first."""
        return self.folder / f"{COMPANION_STEM}{suffix}"

    def checkpoint(self, stage: str) -> None:
        """Mark a stage of the render (``encoded``, ``sealing``, ...): the crash tests' pause point; a no-op otherwise."""
        _checkpoint(stage, self.folder)

    def commit(self, overwrite: bool | None = None) -> Path:
        """Give the sealed file its final name (atomically).

        Never replaces an existing file unless ``overwrite`` (default: the plan's): then
        :class:`InputError` names the output.
        """
        overwrite = self.plan.overwrite if overwrite is None else overwrite
        _fsync(self.sealed)
        _checkpoint("before-rename", self.folder)
        place_with_companions(self.folder, self.sealed, self.plan.path, overwrite=overwrite)
        self._committed = True
        _fsync(self.plan.path.parent)
        _checkpoint("committed", self.folder)
        return self.plan.path

    @contextmanager
    def named_in_errors(self) -> Iterator[None]:
        """Errors from the encoder or signer name the user's output, not our hidden temporary."""
        try:
            yield
        except LikenessError as exc:
            message = str(exc)
            for temp in (self.encoded, self.sealed):
                message = message.replace(str(temp), str(self.plan.path)).replace(temp.name, self.plan.path.name)
            if message == str(exc):
                raise
            raise type(exc)(message) from exc

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._unregister()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _unregister(self) -> None:
        if self._entry is not None:
            self._entry.unlink(missing_ok=True)
            self._entry = None


def place_with_companions(folder: Path, sealed: Path, output: Path, *, overwrite: bool = False) -> None:
    """Place the render folder's companion files beside ``output``, then ``sealed`` as ``output``:
    an output never appears without them. If a placement fails, the companions placed are taken back."""
    placed: list[Path] = []
    try:
        for companion in sorted(folder.glob(f"{COMPANION_STEM}.*")):
            beside = output.with_suffix(companion.suffix)
            place(companion, beside, overwrite=overwrite)
            placed.append(beside)
        place(sealed, output, overwrite=overwrite)
    except BaseException:
        for beside in placed:
            beside.unlink(missing_ok=True)
        raise


def place(source: Path, output: Path, *, overwrite: bool = False) -> None:
    """Rename ``source`` to ``output`` atomically; without ``overwrite`` an existing ``output`` is never replaced."""
    if overwrite:
        os.replace(source, output)
        return
    try:
        os.link(source, output, follow_symlinks=False)
    except FileExistsError:
        raise _exists_error(output) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV):
            raise
        try:
            _rename_noreplace(source, output)  # a filesystem without hard links
        except FileExistsError:
            raise _exists_error(output) from None
        return
    _checkpoint("linked")
    os.unlink(source)


def _rename_noreplace(source: Path, output: Path) -> None:
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is not None:
        at_fdcwd, rename_noreplace = -100, 1
        if renameat2(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(output), rename_noreplace) == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), str(output))
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(output))
    if os.path.lexists(output):  # last resort: a small window, on filesystems with neither
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(output))
    os.replace(source, output)


# -- stale render folders ---------------------------------------------------------------------


@dataclass(frozen=True)
class DoctorAction:
    """What was found in one render folder and what was done: ``removed``, ``recovered``, ``active`` or ``kept``."""

    folder: Path
    action: str
    output: Path | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "action": self.action, "output": str(self.output) if self.output else None, "detail": self.detail}


@dataclass(frozen=True)
class DoctorReport:
    """What :func:`doctor` found: one action per render folder, and registry entries whose folder was gone."""

    home: Path
    actions: list[DoctorAction] = field(default_factory=list)
    forgotten: int = 0  # registry entries dropped because their folder no longer exists

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a.action == action)

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "removed": self.count("removed"),
            "recovered": self.count("recovered"),
            "active": self.count("active"),
            "kept": self.count("kept"),
            "forgotten": self.forgotten,
            "actions": [a.to_dict() for a in self.actions],
        }


def render_folders(folder: Path) -> list[Path]:
    """The hidden render folders directly in ``folder`` (nothing else is looked at)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if e.name.startswith(RENDER_FOLDER_PREFIX) and e.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return []


def sweep_stale(folder: Path, *, is_recorded: IsRecorded | None = None, registry: Path | None = None) -> list[Path]:
    """Remove the stale render folders in ``folder`` (lock free: their render died); returns those handled.

    A folder whose lock is held (a render running) is never touched. With ``is_recorded``, a
    stale folder's sealed file that the vault recorded is moved to its output name first.
    """
    handled = []
    for render_folder in render_folders(Path(folder)):
        action = handle_render_folder(render_folder, is_recorded=is_recorded)
        if action is not None and action.action in ("removed", "recovered"):
            handled.append(render_folder)
            if registry is not None:
                _registry_entry(registry, render_folder).unlink(missing_ok=True)
    return handled


def handle_render_folder(render_folder: Path, *, is_recorded: IsRecorded | None = None) -> DoctorAction | None:
    """Remove (or recover) one render folder if stale; None when it is being created right now.

    Only a real folder named ``.likeness-render-*`` is ever looked at (a damaged registry entry
    naming any other path is ignored).
    """
    render_folder = Path(render_folder)
    if not render_folder.name.startswith(RENDER_FOLDER_PREFIX) or render_folder.is_symlink() or not render_folder.is_dir():
        return None
    lock_path = render_folder / LOCK_NAME
    fd: int | None = None
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        if not render_folder.is_dir():
            return None  # gone meanwhile
        if _age(render_folder) < NO_LOCK_GRACE_S:
            return None  # made a moment ago; its lock comes next
    except OSError as exc:
        return DoctorAction(render_folder, "kept", None, f"cannot open its lock: {exc.strerror}")
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return DoctorAction(render_folder, "active", _note_output(render_folder), "a render is writing here")
            if not _same_file(fd, lock_path):
                return None  # another sweeper removed it meanwhile
        return _clear_stale(render_folder, is_recorded)
    finally:
        if fd is not None:
            os.close(fd)


def _clear_stale(render_folder: Path, is_recorded: IsRecorded | None) -> DoctorAction:
    """Called with the folder's lock held (or no lock file at all)."""
    output = _note_output(render_folder)
    if output is not None and output.parent != render_folder.parent.resolve():
        output = None  # the output always sits beside its render folder; anything else is not ours to place
    sealed = next(iter(sorted(render_folder.glob(f"{SEALED_STEM}.*"))), None)
    if sealed is not None and output is not None:
        if _same_path(sealed, output):
            shutil.rmtree(render_folder, ignore_errors=True)
            return DoctorAction(render_folder, "removed", output, "its output was already in place")
        if is_recorded is not None:
            try:
                recorded = bool(is_recorded(sha256_file(sealed)))
            except Exception as exc:  # noqa: BLE001 - cannot tell: keep the file rather than lose a recorded output
                return DoctorAction(render_folder, "kept", output, f"cannot check the vault: {exc}")
            if recorded:
                try:
                    place_with_companions(render_folder, sealed, output, overwrite=False)
                except InputError:
                    return DoctorAction(render_folder, "kept", output, f"a recorded output waits in {sealed}; {output} exists")
                except OSError as exc:
                    return DoctorAction(render_folder, "kept", output, f"a recorded output waits in {sealed}: {exc.strerror}")
                shutil.rmtree(render_folder, ignore_errors=True)
                return DoctorAction(render_folder, "recovered", output, "the vault recorded it; moved to its output name")
    shutil.rmtree(render_folder, ignore_errors=True)
    return DoctorAction(render_folder, "removed", output, "left by a render that did not finish")


def doctor(home: Path, *, is_recorded: IsRecorded | None = None, folders: Iterable[Path] = ()) -> DoctorReport:
    """Find the render folders registered under ``home`` (and those in ``folders``), remove the stale ones.

    The folders holding registered render folders are swept as well (only their
    ``.likeness-render-*`` entries). Folders whose lock is held are reported ``active`` and left.
    """
    home = Path(home)
    registry = pending_registry(home)
    actions: list[DoctorAction] = []
    seen: set[Path] = set()
    parents: list[Path] = []
    forgotten = 0
    for entry in sorted(registry.glob("*.json")) if registry.is_dir() else []:
        try:
            render_folder = Path(json.loads(entry.read_text(encoding="utf-8"))["folder"])
        except (OSError, ValueError, KeyError, TypeError):
            if _age(entry) >= NO_LOCK_GRACE_S:
                entry.unlink(missing_ok=True)
                forgotten += 1
            continue
        if not render_folder.name.startswith(RENDER_FOLDER_PREFIX):
            entry.unlink(missing_ok=True)  # damaged: never act on a path that is not a render folder
            forgotten += 1
            continue
        if render_folder.parent not in parents:
            parents.append(render_folder.parent)
        if not render_folder.is_dir():
            entry.unlink(missing_ok=True)
            forgotten += 1
            continue
        seen.add(render_folder)
        action = handle_render_folder(render_folder, is_recorded=is_recorded)
        if action is None:
            continue
        if action.action in ("removed", "recovered"):
            entry.unlink(missing_ok=True)
        actions.append(action)
    for folder in [*parents, *(Path(f) for f in folders)]:
        for render_folder in render_folders(folder):
            if render_folder in seen:
                continue
            seen.add(render_folder)
            action = handle_render_folder(render_folder, is_recorded=is_recorded)
            if action is not None:
                actions.append(action)
    return DoctorReport(home, actions, forgotten)


# -- small helpers ----------------------------------------------------------------------------


def _checkpoint(stage: str, folder: Path | None = None) -> None:
    """Test hook: with ``LIKENESS_TEST_PAUSE_AT=<stage>`` the process stops here for good.

    It first writes ``LIKENESS_TEST_PAUSE_MARKER`` (a JSON note: stage, pid, render folder)
    when set, else one line on stderr, then sleeps until killed: the crash tests kill it with
    SIGKILL at that exact stage. Without the variable (always, outside tests) it does nothing.
    """
    if os.environ.get(PAUSE_ENV) != stage:
        return
    note = {"stage": stage, "pid": os.getpid(), "folder": str(folder) if folder is not None else None}
    marker = os.environ.get(PAUSE_MARKER_ENV)
    if marker:
        _write_json(Path(marker), note)
    else:
        print(f"likeness: test pause at {stage} (pid {os.getpid()})", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)


def _register(registry: Path | None, token: str, folder: Path, output: Path) -> Path | None:
    """Write the registry entry naming ``folder``; best effort (a render does not fail for it)."""
    if registry is None:
        return None
    entry = registry / f"{token}.json"
    try:
        registry.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_json(entry, {"folder": str(_absolute(folder)), "output": str(_absolute(output)), "pid": os.getpid(), "time": time.time()})
    except OSError as exc:
        log.warning("cannot register the render folder in %s: %s (likeness doctor will not know it)", registry, exc.strerror)
        return None
    return entry


def _registry_entry(registry: Path, render_folder: Path) -> Path:
    return Path(registry) / f"{render_folder.name[len(RENDER_FOLDER_PREFIX):]}.json"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` whole or not at all (temp name in the same folder, mode 0600, rename)."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _note_output(render_folder: Path) -> Path | None:
    try:
        return Path(json.loads((render_folder / NOTE_NAME).read_text(encoding="utf-8"))["output"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _same_path(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _age(path: Path) -> float:
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return float("inf")


def _absolute(path: Path) -> Path:
    path = Path(path)
    return path.parent.resolve() / path.name


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk; best effort on filesystems that refuse."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

