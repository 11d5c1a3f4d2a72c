"""The render pipeline, end to end on real faces: consent first, then a tagged output or nothing."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from likeness import consent, media, swap, tagging
from likeness.errors import ConsentError, InputError, NoFaceError
from likeness.faces import FaceAnalyzer, distance
from likeness.render import FrameSwapper, RenderJob, render
from likeness.settings import Settings
from likeness.vault import FacesetItem, init_vault
from tests.conftest import SHARED_MEDIA, shared

TALENT = "talent passphrase for tests"
ASTRONAUT = Path(data.data_dir) / "astronaut.png"


@dataclasses.dataclass
class Studio:
    vault: object
    analyzer: FaceAnalyzer
    identity: str
    source: np.ndarray  # a photo of the identity, to check whose face the output shows
    grant: str
    home: Path


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A vault with one enrolled identity and a film grant; a synthetic SFHQ person when the shared media is there."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'vault.db'}", passphrase="vault passphrase", talent_passphrase=TALENT)
    vault = init_vault(settings, studio="test-studio", scrypt_n=2**10)
    source_path = SHARED_MEDIA / "syn_SFHQ_pt1_00000161.jpg"
    # Without the shared media, the astronaut is swapped onto herself: the plumbing is still real.
    source = media.read_image(source_path) if source_path.is_file() else data.astronaut()
    with FaceAnalyzer() as analyzer:
        faceset = swap.make_faceset([source], analyzer, identity="alice")
        items = [FacesetItem(i.image, i.landmarks, i.pose, i.embedding, i.quality) for i in faceset.items]
        vault.enrol("alice", items, talent_passphrase=TALENT)
        grant = consent.create_grant(vault, "alice", grantee="test-studio", scopes=["film"], expires="2035-01-01", talent_passphrase=TALENT)
        yield Studio(vault, analyzer, "alice", source, grant.id, home)


def _job(studio: Studio, target: Path, output: Path, **kw) -> RenderJob:
    return RenderJob(target=target, output=output, identity=studio.identity, grant_id=kw.pop("grant", studio.grant), scope=kw.pop("scope", "film"), **kw)


def _expired_grant(studio: Studio) -> str:
    # create_grant refuses a past expiry, so sign one that ran out yesterday the way a talent would have.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    grant = consent.Grant(
        id=str(uuid.uuid4()), identity="alice", grantee="test-studio", scopes=("film",), not_before=now - timedelta(days=10),
        expires=now - timedelta(days=1), max_renders=None, visible_label=False, signer_role="self", note="", created=now - timedelta(days=10),
        identity_id=studio.vault.identity("alice").id, talent_key=studio.vault.identity("alice").fingerprint, vault=studio.vault.vault_id,
    )
    signed = consent.sign(studio.vault.owner_key("alice", TALENT), grant.payload())
    studio.vault.store_grant("alice", grant.id, signed.payload, signed.signature, None, {"grant": grant.id})
    return grant.id


def _revoked_grant(studio: Studio) -> str:
    grant = consent.create_grant(studio.vault, "alice", grantee="test-studio", scopes=["film"], expires="2035-01-01", talent_passphrase=TALENT)
    consent.revoke_grant(studio.vault, grant.id, talent_passphrase=TALENT, reason="test")
    return grant.id


@pytest.mark.parametrize("case", ["revoked", "expired", "wrong scope"])
def test_refused_grant_writes_nothing(studio, tmp_path, case):
    grant = {"revoked": _revoked_grant, "expired": _expired_grant}.get(case, lambda s: s.grant)(studio)
    scope = "advertising" if case == "wrong scope" else "film"
    before = len(studio.vault.audit_entries())
    with pytest.raises(ConsentError) as refused:
        render(_job(studio, ASTRONAUT, tmp_path / "out.png", grant=grant, scope=scope), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert "nothing was written" in str(refused.value)
    assert list(tmp_path.iterdir()) == []
    assert len(studio.vault.audit_entries()) > before  # consent audited the refusal


def test_image_swap_end_to_end(studio, tmp_path):
    out = tmp_path / "astronaut-swapped.png"
    record = render(_job(studio, ASTRONAUT, out), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporaries left
    result, target = media.read_image(out), data.astronaut()
    assert result.shape == target.shape
    stored = studio.vault.render(record.render_id)
    assert stored is not None and stored.output_sha256 == record.output_sha256 and stored.grant_id == studio.grant
    assert 0 < record.render_id < 2**63 and record.settings["frames"] == 1 and record.settings["failed_frames"] == 0
    verdict = tagging.verify(out, studio.vault).as_dict()  # watermarked with the render id, signed by the studio
    assert verdict["verdict"] == "intact" and verdict["watermark"]["render_id"] == f"{record.render_id:016x}"
    assert verdict["c2pa"]["state"] == "trusted"
    [face] = studio.analyzer.detect(result)[:1]
    [original] = studio.analyzer.detect(target)[:1]
    x, y, w, h = original.box
    assert np.abs(result[y:y + h, x:x + w].astype(int) - target[y:y + h, x:x + w]).mean() > 8  # the face changed
    if (SHARED_MEDIA / "syn_SFHQ_pt1_00000161.jpg").is_file():
        source_face = studio.analyzer.detect(studio.source)[0]
        to_source = distance(studio.analyzer.embed(result, face), studio.analyzer.embed(studio.source, source_face))
        to_target = distance(studio.analyzer.embed(result, face), studio.analyzer.embed(target, original))
        assert to_source < to_target


def test_pixels_outside_the_dilated_mask_are_unchanged(studio, tmp_path):
    target = data.astronaut()
    face = studio.analyzer.detect(target)[0]
    engine = swap.make_engine("retrieval")
    engine.prepare(studio.vault.faceset("alice"))
    patch = engine.swap(target, face)
    support = patch.full_mask(target.shape) > 0
    if patch.support is not None:
        support[patch.y:patch.y + patch.support.shape[0], patch.x:patch.x + patch.support.shape[1]] |= patch.support
    reach = max(8, face.box[2] // 3)  # blending may feather a little past the mask, never further
    outside = ~(cv2.dilate(support.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0)
    assert outside.mean() > 0.5
    # Before encoding: exactly the target's pixels.
    swapped = FrameSwapper(engine, colour="reinhard", blend="laplacian")(target, [dataclasses.replace(face, track=0)], [])
    assert np.array_equal(swapped[outside], target[outside])
    assert not np.array_equal(swapped[~outside], target[~outside])
    # In the PNG output only the invisible watermark touches them (PSNR >= 40 dB there).
    out = tmp_path / "out.png"
    render(_job(studio, ASTRONAUT, out), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    diff = media.read_image(out)[outside].astype(float) - target[outside]
    assert 10 * np.log10(255**2 / max(np.mean(diff**2), 1e-9)) >= 40


def test_target_without_a_face_is_refused_and_nothing_written(studio, tmp_path):
    with pytest.raises(NoFaceError, match="coffee.png: no face"):
        render(_job(studio, Path(data.data_dir) / "coffee.png", tmp_path / "out.png"), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_video_output_for_an_image_target_is_refused(studio, tmp_path):
    with pytest.raises(InputError, match="is an image"):
        render(_job(studio, ASTRONAUT, tmp_path / "out.mp4"), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert list(tmp_path.iterdir()) == []


class FlakyEngine:
    """The real engine, except that it raises on one frame (the 4th call)."""

    name = "flaky"

    def __init__(self, inner, fail_on: int = 3) -> None:
        self.inner, self.calls, self.fail_on = inner, 0, fail_on

    def prepare(self, faceset) -> None:
        self.inner.prepare(faceset)

    def swap(self, frame, face):
        self.calls += 1
        if self.calls - 1 == self.fail_on:
            raise RuntimeError("simulated engine failure")
        return self.inner.swap(frame, face)


@pytest.fixture(scope="module")
def grid_render(studio, tmp_path_factory):
    target = shared("grid_bbaf2n.mpg")
    out = tmp_path_factory.mktemp("video") / "grid-swapped.mp4"
    engine = FlakyEngine(swap.make_engine("retrieval"))
    opened = []

    def counting_reader(path, **kw):
        opened.append(Path(path))
        return real_reader(path, **kw)

    real_reader = media.read_frames
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(media, "read_frames", counting_reader)
        record = render(_job(studio, target, out), vault=studio.vault, analyzer=studio.analyzer, engine=engine, progress=False)
    record.settings["_decoded_times"] = opened.count(target)
    return target, out, record


def test_video_swap_keeps_frame_count_fps_resolution_and_audio(grid_render):
    target, out, record = grid_render
    before, after = media.probe(target), media.probe(out)
    assert (after.width, after.height) == (before.width, before.height)
    assert after.frame_count == before.frame_count == record.settings["frames"]
    assert after.fps == pytest.approx(before.fps, rel=1e-3)
    assert after.has_audio and before.has_audio
    verdict = tagging.verify(out).as_dict()  # no vault needed to find the render id (nor to say it cannot confirm the signer)
    assert verdict["verdict"] == "unconfirmed" and verdict["watermark"]["render_id"] == f"{record.render_id:016x}"
    assert verdict["consent"]["ok"] and verdict["consent"]["n"] == record.n
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_one_failing_frame_does_not_stop_the_video(grid_render):
    target, out, record = grid_render
    assert record.settings["failed_frames"] == 1
    # The failed frame kept the last good swap: it differs from the target's frame like its neighbours do.
    frames_in = [f.image for f in media.read_frames(target)][2:5]
    frames_out = [f.image for f in media.read_frames(out)][2:5]
    changes = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames_in, frames_out)]
    assert min(changes) > 0.5 * max(changes)


def test_short_video_is_decoded_once_and_the_render_says_how_it_was_encoded(grid_render):
    # The analysis pass keeps a short target's frames in memory: the swap pass does not decode again.
    target, out, record = grid_render
    assert record.settings["_decoded_times"] == 1
    assert record.settings["preset"] == "veryfast" and record.settings["crf"] == 18
    # GRID faces (~150 px) are smaller than the identity's crops: nothing was enlarged much.
    assert record.settings["face_upscale"] < 1.5 and record.settings["soft_face_frames"] == 0


def test_frames_beyond_the_memory_budget_are_not_kept():
    from likeness.render.pipeline import _Analysis, _cached

    frames = [media.Frame(i, i / 25, np.zeros((10, 10, 3), np.uint8)) for i in range(5)]
    kept = _Analysis(faces=[])
    assert list(_cached(iter(frames), kept, budget=10_000)) == frames
    assert [f.index for f in kept.replay(False, "")] == [0, 1, 2, 3, 4]
    dropped = _Analysis(faces=[])
    assert list(_cached(iter(frames), dropped, budget=1_000)) == frames  # still passed through
    assert dropped.frames is None and dropped.replay(False, "") is None


@pytest.mark.parametrize("options, message", [
    ({"preset": "warp9"}, "preset"),
    ({"work_size": 8}, "work_size"),
    ({"work_size": "big"}, "work_size"),
])
def test_bad_speed_options_are_refused(tmp_path, options, message):
    with pytest.raises(InputError, match=message):
        RenderJob(target=ASTRONAUT, output=tmp_path / "o.png", identity="alice", grant_id="g", options=options)


def _frames_of(path: Path) -> list[np.ndarray]:
    return [f.image for f in media.read_frames(path)]


def test_streamed_swap_equals_the_analyse_first_swap(studio, tmp_path, monkeypatch):
    # --face largest streams the analysis alongside the swap; --face 0 (the same, largest track)
    # analyses the whole target first. Same faces: the same frames reach the encoder. They are
    # compared there, not decoded from the outputs: x264 through PyAV is not bit-repeatable under
    # CPU load (the same frames gave different files in 8 of 30 encodes), the swap is.
    handed: list[np.ndarray] = []

    def capture(image, **kw):  # the watermark's payload, the render id, differs per render
        handed.append(image.copy())
        return image

    monkeypatch.setattr(tagging, "mark_frame", capture)
    target = shared("grid_bbaf2n.mpg")
    total = media.probe(target).frame_count
    streamed = render(_job(studio, target, tmp_path / "streamed.mp4"), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    a, handed[:] = handed[-total:], []
    whole = render(_job(studio, target, tmp_path / "whole.mp4", face=0), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    b, t = handed[-total:], _frames_of(target)
    assert streamed.settings["frames"] == whole.settings["frames"] == total
    assert len(a) == len(b) == total
    differing = [i for i, (x, y) in enumerate(zip(a, b)) if not np.array_equal(x, y)]
    assert differing == [], f"frames {differing} differ between the streamed and the analyse-first swap"
    assert min(np.abs(x.astype(int) - y).mean() for x, y in zip(a, t)) > 1.0  # and they are swapped


def test_a_late_change_of_the_chosen_face_swaps_again(studio, tmp_path, monkeypatch, caplog):
    # When the whole target's ranking picks other faces than the ranking so far (simulated: the
    # final plan leaves the first 5 frames alone), the swap pass runs again with the final plan.
    import likeness.render.pipeline as pipeline

    real_plan = pipeline.plan_swaps
    target = shared("grid_bbaf2n.mpg")
    total = media.probe(target).frame_count

    def final_differs(frames, spec, **kw):
        selected, holds = real_plan(frames, spec, **kw)
        if len(frames) == total and "ranking" not in kw:
            selected = [[] if i < 5 else s for i, s in enumerate(selected)]
            holds = [[] if i < 5 else h for i, h in enumerate(holds)]
        return selected, holds

    monkeypatch.setattr(pipeline, "plan_swaps", final_differs)
    monkeypatch.setattr(tagging, "mark_frame", lambda image, **kw: image)  # leaves the codec's change alone
    out = tmp_path / "out.mp4"
    with caplog.at_level("INFO", logger="likeness.render"):
        record = render(_job(studio, target, out), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert "swapping again" in caplog.text
    assert record.settings["frames"] == total
    before, after = _frames_of(target), _frames_of(out)
    x, y, w, h = studio.analyzer.detect(before[0])[0].box
    change = [np.abs(a[y:y + h, x:x + w].astype(int) - b[y:y + h, x:x + w]).mean() for a, b in zip(before, after)]
    assert max(change[:5]) < 0.3 * min(change[6:])  # only the codec touched those faces
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_a_head_turned_past_the_faceset_is_counted_and_advised(studio, tmp_path, caplog):
    # alice has one frontal photo: a three-quarter target is only partly covered by it. With the
    # engine told to fade rather than leave such a face, the render says how far it got.
    if not (SHARED_MEDIA / "syn_SFHQ_pt1_00000161.jpg").is_file():
        pytest.skip("needs the shared media's frontal identity")
    target = shared("syn_t2i_threequarter_FLUX1_schnell_image_0017649.jpg")
    with caplog.at_level("WARNING"), swap.make_engine("retrieval", leave_below=0.5) as engine:
        record = render(_job(studio, target, tmp_path / "out.png"), vault=studio.vault, analyzer=studio.analyzer, engine=engine, progress=False)
    assert record.settings["pose_coverage_frames"] == 1 and record.settings["pose_left_frames"] == 0
    assert record.settings["least_pose_coverage"] < 0.8
    assert any("Enrol three-quarter and profile photos" in r.getMessage() for r in caplog.records)


def test_a_picture_whose_only_face_is_left_as_it_was_is_not_an_output(studio, tmp_path):
    # A tagged "AI-generated" copy of an untouched photo would mislabel it and spend a use.
    if not (SHARED_MEDIA / "syn_SFHQ_pt1_00000161.jpg").is_file():
        pytest.skip("needs the shared media's frontal identity")
    target = shared("syn_t2i_profile_SDXL_image_0015989.jpg")
    uses = len(studio.vault.chain_facts()[1].uses.get(studio.grant, []))
    with pytest.raises(InputError, match="no face was swapped.*enrol three-quarter and profile photos"):
        render(_job(studio, target, tmp_path / "out.png"), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert not (tmp_path / "out.png").exists()
    assert len(studio.vault.chain_facts()[1].uses.get(studio.grant, [])) == uses


def test_an_engine_the_render_made_is_closed_one_passed_in_is_not(studio, tmp_path):
    # The retrieval engine's hand model is a native graph garbage collection does not free
    # (80 MB per engine): a worker rendering all day must not keep one per job.
    made = []

    class Closing:
        name = "closing"

        def __init__(self):
            self.inner, self.closed = swap.make_engine("retrieval"), False
            made.append(self)

        def prepare(self, faceset):
            self.inner.prepare(faceset)

        def swap(self, frame, face):
            return self.inner.swap(frame, face)

        def close(self):
            self.inner.close()
            self.closed = True

    swap.register_engine("closing-test", Closing)
    render(_job(studio, ASTRONAUT, tmp_path / "a.png", engine="closing-test"), vault=studio.vault, analyzer=studio.analyzer, progress=False)
    assert made and made[0].closed
    mine = Closing()
    render(_job(studio, ASTRONAUT, tmp_path / "b.png"), vault=studio.vault, analyzer=studio.analyzer, engine=mine, progress=False)
    assert not mine.closed
    mine.close()


def test_a_face_left_as_it_was_is_not_held_over_the_next_frames(astronaut):
    # Holding a left patch through a missed detection would count a frame as swapped when
    # nothing changed, and let an untouched video through as a render.
    left = swap.Patch(astronaut[:64, :64].copy(), np.zeros((64, 64), np.float32), 0, 0, coverage=0.4)

    class Leaves:
        name = "leaves"

        def prepare(self, faceset):
            pass

        def swap(self, frame, face):
            return left

    swapper = FrameSwapper(Leaves(), colour="reinhard", blend="laplacian")
    face = dataclasses.replace(_astronaut_face(astronaut), track=7)
    out = swapper(astronaut, [face], held=[])
    out = swapper(out, [], held=[7])  # the face missed for a frame: its track is held
    assert np.array_equal(out, astronaut)
    assert swapper.swapped_frames == 0 and swapper.left_frames == 1 and swapper.pose_frames == 1


def _astronaut_face(astronaut):
    with FaceAnalyzer() as analyzer:
        return analyzer.detect(astronaut)[0]
