"""Renders on a Ray cluster: the same output as on one machine, one consent, seal, use and record,
and no plaintext talent data anywhere in Ray's folder.

One local cluster (2 CPUs, a small object store so that objects spill) serves the module; the
``likeness swap --executor ray`` test starts its own, as the command does on a fresh machine.
The test clip is a GRID talking head (60 frames, keyframes at 0 and 30) cut to the synthetic
SFHQ head (45 frames, keyframe at 60): with 30-frame chunks, one chunk boundary falls mid-shot
and one on a scene cut.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from likeness import media
from likeness.media.encode import AudioCopy
from likeness.render.cluster import RayExecutor
from likeness.render.pipeline import FrameWork, LocalExecutor, _silent
from likeness.render.sealing import RenderKey
from tests.conftest import shared
from tests.test_render_pipeline import _job, studio  # noqa: F401 - shared fixture

ray = pytest.importorskip("ray")

RENDER_ID = 0x1234_5678_9ABC
CHUNK_SECONDS = 30 / 25  # 30-frame chunks: boundaries at the keyframes 30 and 60
STORE_BYTES = 80 << 20  # Ray's smallest object store: a few puts make it spill


def _write_clip(path: Path, frames: list[np.ndarray], keyframes: set[int], audio_from: Path) -> None:
    """H.264 at 25 fps with keyframes exactly at ``keyframes`` (x264's own scene cuts off), audio copied."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        stream.options = {"crf": "10", "preset": "veryfast", "x264-params": "keyint=1000:scenecut=0"}
        audio = AudioCopy.open(audio_from)
        audio.add_to(out, path)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            frame.pict_type = 1 if i in keyframes else 0  # AV_PICTURE_TYPE_I forces an IDR
            out.mux(stream.encode(frame))
            audio.copy(until=i / 25 + 0.5)
        out.mux(stream.encode(None))
        audio.copy(until=None)
        audio.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    grid, motion = shared("grid_bbaf2n.mpg"), shared("syn_motion_SFHQ_pt1_00000161_5s.mp4")
    talking = [f.image for f in media.read_frames(grid)][:60]
    height, width = talking[0].shape[:2]
    other = [cv2.resize(f.image[51:461], (width, height), interpolation=cv2.INTER_AREA) for f in media.read_frames(motion)][:45]
    path = tmp_path_factory.mktemp("clip") / "two-shots.mp4"
    _write_clip(path, talking + other, {0, 30, 60}, grid)
    assert media.video_index(path).keyframes == (0, 30, 60)
    return path


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster in a short private folder (Unix socket paths are short), spilling inside it."""
    folder = Path(tempfile.mkdtemp(prefix="lk-ray-", dir="/tmp"))
    ray.init(address="local", num_cpus=2, object_store_memory=STORE_BYTES, _temp_dir=str(folder), object_spilling_directory=str(folder / "spill"),
             include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield folder
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def _work(studio, clip: Path, tmp_path: Path) -> FrameWork:
    job = _job(studio, clip, tmp_path / "unused.mp4", options={"crf": 0})  # lossless: decoded frames are what was encoded
    return FrameWork(job=job, info=media.probe(clip), render_id=RENDER_ID, visible=False, watermark_key=studio.vault.watermark_key())


def _frames_of(path: Path) -> list[media.Frame]:
    return list(media.read_frames(path))


def _audio(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as container:
        return [(p.pts, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def both(studio, clip, cluster, tmp_path_factory):
    """The same frame work (same render id, lossless) on one machine and on the cluster's two workers."""
    folder = tmp_path_factory.mktemp("both")
    work = _work(studio, clip, folder)
    kw = dict(vault=studio.vault, analyzer=studio.analyzer, observe=_silent, progress=False)
    local = LocalExecutor().render_frames(work, destination=folder / "local.mp4", **kw)
    spread = RayExecutor(workers=2, chunk_seconds=CHUNK_SECONDS).render_frames(work, destination=folder / "ray.mp4", **kw)
    return work, (local, folder / "local.mp4"), (spread, folder / "ray.mp4")


def test_cluster_render_matches_the_local_one_frame_for_frame_but_near_a_mid_shot_cut(both, clip, studio):
    work, (local, local_path), (spread, ray_path) = both
    assert spread.notes["executor"] == "ray" and spread.notes["chunks"] == 3 and spread.notes["workers"] == 2
    a, b, source = _frames_of(local_path), _frames_of(ray_path), _frames_of(clip)
    assert len(a) == len(b) == len(source) == spread.frames == local.frames == 105
    assert [f.time for f in b] == [f.time for f in a] == pytest.approx([f.time for f in source])
    assert media.probe(ray_path).fps == media.probe(local_path).fps == 25
    assert _audio(ray_path) == _audio(local_path) and _audio(ray_path)  # the target's audio, copied once
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if not np.array_equal(x.image, y.image)]
    # Chunk 0 starts where the render does; chunk 2 at a scene cut, where the tracker starts afresh
    # on one machine too: identical. Chunk 1 starts mid-shot: its tracker and smoothing were warmed
    # on 25 lead-in frames only, a fraction of a grey level away.
    assert all(30 <= i < 60 for i in differ), differ
    x, y, w, h = studio.analyzer.detect(source[45].image)[0].box
    assert min(_psnr(a[i].image, b[i].image) for i in differ or [0]) > 45  # measured 46.9-54.6 dB
    assert min(_psnr(a[i].image[y:y + h, x:x + w], b[i].image[y:y + h, x:x + w]) for i in differ or [0]) > 36  # face: 38.6-46.5
    assert spread.tally.swapped_frames == local.tally.swapped_frames and spread.tally.failed_frames == local.tally.failed_frames
    assert len(spread.prints) == len(local.prints)
    assert min(np.abs(x.image.astype(int) - y.image).mean() for x, y in zip(b, source)) > 0.5  # and it is swapped


