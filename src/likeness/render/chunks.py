"""A video render split by time: chunks cut at keyframes, and their face tracks joined again.

Each chunk is decoded from the keyframe before it and starts with ``lead_in`` frames of the
chunk before (analysed and swapped, not written), so the tracker's smoothing, the swap's
smoothing and any hold carry across the cut. Where the cut is also a scene cut the tracker
starts afresh at the same frame as it does on one machine, and the chunk's faces equal the
whole render's; elsewhere the lead-in brings them within a small, measured distance (see
tests/test_render_ray.py).

The driver joins the tracks of chunk ``k`` to those of the chunks before it by what they saw
in the overlap: a chunk's track takes the id of the earlier track whose boxes it overlaps
(IoU >= :data:`JOIN_IOU`) in most of the lead-in frames, one to one; other tracks get new ids.
Ids are given in order of first appearance, as the tracker gives them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from likeness.faces.detection import box_iou
from likeness.faces.types import Face
from likeness.media.segments import VideoIndex

JOIN_IOU = 0.5  # a chunk's lead-in face and the earlier chunk's face in the same frame are one track above this
NO_LANDMARKS = np.zeros((0, 3), np.float32)


@dataclass(frozen=True)
class Chunk:
    """Frames ``lead_from`` .. ``stop - 1`` are decoded; ``first`` .. ``stop - 1`` are this chunk's output."""

    number: int
    lead_from: int
    first: int
    stop: int

    @property
    def frames(self) -> int:
        return self.stop - self.first


@dataclass(frozen=True)
class ChunkFaces:
    """What a worker reports of a chunk's analysis: per decoded frame, its faces as outlines
    (no landmarks or embeddings: the driver plans with boxes and tracks), and the embeddings
    sampled per track of the chunk's own frames (for ``--reference``)."""

    number: int
    faces: list[list[Face]]
    embeddings: dict[int, list[Any]]


@dataclass(frozen=True)
class ChunkPlan:
    """What the driver sends back: the chunk's track ids -> the render's, and per decoded frame
    the render's tracks to swap (in order) and to hold."""

    tracks: dict[int, int]
    selected: list[list[int]]
    holds: list[list[int]]


def outline(face: Face) -> Face:
    """``face`` without its landmarks and embedding: a few dozen bytes instead of 6 kB."""
    return replace(face, landmarks=NO_LANDMARKS, embedding=None)


def chunk_length(frames: int, fps: float, *, workers: int, seconds: float, lead_in: int) -> int:
    """Frames per chunk: ``seconds`` of video, fewer when that would leave a worker idle, never under the lead-in."""
    wanted = round(seconds * (fps or 25.0))
    return max(lead_in, min(wanted, math.ceil(frames / max(1, workers))), 1)


def plan_chunks(index: VideoIndex | None, frames: int, length: int, lead_in: int) -> list[Chunk]:
    """Chunks of about ``length`` frames, each starting at a keyframe; one chunk when the video cannot be cut."""
    if index is None:
        return [Chunk(0, 0, 0, frames)]
    starts = [0]
    for keyframe in index.keyframes:
        if keyframe - starts[-1] >= length:
            starts.append(keyframe)
    bounds = [*starts, index.frames]
    return [Chunk(n, max(0, a - lead_in), a, b) for n, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def join_tracks(chunks: list[Chunk], reports: list[ChunkFaces]) -> tuple[list[list[Face]], list[dict[int, int]]]:
    """The whole target's faces (each frame from the chunk that owns it) with the render's track ids,
    and per chunk its track ids -> the render's."""
    joined: list[list[Face]] = []
    mappings: list[dict[int, int]] = []
    next_id = 1
    for chunk, report in zip(chunks, reports):
        lead = chunk.first - chunk.lead_from
        mapping = _overlap_matches(report.faces[:lead], joined[chunk.lead_from:chunk.first]) if lead else {}
        for faces in report.faces[lead:]:
            here = []
            for face in faces:
                if face.track not in mapping:
                    mapping[face.track], next_id = next_id, next_id + 1
                here.append(replace(face, track=mapping[face.track]))
            joined.append(here)
        mappings.append(mapping)
    return joined, mappings


def _overlap_matches(mine: list[list[Face]], theirs: list[list[Face]]) -> dict[int, int]:
    """One-to-one: each of this chunk's lead-in tracks -> the earlier track it overlapped most often."""
    votes: dict[int, Counter] = defaultdict(Counter)
    for here, there in zip(mine, theirs):
        for face in here:
            for other in there:
                if box_iou(face.box, other.box)[0] >= JOIN_IOU:
                    votes[face.track][other.track] += 1  # type: ignore[index]
    if not votes:
        return {}
    ours = sorted(votes)
    earlier = sorted({track for counts in votes.values() for track in counts})
    score = np.array([[votes[a][b] for b in earlier] for a in ours], dtype=float)
    rows, cols = linear_sum_assignment(-score)
    return {ours[r]: earlier[c] for r, c in zip(rows, cols) if score[r, c] > 0}


def merged_embeddings(reports: list[ChunkFaces], mappings: list[dict[int, int]], per_track: int) -> dict[int, list[Any]]:
    """Each render track's embedding samples, from its chunks in order, at most ``per_track``."""
    merged: dict[int, list[Any]] = defaultdict(list)
    for report, mapping in zip(reports, mappings):
        for track, samples in report.embeddings.items():
            if track in mapping:
                merged[mapping[track]].extend(samples)
    return {track: samples[:per_track] for track, samples in merged.items()}


def plan_for(chunk: Chunk, mapping: dict[int, int], selected: list[list[Face]], holds: list[list[int]]) -> ChunkPlan:
    """The part of the whole target's plan a chunk's worker needs (its lead-in frames included)."""
    frames = range(chunk.lead_from, chunk.stop)
    return ChunkPlan(dict(mapping), [[f.track for f in selected[i]] for i in frames], [list(holds[i]) for i in frames])  # type: ignore[misc]
