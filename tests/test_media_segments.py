"""A video cut at its keyframes and joined again: each piece decodes on its own with the frame
indices and times of the whole file, and pieces joined by stream copy equal one whole encode."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from likeness import media
from likeness.media.errors import MediaError
from tests.conftest import shared


@pytest.mark.parametrize("name", ["grid_bbaf2n.mpg", "ccby_tears_of_steel_10s.mp4"])
def test_a_range_of_frames_decodes_alone_with_its_place_in_the_whole(name):
    target = shared(name)
    index = media.video_index(target)
    whole = list(media.read_frames(target))
    assert index.frames == len(whole) and index.keyframes[0] == 0
    for first, stop in [(0, 10), (index.keyframes[1] + 3, index.keyframes[1] + 20), (index.frames - 5, None)]:
        part = list(media.read_frames(target, first=first, stop=stop, index=index))
        expected = whole[first:stop]
        assert [f.index for f in part] == [f.index for f in expected]
        assert [f.time for f in part] == pytest.approx([f.time for f in expected], abs=1e-9)
        assert all(np.array_equal(a.image, b.image) for a, b in zip(part, expected))


def _encoded(frames, info, **kw) -> bytes:
    buffer = io.BytesIO()
    with media.VideoWriter(buffer, width=info.width, height=info.height, fps=info.fps, crf=0, **kw) as writer:
        for frame in frames:
            writer.write(frame.image, time=frame.time)
    return buffer.getvalue()


def _audio(path):
    with av.open(str(path)) as container:
        return [(p.pts, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size]


def test_pieces_joined_by_copy_equal_one_encode_with_the_audio_copied_once(tmp_path):
    target = shared("grid_bbaf2n.mpg")
    info, frames = media.probe(target), list(media.read_frames(target))
    joined, whole = tmp_path / "joined.mp4", tmp_path / "whole.mp4"
    assert media.join_video([_encoded(frames[:36], info), _encoded(frames[36:], info)], joined, audio_from=target) == len(frames)
    with media.VideoWriter(whole, width=info.width, height=info.height, fps=info.fps, crf=0, audio_from=target) as writer:
        for frame in frames:
            writer.write(frame.image, time=frame.time)
    a, b = list(media.read_frames(joined)), list(media.read_frames(whole))
    assert len(a) == len(b) == len(frames)
    assert all(np.array_equal(x.image, y.image) and x.time == y.time for x, y in zip(a, b))  # lossless: the same pictures
    assert _audio(joined) == _audio(whole) and len(_audio(joined)) > 0


def test_pieces_in_the_wrong_order_or_encoded_apart_are_refused(tmp_path):
    target = shared("grid_bbaf2n.mpg")
    info, frames = media.probe(target), list(media.read_frames(target))[:20]
    first, second = _encoded(frames[:10], info), _encoded(frames[10:], info)
    with pytest.raises(MediaError, match="overlaps"):
        media.join_video([second, first], tmp_path / "a.mp4")
    other = io.BytesIO()
    with media.VideoWriter(other, width=info.width, height=info.height, fps=info.fps, crf=30, preset="ultrafast") as writer:
        for frame in frames[10:]:
            writer.write(frame.image, time=frame.time)
    with pytest.raises(MediaError, match="other settings"):
        media.join_video([first, other.getvalue()], tmp_path / "b.mp4")
