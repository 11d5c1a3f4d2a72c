"""Compositing: colour modes, blend modes, full-frame patches, smoothing over time, registry."""

from __future__ import annotations

import numpy as np
import pytest

from likeness.errors import InputError
from likeness.faces import FaceAnalyzer
from likeness.swap import (COLOUR_MODES, BLEND_MODES, Faceset, FacesetItem, Patch,
                           TemporalSmoother, composite, engine_names, make_engine, register_engine)
from likeness.swap.retrieval import RetrievalEngine


@pytest.fixture(scope="module")
def astronaut_swap(astronaut):
    """The astronaut's own face (from her mirror image) swapped onto her: a patch to composite."""
    with FaceAnalyzer() as analyzer:
        mirror = np.ascontiguousarray(astronaut[:, ::-1])
        source = analyzer.detect(mirror)[0]
        item = FacesetItem(mirror, source.landmarks, source.pose, None, None)
        engine = RetrievalEngine()
        engine.prepare(Faceset("mirror", (item,)))
        face = analyzer.detect(astronaut)[0]
        return engine.swap(astronaut, face)


@pytest.mark.parametrize("colour", COLOUR_MODES)
@pytest.mark.parametrize("blend", BLEND_MODES)
def test_every_colour_and_blend_mode_changes_only_the_face(astronaut, astronaut_swap, colour, blend):
    patch = astronaut_swap
    out = composite(astronaut, patch, colour=colour, blend=blend)
    changed = np.any(out != astronaut, axis=2)
    allowed = np.zeros_like(changed)
    x, y, w, h = patch.box
    allowed[y:y + h, x:x + w] = patch.support
    assert changed[patch.full_mask(astronaut.shape) > 0.9].mean() > 0.3
    assert not changed[~allowed].any()


def test_colour_transfer_moves_the_face_toward_the_target_skin(astronaut, astronaut_swap):
    # A blue-tinted source face: Reinhard and histogram matching bring it back to her skin tone.
    tinted = astronaut_swap.image.copy()
    tinted[..., 2] = np.clip(tinted[..., 2].astype(int) + 60, 0, 255)
    patch = Patch(tinted, astronaut_swap.mask, astronaut_swap.x, astronaut_swap.y,
                  astronaut_swap.backdrop, astronaut_swap.support)
    core = patch.full_mask(astronaut.shape) > 0.9
    blue_excess = lambda image: float(image[core][:, 2].mean() - astronaut[core][:, 2].mean())  # noqa: E731
    untouched = blue_excess(composite(astronaut, patch, colour="none", relight=False))
    assert untouched > 30
    for colour in ("reinhard", "histogram"):
        assert abs(blue_excess(composite(astronaut, patch, colour=colour))) < untouched / 3


def test_full_frame_patch_and_mask_are_accepted(astronaut, astronaut_swap):
    patch = astronaut_swap
    full = astronaut.copy()
    x, y, w, h = patch.box
    full[y:y + h, x:x + w] = patch.image
    out = composite(astronaut, full, patch.full_mask(astronaut.shape))
    assert out.shape == astronaut.shape and not np.array_equal(out, astronaut)
    with pytest.raises(InputError, match="frame-sized"):
        composite(astronaut, full)
    with pytest.raises(InputError, match="colour mode"):
        composite(astronaut, patch, colour="sepia")


def test_smoother_damps_a_colour_jump_between_frames(astronaut, astronaut_swap):
    # The target's face brightens for one frame (a flash, an auto-exposure step): the plain
    # colour transfer follows at once, the smoothed one only partly.
    patch = astronaut_swap
    core = patch.full_mask(astronaut.shape) > 0.9
    flash = astronaut.copy()
    flash[core] = np.clip(flash[core].astype(int) + 25, 0, 255)
    flash_patch = Patch(patch.image, patch.mask, patch.x, patch.y,
                        flash[patch.y:patch.y + patch.mask.shape[0], patch.x:patch.x + patch.mask.shape[1]],
                        patch.support)
    smoother = TemporalSmoother(keep=0.8)
    first = composite(astronaut, patch, relight=False, smoother=smoother, track=1)
    smoothed = composite(flash, flash_patch, relight=False, smoother=smoother, track=1)
    plain = composite(flash, flash_patch, relight=False)
    jump_plain = float(plain[core].mean()) - float(first[core].mean())
    jump_smoothed = float(smoothed[core].mean()) - float(first[core].mean())
    assert jump_plain > 15
    assert jump_smoothed < jump_plain / 2
    smoother.remember(1, patch)
    assert smoother.last(1) is patch and smoother.last(2) is None


def test_registry_names_engines_and_refuses_unknown_ones():
    assert {"retrieval", "onnx", "autoencoder"} <= set(engine_names())
    assert make_engine("retrieval", k=2).k == 2
    with pytest.raises(InputError, match="unknown swap engine 'deepfake'.*retrieval"):
        make_engine("deepfake")
    register_engine("test-mirror", RetrievalEngine)
    assert "test-mirror" in engine_names()
    assert make_engine("test-mirror").name == "retrieval"
