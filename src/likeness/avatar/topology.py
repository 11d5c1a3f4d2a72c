"""The face surface's triangles and its four rims, read off mediapipe's tessellation edges.

mediapipe ships the mesh as 1322 edges over its 468 surface points (the 10 iris points are not
part of it). Every triangle of the surface is a 3-cycle of those edges; two 3-cycles are not
faces (each is a ring of three faces round a point of degree three, so all its edges already
border two faces) and are dropped, which leaves the 852 triangles a disk with three holes has
(V - E + F = 2 - 4). The edges bordering a single triangle form the four rims: the face oval,
the inner lips and the two eye openings. The triangles are wound counter-clockwise as seen
from in front of the face, which is what glTF expects of a front face.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

SURFACE_POINTS = 468  # mesh points; 468..477 are the iris centres and rings
RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE = 468, 473  # the subject's right iris is on the image's left
RIGHT_IRIS_RING, LEFT_IRIS_RING = (469, 470, 471, 472), (474, 475, 476, 477)
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 263, 33  # points that name which eye rim is which
UPPER_LIP_MIDDLE = 13  # on the inner lip rim


@dataclass(frozen=True)
class Topology:
    """Triangles (T, 3) of the surface, counter-clockwise from the front, and its rims as ordered loops."""

    triangles: NDArray[np.int32]
    oval: tuple[int, ...]
    lips: tuple[int, ...]  # inner lip rim: the mouth opening
    left_eye: tuple[int, ...]  # the subject's left eye opening
    right_eye: tuple[int, ...]


def _edges() -> set[tuple[int, int]]:
    from likeness.faces.mediapipe_loader import solutions

    return {tuple(sorted(edge)) for edge in solutions().face_mesh_connections.FACEMESH_TESSELATION}  # type: ignore[misc]


def _faces(edges: set[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The 3-cycles of ``edges`` that are faces of the surface."""
    around: dict[int, set[int]] = {}
    for a, b in edges:
        around.setdefault(a, set()).add(b)
        around.setdefault(b, set()).add(a)
    cycles = {tuple(sorted((a, b, c))) for a, b in edges for c in around[a] & around[b]}
    uses = Counter(edge for t in cycles for edge in _sides(t))
    # A ring of three faces round a degree-three point closes a 3-cycle whose every edge is then used three times.
    return sorted(t for t in cycles if not all(uses[edge] == 3 for edge in _sides(t)))  # type: ignore[misc]


def _sides(t: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    a, b, c = t
    return tuple(tuple(sorted(pair)) for pair in ((a, b), (b, c), (a, c)))  # type: ignore[return-value]


def _wound(faces: list[tuple[int, int, int]]) -> NDArray[np.int32]:
    """The faces wound alike: each triangle's shared edges run the other way in its neighbour."""
    by_edge: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(faces):
        for edge in _sides(t):
            by_edge.setdefault(edge, []).append(i)
    wound: dict[int, tuple[int, int, int]] = {}
    for start in range(len(faces)):
        if start in wound:
            continue
        wound[start] = faces[start]
        todo = [start]
        while todo:
            i = todo.pop()
            a, b, c = wound[i]
            for u, v in ((a, b), (b, c), (c, a)):
                for j in by_edge[tuple(sorted((u, v)))]:
                    if j in wound:
                        continue
                    p, q, r = faces[j]
                    # The neighbour must hold the shared edge as v -> u.
                    cycle = [(p, q, r), (q, r, p), (r, p, q)]
                    wound[j] = next(((x, y, z) for x, y, z in cycle if (x, y) == (v, u)), (p, r, q))
                    todo.append(j)
    return np.array([wound[i] for i in range(len(faces))], np.int32)


def _loops(triangles: NDArray[np.int32]) -> list[tuple[int, ...]]:
    """The rims: edges of one triangle only, chained into closed loops."""
    uses = Counter(edge for t in triangles.tolist() for edge in _sides(tuple(t)))
    nexts: dict[int, list[int]] = {}
    for a, b in (edge for edge, n in uses.items() if n == 1):
        nexts.setdefault(a, []).append(b)
        nexts.setdefault(b, []).append(a)
    loops, seen = [], set()
    for start in sorted(nexts):
        if start in seen:
            continue
        loop, previous, point = [start], None, start
        seen.add(start)
        while True:
            step = next(p for p in nexts[point] if p != previous)
            if step == start:
                break
            loop.append(step)
            seen.add(step)
            previous, point = point, step
        loops.append(tuple(loop))
    return loops


@cache
def topology() -> Topology:
    """The triangles and rims (built once per process; the arrays are read-only)."""
    from likeness.avatar.canonical import CANONICAL

    triangles = _wound(_faces(_edges()))
    p = CANONICAL
    normals = np.cross(p[triangles[:, 1]] - p[triangles[:, 0]], p[triangles[:, 2]] - p[triangles[:, 0]])
    if normals[:, 2].sum() < 0:  # the winding is consistent; make it face the viewer (+Z)
        triangles = np.ascontiguousarray(triangles[:, ::-1])
    loops = sorted(_loops(triangles), key=len, reverse=True)
    lips = next(loop for loop in loops if UPPER_LIP_MIDDLE in loop)
    left_eye = next(loop for loop in loops if LEFT_EYE_OUTER in loop)
    right_eye = next(loop for loop in loops if RIGHT_EYE_OUTER in loop)
    triangles.setflags(write=False)
    return Topology(triangles, loops[0], lips, left_eye, right_eye)
