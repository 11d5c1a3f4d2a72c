"""The visible label: tall enough to read, never over a face, on schedule in video."""

from __future__ import annotations

import numpy as np

from likeness.tagging import LabelSchedule, label_box, visible_label


def test_label_is_at_least_five_percent_of_short_side_and_avoids_the_face(astronaut):
    face = (150, 40, 170, 190)  # Eileen Collins' face in the astronaut portrait
    x, y, w, h = label_box(astronaut.shape, [face])
    assert h >= 0.05 * min(astronaut.shape[:2])
    assert x + w <= face[0] or x >= face[0] + face[2] or y + h <= face[1] or y >= face[1] + face[3]
    out = visible_label(astronaut, [face])
    assert np.array_equal(out[face[1] : face[1] + face[3], face[0] : face[0] + face[2]], astronaut[face[1] : face[1] + face[3], face[0] : face[0] + face[2]])
    plate = out[y : y + h, x : x + w].astype(int)
    assert (plate.min(axis=2) > 200).mean() > 0.05  # white text drawn
    assert not np.array_equal(out, astronaut)


def test_label_moves_when_the_face_is_in_the_bottom_left():
    image = np.full((400, 600, 3), 128, np.uint8)
    x, y, w, h = label_box(image.shape, [(0, 250, 300, 150)])
    assert not (x < 300 and y + h > 250)


def test_video_schedule_shows_first_two_seconds_then_intervals():
    schedule = LabelSchedule(lead=2.0, every=10.0, show=2.0)
    assert all(schedule.visible_at(t) for t in (0.0, 1.0, 1.99))
    assert not schedule.visible_at(5.0)
    assert schedule.visible_at(12.5) and not schedule.visible_at(15.0)
