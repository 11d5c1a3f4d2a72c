"""The pieces of a cluster render that need no cluster: chunks cut at keyframes, tracks joined
across the cuts, and the seal that talent data crosses the cluster under."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from likeness.faces.types import Face, Pose
from likeness.media.segments import VideoIndex
from likeness.render.chunks import Chunk, ChunkFaces, chunk_length, join_tracks, merged_embeddings, plan_chunks, plan_for
from likeness.render.sealing import RenderKey, SealError, WorkerKey


def _index(frames: int, keyframes: list[int]) -> VideoIndex:
    return VideoIndex(tuple(range(0, frames * 10, 10)), tuple(keyframes), Fraction(1, 250))


def test_chunks_start_at_keyframes_and_lead_in_from_the_chunk_before():
    chunks = plan_chunks(_index(100, [0, 12, 24, 36, 48, 60, 72, 84, 96]), 100, 30, 10)
    assert [(c.lead_from, c.first, c.stop) for c in chunks] == [(0, 0, 36), (26, 36, 72), (62, 72, 100)]
    assert sum(c.frames for c in chunks) == 100
    assert plan_chunks(None, 100, 30, 10) == [Chunk(0, 0, 0, 100)]  # a video that cannot be cut is one chunk


def test_chunk_length_keeps_every_worker_busy_but_never_goes_under_the_lead_in():
    assert chunk_length(90_000, 25, workers=10, seconds=20, lead_in=25) == 500
    assert chunk_length(300, 25, workers=10, seconds=20, lead_in=25) == 30
    assert chunk_length(100, 25, workers=10, seconds=20, lead_in=25) == 25


def _face(track: int, x: int, y: int = 0) -> Face:
    return Face(box=(x, y, 100, 100), score=1.0, landmarks=np.zeros((0, 3), np.float32), pose=Pose(0, 0, 0), track=track)


def test_tracks_are_joined_across_a_cut_by_their_overlap_and_new_ones_numbered_on():
    chunks = [Chunk(0, 0, 0, 4), Chunk(1, 2, 4, 7)]
    # Chunk 0: a face at x=0 (its track 1) throughout, a face at x=500 (track 2) in its last two frames.
    first = ChunkFaces(0, [[_face(1, 0)], [_face(1, 0)], [_face(1, 2), _face(2, 500)], [_face(1, 4), _face(2, 503)]], {})
    # Chunk 1 numbers them the other way round, and a third face appears in its own frames.
    second = ChunkFaces(1, [[_face(7, 505), _face(8, 1)], [_face(7, 505), _face(8, 5)],
                            [_face(8, 6)], [_face(8, 7), _face(9, 900)], [_face(8, 8)]], {8: ["e8"], 9: ["e9"]})
    joined, mappings = join_tracks(chunks, [first, second])
    assert mappings == [{1: 1, 2: 2}, {7: 2, 8: 1, 9: 3}]
    assert [[f.track for f in frame] for frame in joined] == [[1], [1], [1, 2], [1, 2], [1], [1, 3], [1]]
    assert merged_embeddings([first, second], mappings, 8) == {1: ["e8"], 3: ["e9"]}
    plan = plan_for(chunks[1], mappings[1], joined, [[] for _ in joined])  # the plan "swap every face", lead-in included
    assert plan.tracks == mappings[1] and plan.selected == [[1, 2], [1, 2], [1], [1, 3], [1]] and len(plan.holds) == 5


def test_the_render_key_opens_only_what_it_sealed_as_what_it_was_sealed_as():
    key, other = RenderKey.generate(), RenderKey.generate()
    sealed = key.seal({"crop": np.arange(12, dtype=np.uint8)}, "bundle")
    assert np.array_equal(key.open(sealed, "bundle")["crop"], np.arange(12))
    assert np.arange(12, dtype=np.uint8).tobytes() not in sealed
    with pytest.raises(SealError):
        key.open(sealed, "plan 0")  # a sealed value cannot be passed off as another
    with pytest.raises(SealError):
        other.open(sealed, "bundle")


def test_the_render_key_reaches_only_the_worker_it_was_wrapped_for():
    key, worker, stranger = RenderKey.generate(), WorkerKey(), WorkerKey()
    wrapped = key.wrap_for(worker.public)
    assert worker.unwrap(wrapped).open(key.seal(b"weights", "bundle"), "bundle") == b"weights"
    assert key._key not in wrapped
    with pytest.raises(SealError):
        stranger.unwrap(wrapped)
