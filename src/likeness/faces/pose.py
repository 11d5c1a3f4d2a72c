"""Head pose from the geometry of the 478-point mesh.

mediapipe 0.10.21 does not ship its canonical face model as a file, so instead of solvePnP we read
the head's axes straight off the mesh: the eye line gives the x axis, forehead-to-chin the y axis,
and their cross product the direction the face looks away from. The mesh z is in the same pixel
units as x and y, so the axes are metric enough for angles to within a few degrees.
"""

from __future__ import annotations

import math

import numpy as np

from likeness.faces.types import Landmarks, Pose

# mediapipe mesh indices
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the subject's right eye is on the image's left
FOREHEAD, CHIN = 10, 152
# On the mesh, the forehead-to-chin line of a level face leans back by about 8 degrees (measured
# on the frontal SFHQ portraits in ../shared/media); pitch is reported relative to level.
PITCH_OFFSET = 8.0


def head_axes(landmarks: Landmarks) -> np.ndarray:
    """3x3 matrix whose columns are the head's x (to its left eye), y (down), z (back of head)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    ex = pts[LEFT_EYE_OUTER] - pts[RIGHT_EYE_OUTER]
    ex /= np.linalg.norm(ex) + 1e-9
    down = pts[CHIN] - pts[FOREHEAD]
    ey = down - (down @ ex) * ex
    ey /= np.linalg.norm(ey) + 1e-9
    ez = np.cross(ex, ey)
    return np.stack([ex, ey, ez], axis=1)


def head_pose(landmarks: Landmarks) -> Pose:
    """Yaw, pitch, roll in degrees.

    Signs: yaw > 0 when the nose points to the image's right, pitch > 0 when the face looks up,
    roll > 0 when the eye line turns clockwise on screen. A mirrored face has the opposite yaw
    and roll.
    """
    axes = head_axes(landmarks)
    ex, ez = axes[:, 0], axes[:, 2]
    # ez points from the face into the screen; the nose points along -ez.
    yaw = math.degrees(math.atan2(-ez[0], ez[2]))
    pitch = math.degrees(math.atan2(ez[1], math.hypot(ez[0], ez[2]))) + PITCH_OFFSET
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    return Pose(yaw=round(yaw, 2), pitch=round(pitch, 2), roll=round(roll, 2))
