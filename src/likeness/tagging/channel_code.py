"""Error correction for the watermark payload: a K=7, rate-1/2 convolutional code, soft Viterbi.

The watermark reads back as soft values (a signed correlation per coded bit); the Viterbi
decoder uses them directly, which is worth several dB over hard repetition voting. The code is
the NASA/CCSDS one (generators 171, 133 octal), terminated with six zero tail bits.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

CONSTRAINT = 7
_G = (0o171, 0o133)
_STATES = 1 << (CONSTRAINT - 1)


def _tables() -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """next_state[s, b] and output signs[s, b, 2] (+1 for a coded 1, -1 for a 0)."""
    nxt = np.zeros((_STATES, 2), np.int64)
    out = np.zeros((_STATES, 2, 2), np.float32)
    for s in range(_STATES):
        for b in range(2):
            reg = (b << (CONSTRAINT - 1)) | s  # newest bit in the top position
            for j, g in enumerate(_G):
                out[s, b, j] = 1.0 if bin(reg & g).count("1") % 2 else -1.0
            nxt[s, b] = reg >> 1
    return nxt, out


_NEXT, _OUT = _tables()  # constant lookup tables, never mutated


def encode(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Coded bits (2 per input bit, including the 6 tail bits) for ``bits`` (0/1)."""
    state = 0
    coded = []
    for b in list(bits) + [0] * (CONSTRAINT - 1):
        signs = _OUT[state, int(b)]
        coded.extend(int(x > 0) for x in signs)
        state = int(_NEXT[state, int(b)])
    return np.asarray(coded, np.uint8)


def coded_length(n_bits: int) -> int:
    return 2 * (n_bits + CONSTRAINT - 1)


def decode(soft: NDArray[np.floating], n_bits: int) -> NDArray[np.uint8]:
    """Maximum-likelihood bits from soft values (positive means a coded 1), tail terminated."""
    steps = n_bits + CONSTRAINT - 1
    soft = np.asarray(soft, np.float32).reshape(steps, 2)
    metric = np.full(_STATES, -np.inf, np.float32)
    metric[0] = 0.0
    back_state = np.zeros((steps, _STATES), np.int64)
    back_bit = np.zeros((steps, _STATES), np.uint8)
    src = np.repeat(np.arange(_STATES), 2)
    bit = np.tile(np.array([0, 1]), _STATES)
    dst = _NEXT[src, bit]
    for t in range(steps):
        cand = metric[src] + _OUT[src, bit] @ soft[t]
        if t >= n_bits:  # tail: only zero inputs
            cand = np.where(bit == 0, cand, -np.inf)
        order = np.argsort(cand, kind="stable")  # last write wins: keep the best per destination
        new = np.full(_STATES, -np.inf, np.float32)
        new[dst[order]] = cand[order]
        back_state[t, dst[order]] = src[order]
        back_bit[t, dst[order]] = bit[order]
        metric = new
    state = 0
    out = np.zeros(steps, np.uint8)
    for t in range(steps - 1, -1, -1):
        out[t] = back_bit[t, state]
        state = back_state[t, state]
    return out[:n_bits]
