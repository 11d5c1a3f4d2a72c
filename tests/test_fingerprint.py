"""The perceptual fingerprint: a copy of a render matches it; another picture with the render's mark does not."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from skimage import data

from conftest import crop_half_area, jpeg, shared
from likeness.errors import InputError
from likeness.tagging import PUBLIC_KEY, Watermarker
from likeness.tagging.fingerprint import MATCH_THRESHOLD, REGION_THRESHOLD, VERSION, Fingerprint, compare, fingerprint, probe
from likeness.tagging.visible_label import visible_label

RENDER_ID = 0x2468_ACE0_1357_9BDF
SECRET = b"per-vault secret for the tests"




def _rotate(image, degrees):
    h, w = image.shape[:2]
    return cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT)


def _read(name):
    return cv2.imread(str(shared(name)))[:, :, ::-1].copy()


@pytest.fixture(scope="module")
def render(astronaut):
    """The genuine output: the astronaut marked with both marks, and its fingerprint taken after marking."""
    marked = Watermarker(PUBLIC_KEY, secret_key=SECRET).embed(astronaut, RENDER_ID)
    return marked, fingerprint([marked])


@pytest.mark.parametrize(
    "attack",
    [
        lambda im: im,
        lambda im: jpeg(im, 30),
        lambda im: jpeg(crop_half_area(im, 0.0, 1.0), 50),
        lambda im: jpeg(crop_half_area(im, 0.6, 0.2), 30),
        lambda im: cv2.resize(cv2.resize(im, (256, 256), interpolation=cv2.INTER_AREA), (512, 512)),
        lambda im: jpeg(_rotate(im, -4), 60),
        lambda im: np.clip((im.astype(np.float32) - 128) * 1.3 + 150, 0, 255).astype(np.uint8),
        lambda im: jpeg(np.clip(cv2.GaussianBlur(im, (0, 0), 1.0) + np.random.default_rng(0).normal(0, 5, im.shape), 0, 255).astype(np.uint8), 70),
    ],
    ids=["none", "jpeg_q30", "crop_half_jpeg_q50", "crop_half_jpeg_q30", "half_size_and_back", "rotate_4_jpeg", "grade", "blur_noise_jpeg"],
)
def test_genuine_copy_matches(render, attack):
    marked, fp = render
    match = compare(fp, [attack(marked)])
    assert match.matched, match.detail
    assert match.score >= match.threshold == MATCH_THRESHOLD


def test_other_pictures_do_not_match(render):
    _, fp = render
    others = [data.coffee(), data.chelsea(), data.rocket(), cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB), data.immunohistochemistry()]
    for other in others:
        match = compare(fp, [other])
        assert not match.matched, match.detail
        assert match.score < MATCH_THRESHOLD / 2


@pytest.mark.parametrize(
    "name", ["syn_SFHQ_pt1_00000161.jpg", "syn_t2i_threequarter_FLUX1_schnell_image_0014943.jpg", "pd_nasa_astronaut_class_group.jpg", "syn_SFHQ_sample_2x4_grid_8faces.jpg"]
)
def test_shared_stills_do_not_match_the_astronaut(render, name):
    match = compare(render[1], [_read(name)])
    assert not match.matched, match.detail


def test_forged_mark_on_a_real_photo_does_not_match(render):
    """A real photo stamped with the render's id (public key: anyone can) is not that render."""
    forged = Watermarker(PUBLIC_KEY).embed(data.coffee(), RENDER_ID)
    assert Watermarker(PUBLIC_KEY).detect(forged).payload == RENDER_ID  # the public mark alone says "render X"
    assert not Watermarker(SECRET).detect(forged).found  # no secret mark
    assert not compare(render[1], [forged]).matched  # and not the picture render X was


def test_same_visible_label_is_not_a_match():
    """Two renders share the "AI-generated" plate; that corner alone must not confirm one as the other."""
    a = visible_label(cv2.resize(data.coffee(), (960, 540)))
    b = visible_label(cv2.resize(data.chelsea(), (960, 540)))
    assert not compare(fingerprint([a]), [b]).matched