def test_a_worker_killed_mid_chunk_is_replaced_and_the_output_is_the_same(both, studio, clip, tmp_path, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setenv("LIKENESS_TEST_RAY_CRASH", f"swap:1:{marker}")
    work, _, (spread, ray_path) = both
    again = RayExecutor(workers=2, chunk_seconds=CHUNK_SECONDS).render_frames(
        work, vault=studio.vault, analyzer=studio.analyzer, destination=tmp_path / "again.mp4", observe=_silent)
    assert marker.is_file()  # the worker did die halfway through chunk 1
    started = (tmp_path / "crashed.log").read_text().split("\n")
    assert sorted(started.count(f"analyse {n}") for n in range(3)) == [1, 1, 1]  # no chunk analysed twice
    assert [started.count(f"swap {n}") for n in range(3)] == [1, 2, 1]  # only the lost chunk was swapped again
    assert again.frames == spread.frames
    assert all(np.array_equal(x.image, y.image) for x, y in zip(_frames_of(tmp_path / "again.mp4"), _frames_of(ray_path)))


def test_a_cancelled_cluster_render_writes_nothing_and_uses_nothing(studio, clip, cluster, tmp_path):
    from likeness.render import render

    class Cancelled(Exception):
        pass

    def cancel(stage, frame, frames):
        if stage == "swapping" and frame > 0:
            raise Cancelled()

    used = studio.vault.grant_record(studio.grant).used
    records = [e.event for e in studio.vault.audit_entries()].count("render.record")
    with pytest.raises(Cancelled):
        render(_job(studio, clip, tmp_path / "out.mp4"), vault=studio.vault, analyzer=studio.analyzer, progress=False,
               observer=cancel, executor=RayExecutor(workers=2, chunk_seconds=CHUNK_SECONDS))
    assert list(tmp_path.iterdir()) == []  # no output, no hidden render folder
    assert studio.vault.grant_record(studio.grant).used == used
    assert [e.event for e in studio.vault.audit_entries()].count("render.record") == records


def test_autoencoder_chunks_get_the_weights_sealed_and_the_render_is_recorded(studio, cluster, tmp_path):
    import torch

    from likeness.render import render
    from likeness.swap.autoencoder import TINY
    from likeness.train import TrainJob, train_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trained = train_model(TrainJob(identity="alice", grant_id=studio.grant, target=shared("grid_brbk7n.mpg"), device="cpu",
                                       model_config=TINY, iterations=2, max_target_frames=4, scope="film"),
                              vault=studio.vault, analyzer=studio.analyzer)
    finally:
        torch.set_num_threads(threads)
    weights, _ = studio.vault.get_model(trained.model_id)
    record = render(_job(studio, shared("grid_bbaf2n.mpg"), tmp_path / "ae.mp4", engine="autoencoder"), vault=studio.vault,
                    analyzer=studio.analyzer, progress=False, executor=RayExecutor(workers=2, chunk_seconds=CHUNK_SECONDS, device="cpu"))
    assert record.engine == "autoencoder" and record.settings["executor"] == "ray" and record.settings["chunks"] >= 2
    assert record.settings["frames"] == media.probe(tmp_path / "ae.mp4").frame_count == 75
    windows = [weights[k:k + 64] for k in (len(weights) // 3, len(weights) // 2, 2 * len(weights) // 3)]
    assert _leaks(cluster, windows) == []


def test_a_revocation_while_the_cluster_analyses_stops_the_render_before_the_swap(studio, clip, cluster, tmp_path):
    from likeness import consent
    from likeness.errors import ConsentError
    from likeness.render import render
    from tests.test_render_pipeline import TALENT

    grant = consent.create_grant(studio.vault, "alice", grantee="test-studio", scopes=["film"], expires="2035-01-01", talent_passphrase=TALENT)
    stages = []

    def revoke_midway(stage, frame, frames):
        stages.append(stage)
        if stage == "analysing" and frame > 0 and stages.count("revoked") == 0:
            stages.append("revoked")
            consent.revoke_grant(studio.vault, grant.id, talent_passphrase=TALENT, reason="changed my mind")

    with pytest.raises(ConsentError, match="stopped"):
        render(_job(studio, clip, tmp_path / "out.mp4", grant=grant.id), vault=studio.vault, analyzer=studio.analyzer, progress=False,
               observer=revoke_midway, executor=RayExecutor(workers=2, chunk_seconds=CHUNK_SECONDS))
    assert "revoked" in stages and "swapping" not in stages
    assert list(tmp_path.iterdir()) == [] and studio.vault.grant_record(grant.id).used == 0


def test_gpu_workers_are_asked_for_only_where_the_cluster_has_a_gpu(studio, clip, cluster, tmp_path):
    from likeness.errors import InputError

    if ray.cluster_resources().get("GPU"):
        pytest.skip("this cluster has a GPU")
    work = FrameWork(job=_job(studio, clip, tmp_path / "o.mp4", engine="autoencoder"), info=media.probe(clip), render_id=RENDER_ID,
                     visible=False, watermark_key=b"k" * 32)
    with pytest.raises(InputError, match="no GPU"):
        RayExecutor(device="cuda").render_frames(work, vault=studio.vault, analyzer=studio.analyzer, destination=tmp_path / "x.mp4",
                                                 observe=_silent)


def _secrets(studio) -> list[bytes]:
    """Byte strings that only plaintext talent data holds: windows of raw crop pixels, embeddings, landmarks."""
    found = []
    for item in studio.vault.faceset("alice").items:
        pixels = np.ascontiguousarray(item.image).tobytes()
        found += [pixels[k:k + 48] for k in (len(pixels) // 3, len(pixels) // 2)]
        found.append(np.asarray(item.embedding, np.float32).tobytes()[:32])
        found.append(np.asarray(item.landmarks, np.float32).tobytes()[64:96])
    return found


SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\xff\xd8\xff\xe1")


def _leaks(folder: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue  # a socket
            for needle in (*SIGNATURES, *needles):
                if needle in data:
                    hits.append(f"{path.relative_to(folder)}: {needle[:8]!r}")
    return hits


def _spill(folder: Path) -> None:
    """Fill the object store past its size so that what is in it goes to the spill folder."""
    fillers = [ray.put(np.zeros(30 << 20, np.uint8)) for _ in range(4)]
    ray.get(fillers[-1])
    assert any((folder / "spill").rglob("*")), "nothing spilled"
    del fillers


def test_ray_folder_holds_no_plaintext_talent_data_after_renders_and_spilling(both, studio, cluster):
    key = RenderKey.generate()
    held = ray.put(key.seal(studio.vault.faceset("alice"), "bundle"))  # as the executor sends it
    _spill(cluster)
    assert _leaks(cluster, _secrets(studio)) == []
    del held


def test_the_scan_finds_a_faceset_put_through_ray_plainly(studio, cluster):
    # The check above is only worth something if it sees plaintext: a faceset put as it is, spilled, is found.
    plain = ray.put(pickle.dumps(studio.vault.faceset("alice")))
    _spill(cluster)
    assert _leaks(cluster, _secrets(studio))
    del plain


def test_swap_with_executor_ray_on_a_fresh_command_writes_one_tagged_recorded_output(studio, clip, tmp_path):
    # What a user types: the command starts its own local cluster, in a private folder it removes.
    env = {**os.environ, "LIKENESS_HOME": str(studio.home), "LIKENESS_PASSPHRASE": "vault passphrase", "LIKENESS_DATABASE_URL": "",
           "RAY_ADDRESS": ""}
    before = {p.name for p in Path(tempfile.gettempdir()).glob("likeness-ray-*")}
    used = studio.vault.grant_record(studio.grant).used
    records = [e.event for e in studio.vault.audit_entries()].count("render.record")
    out = tmp_path / "out.mp4"
    cli = [sys.executable, "-m", "likeness.cli.main"]
    done = subprocess.run([*cli, "swap", str(clip), "-o", str(out), "--identity", "alice", "--grant", studio.grant, "--scope", "film",
                           "--executor", "ray", "--workers", "2", "--chunk-seconds", str(CHUNK_SECONDS), "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["settings"]["executor"] == "ray" and record["settings"]["chunks"] == 3 and record["settings"]["frames"] == 105
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    verdict = json.loads(subprocess.run([*cli, "verify", str(out), "--json"], env=env, capture_output=True, text=True).stdout)
    assert verdict["c2pa"]["state"] == "trusted" and verdict["watermark"]["render_id"] == record["render_id"]
    assert verdict["consent"]["ok"] and verdict["consent"]["n"] == record["n"]
    assert studio.vault.grant_record(studio.grant).used == used + 1
    assert [e.event for e in studio.vault.audit_entries()].count("render.record") == records + 1
    assert {p.name for p in Path(tempfile.gettempdir()).glob("likeness-ray-*")} <= before  # its cluster's folder is gone


def test_a_studio_job_asking_for_ray_renders_on_the_workers_cluster(studio, clip, cluster, tmp_path):
    from likeness.studio.worker import run_worker
    from likeness.vault import jobs

    queued = jobs.enqueue(studio.vault, organisation="test-studio", account="bob", identity="alice", grant_id=studio.grant,
                          target=str(clip), output=str(tmp_path / "job.mp4"), options={"scope": "film", "executor": "ray"})
    assert run_worker(studio.vault, once=True) == 1
    done = jobs.get(studio.vault, queued.id)
    assert done.state == "succeeded", done.error
    record = studio.vault.render(int(done.render_id, 16))
    assert record.settings["executor"] == "ray" and record.settings["frames"] == 105
    assert [p.name for p in tmp_path.iterdir()] == ["job.mp4"]


def test_a_driver_killed_mid_render_leaves_no_output_and_doctor_clears_what_it_left(studio, clip, tmp_path):
    import signal
    import time

    marker = tmp_path / "started"  # the workers note each chunk they start here (and crash nowhere)
    env = {**os.environ, "LIKENESS_HOME": str(studio.home), "LIKENESS_PASSPHRASE": "vault passphrase", "LIKENESS_DATABASE_URL": "",
           "RAY_ADDRESS": "", "LIKENESS_TEST_RAY_CRASH": f"none:0:{marker}"}
    used = studio.vault.grant_record(studio.grant).used
    out = tmp_path / "out"
    out.mkdir()
    cli = [sys.executable, "-m", "likeness.cli.main"]
    driver = subprocess.Popen([*cli, "swap", str(clip), "-o", str(out / "o.mp4"), "--identity", "alice", "--grant", studio.grant,
                               "--scope", "film", "--executor", "ray", "--workers", "2", "--chunk-seconds", str(CHUNK_SECONDS)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = Path(f"{marker}.log")
    deadline = time.monotonic() + 120
    while not (log.is_file() and "swap" in log.read_text()) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)  # while its workers swap
    driver.wait()
    assert [p.name.startswith(".likeness-render-") for p in out.iterdir()] == [True]  # only the hidden folder
    doctor = subprocess.run([*cli, "doctor", "--json"], env=env, capture_output=True, text=True)
    assert doctor.returncode == 0 and json.loads(doctor.stdout)["removed"] >= 1
    assert list(out.iterdir()) == []
    assert studio.vault.grant_record(studio.grant).used == used
