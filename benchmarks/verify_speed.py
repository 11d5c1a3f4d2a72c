"""`verify` time on a 10 s 720p clip (marked, CRF 23). Run: .venv/bin/python benchmarks/verify_speed.py
Noisy while other work loads the CPU."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

from likeness.tagging import Watermarker, verify


def main() -> None:
    wm = Watermarker()
    base = cv2.resize(data.astronaut(), (1280, 720))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=25, options={"crf": "23"})
            stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
            for i in range(250):
                frame = wm.embed(np.roll(base, i * 2, axis=1), 0xC0FFEE)
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        t = time.perf_counter()
        v = verify(path)
        print(f"verify on 10 s 720p (250 frames): {time.perf_counter() - t:.2f} s, verdict {v.verdict}, render {v.watermark.payload}")


if __name__ == "__main__":
    main()
