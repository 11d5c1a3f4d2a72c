"""Which faces of the target get swapped.

The choice is made once for the whole video from the tracks, not frame by frame, so the swap
does not jump between people when two faces are about the same size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from likeness.errors import InputError
from likeness.faces.types import Embedding, Face
from likeness.render.job import FaceSpec

FrameFaces = Sequence[Sequence[Face]]  # faces per frame, in frame order, each with a .track


def track_sizes(frames: FrameFaces) -> dict[int, float]:
    """Total face area per track: big and long-lived faces rank first."""
    sizes: dict[int, float] = defaultdict(float)
    for faces in frames:
        for face in faces:
            sizes[face.track] += float(face.box[2] * face.box[3])  # type: ignore[index]
    return dict(sizes)


def rank_tracks(frames: FrameFaces) -> list[int]:
    """Track ids, largest first."""
    sizes = track_sizes(frames)
    return sorted(sizes, key=lambda t: (-sizes[t], t))


def nearest_track(track_embeddings: Mapping[int, Sequence[Embedding]], reference: Embedding) -> int | None:
    """The track whose mean embedding is nearest ``reference`` (Euclidean, dlib's metric)."""
    best, best_distance = None, float("inf")
    for track, embeddings in track_embeddings.items():
        if not len(embeddings):
            continue
        mean = np.mean(np.stack(embeddings), axis=0)
        distance = float(np.linalg.norm(mean - reference))
        if distance < best_distance:
            best, best_distance = track, distance
    return best


def select_faces(
    frames: FrameFaces,
    spec: FaceSpec,
    *,
    chosen_track: int | None = None,
    ranking: Sequence[int] | None = None,
) -> list[list[Face]]:
    """The faces to swap in each frame.

    ``"largest"``: in each frame, the face whose track is largest over the whole target (one face
    per frame). ``"all"``: every face. An int: the track of that rank (0 = largest).
    ``chosen_track`` (from a reference photo) overrides ``spec``. ``ranking`` (tracks, largest
    first) replaces the ranking of ``frames`` when they are only a window of the target.
    """
    if chosen_track is not None:
        return [[f for f in faces if f.track == chosen_track] for faces in frames]
    if spec == "all":
        return [list(faces) for faces in frames]
    ranking = rank_tracks(frames) if ranking is None else list(ranking)
    if spec == "largest":
        order = {track: rank for rank, track in enumerate(ranking)}
        return [[min(faces, key=lambda f: order[f.track])] if faces else [] for faces in frames]
    if spec >= len(ranking):  # type: ignore[operator]
        raise InputError(f"--face {spec}: the target has only {len(ranking)} face track(s) (0..{len(ranking) - 1})")
    track = ranking[spec]  # type: ignore[index]
    return [[f for f in faces if f.track == track] for faces in frames]


def hold_plan(frames: FrameFaces, selected: FrameFaces, max_gap: int) -> list[list[int]]:
    """Per frame, the selected tracks that are missing there but seen again within ``max_gap``.

    Those frames keep the track's last good swap instead of popping back to the original face;
    a track that never comes back (a cut, the person left) is not held.
    """
    seen: dict[int, list[int]] = defaultdict(list)
    for index, faces in enumerate(selected):
        for face in faces:
            seen[face.track].append(index)  # type: ignore[index]
    plan: list[list[int]] = [[] for _ in frames]
    for track, indices in seen.items():
        for before, after in zip(indices, indices[1:]):
            if 1 < after - before <= max_gap + 1:
                for index in range(before + 1, after):
                    plan[index].append(track)
    return plan


def plan_swaps(
    frames: FrameFaces, spec: FaceSpec, *, chosen_track: int | None = None, max_gap: int = 6,
    ranking: Sequence[int] | None = None,
) -> tuple[list[list[Face]], list[list[int]]]:
    """Faces to swap and tracks to hold, per frame.

    With ``"largest"``, a frame where the main track is only briefly lost holds the main face's
    swap and leaves the smaller face alone, so the swap never hops to someone else for a frame.
    A frame's plan depends only on the frames within ``max_gap + 1`` of it and on the ranking,
    so a window of frames with the whole target's ranking plans its middle frames exactly.
    """
    selected = select_faces(frames, spec, chosen_track=chosen_track, ranking=ranking)
    holds = hold_plan(frames, selected, max_gap)
    if spec == "largest" and chosen_track is None:
        ranked = rank_tracks(frames) if ranking is None else ranking
        order = {track: rank for rank, track in enumerate(ranked)}
        for index, held in enumerate(holds):
            if held:
                top = min(order[t] for t in held)
                selected[index] = [f for f in selected[index] if order[f.track] < top]
                holds[index] = [t for t in held if order[t] == top]
    return selected, holds