def test_round_trip_and_size(render):
    marked, fp = render
    blob = fp.to_bytes()
    assert len(blob) < 16 * 1024
    back = Fingerprint.from_bytes(blob)
    assert back == fp and back.to_bytes() == blob
    assert compare(back, [jpeg(marked, 50)]).matched


def test_garbage_is_an_input_error(render):
    blob = render[1].to_bytes()
    bad = [b"", b"LKFP", b"not a fingerprint at all", bytes(100), blob[:-7], blob + b"\0", blob[:4] + b"\x09" + blob[5:], np.random.default_rng(0).bytes(9000)]
    for b in bad:
        with pytest.raises(InputError):
            Fingerprint.from_bytes(b)


def test_bad_images_are_input_errors():
    with pytest.raises(InputError):
        fingerprint([])
    with pytest.raises(InputError):
        fingerprint([np.zeros((64, 64), np.uint8)])
    with pytest.raises(InputError):
        fingerprint(data.astronaut())  # an image, not a sequence of them


def _h264(frames, crf):
    import av

    h, w = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buf.seek(0)
    with av.open(buf) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _clip(name, count):
    from likeness import media

    with media.read_frames(shared(name)) as reader:
        return [f.image for _, f in zip(range(count), reader)]


def test_video_copy_matches_at_other_frames_and_other_videos_do_not():
    frames = Watermarker(PUBLIC_KEY, video=True, secret_key=SECRET).embed_frames(_clip("ccby_tears_of_steel_10s.mp4", 48), RENDER_ID)
    fp = fingerprint(frames[::6])  # 8 evenly sampled frames, as the pipeline stores them
    copy = _h264(frames, 28)
    assert compare(fp, [copy[i] for i in (3, 17, 29, 44)]).matched  # not the stored indices
    other = probe(_clip("grid_bbaf2n.mpg", 40)[::10] + _clip("ccby_openmpf_video_01_multiface.mp4", 40)[::10])
    assert not compare(fp, other).matched


# ---- face regions: the render, not the photo it was made from ------------------------------------

MESH_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136,
             172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]


def _paste_face(target, t_face, donor, d_face):
    """Another person's face in the target's place, as a swap leaves it (mesh-aligned, Poisson-blended in the face oval)."""
    m, _ = cv2.estimateAffinePartial2D(np.ascontiguousarray(d_face.landmarks[:468, :2]), np.ascontiguousarray(t_face.landmarks[:468, :2]), method=cv2.LMEDS)
    h, w = target.shape[:2]
    warped = cv2.warpAffine(donor, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(t_face.landmarks[MESH_OVAL, :2].astype(np.int32)), 255)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(mask)
    centre = (int(xs.min() + xs.max() + 1) // 2, int(ys.min() + ys.max() + 1) // 2)
    return cv2.seamlessClone(warped[:, :, ::-1].copy(), target[:, :, ::-1].copy(), mask.copy(), centre, cv2.NORMAL_CLONE)[:, :, ::-1].copy()


@pytest.fixture(scope="module")
def swap(astronaut):
    """(source photo, marked render with the astronaut's face replaced by an SFHQ face, face box, its fingerprint)."""
    from likeness.faces import FaceAnalyzer

    donor = _read("syn_SFHQ_pt1_00000161.jpg")
    with FaceAnalyzer() as analyzer:
        (t_face,), (d_face,) = analyzer.detect(astronaut), analyzer.detect(donor)
    render = Watermarker(PUBLIC_KEY, secret_key=SECRET).embed(_paste_face(astronaut, t_face, donor, d_face), RENDER_ID)
    return astronaut, render, t_face.box, fingerprint([render], regions=[[t_face.box]])


ATTACKS = {
    "jpeg_q50_crop": lambda im: jpeg(crop_half_area(im, 0.0, 0.3), 50),
    "jpeg_q30": lambda im: jpeg(im, 30),
    "half_size_jpeg_q50": lambda im: jpeg(cv2.resize(im, (256, 256), interpolation=cv2.INTER_AREA), 50),
    "rotate_4_jpeg": lambda im: jpeg(_rotate(im, -4), 60),
    "grade": lambda im: np.clip((im.astype(np.float32) - 128) * 1.3 + 150, 0, 255).astype(np.uint8),
    "blur_noise_jpeg": lambda im: jpeg(np.clip(cv2.GaussianBlur(im, (0, 0), 1.0) + np.random.default_rng(0).normal(0, 5, im.shape), 0, 255).astype(np.uint8), 70),
}


@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
def test_render_matches_itself_with_its_face(swap, attack):
    _, render, _, fp = swap
    match = compare(fp, [attack(render)])
    assert match.matched and match.region_matched is True, match.detail
    assert match.region_score >= REGION_THRESHOLD
    assert "swapped face matches" in match.detail


@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
def test_source_photo_matches_but_its_face_does_not(swap, attack):
    """The forgery the regions are for: the photo the render was made from, with the render's public mark."""
    source, _, _, fp = swap
    forged = Watermarker(PUBLIC_KEY).embed(source, RENDER_ID)
    match = compare(fp, [attack(forged)])
    assert match.matched, match.detail  # the picture as a whole: the same photo
    assert match.region_matched is False, match.detail  # but not the render's face
    assert match.region_score < 0.5 and "does NOT match" in match.detail


def test_no_regions_means_region_matched_none(swap, render):
    source, swapped, _, with_faces = swap
    marked, fp = render
    match = compare(fp, [jpeg(marked, 50)])
    assert match.matched and match.region_matched is None and match.region_score == 0.0
    assert compare(fingerprint([swapped], regions=[[]]), [swapped]).region_matched is None  # an image without swapped faces
    other = compare(with_faces, [data.coffee()])  # faces stored, but the picture does not match: nothing to place them with
    assert not other.matched and other.region_matched is None


def test_face_out_of_view_is_not_checked(swap):
    _, render, (x, y, w, h), fp = swap
    below = render[y + h + 40 :]  # the lower part of the picture only: the face is gone
    match = compare(fp, [below])
    assert match.matched and match.region_matched is None, match.detail


def test_video_fingerprint_disagreeing_face_is_not_a_verdict(swap):
    """Frames of a video copy may show other moments: a face that disagrees there reads None, not False."""
    source, render, box, _ = swap
    fp = fingerprint([render, cv2.flip(render, 1)], regions=[[box], []])
    assert compare(fp, [render]).region_matched is True
    assert compare(fp, [source]).region_matched is None


def test_regions_round_trip_and_size(swap):
    _, render, _, fp = swap
    blob = fp.to_bytes()
    assert blob[4] == VERSION == 2 and len(blob) < 16 * 1024
    back = Fingerprint.from_bytes(blob)
    assert back == fp and back.to_bytes() == blob
    assert compare(back, [jpeg(render, 50)]).region_matched is True
    for cut in (blob[:-1], blob[:-40], blob + b"\0"):
        with pytest.raises(InputError):
            Fingerprint.from_bytes(cut)


def test_version_1_fingerprints_still_load(render):
    """Version 1 (no regions): the same layout without the per-image region count."""
    marked, fp = render
    v2 = fp.to_bytes()
    v1 = v2[:4] + b"\x01" + v2[5:-1]  # one image, zero regions: drop its region count byte
    old = Fingerprint.from_bytes(v1)
    assert old == fp and old.images[0].regions == ()
    match = compare(old, [jpeg(marked, 50)])
    assert match.matched and match.region_matched is None
    with pytest.raises(InputError):
        Fingerprint.from_bytes(v1 + b"\0")


def test_bad_regions_are_input_errors(astronaut):
    for regions in ([], [[(0, 0, 10, 10)]] * 2, [[(600, 600, 50, 50)]], [[(10, 10, 8, 8)]], [[("a", 1, 2, 3)]], [[(0, 0, 40, 40)] * 9]):
        with pytest.raises(InputError):
            fingerprint([astronaut], regions=regions)
