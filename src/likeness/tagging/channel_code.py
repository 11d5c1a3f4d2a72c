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
_HALF = _STATES // 2


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
# Butterfly: state d is reached from (d mod 32) * 2 + {0, 1} with input bit d >> 5.
_DST = np.arange(_STATES)
_BIT = _DST >> (CONSTRAINT - 2)
_PRED = np.stack([(_DST % _HALF) * 2, (_DST % _HALF) * 2 + 1])  # (2, states)
_PRED_OUT = np.stack([_OUT[_PRED[0], _BIT], _OUT[_PRED[1], _BIT]])  # (2, states, 2)


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
    """Maximum-likelihood bits from soft values (positive means a coded 1), tail terminated.

    Add-compare-select over the butterfly, vectorised across the 64 states (a detect call may
    decode several candidates, so this runs in well under a millisecond).
    """
    steps = n_bits + CONSTRAINT - 1
    soft = np.asarray(soft, np.float64).reshape(steps, 2)
    branch = _PRED_OUT.astype(np.float64) @ soft.T  # (2, states, steps)
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    choice = np.zeros((steps, _STATES), bool)
    tail = _BIT == 1
    for t in range(steps):
        c0 = metric[_PRED[0]] + branch[0, :, t]
        c1 = metric[_PRED[1]] + branch[1, :, t]
        pick = c1 > c0
        metric = np.where(pick, c1, c0)
        if t >= n_bits:  # tail: only zero inputs
            metric[tail] = -np.inf
        choice[t] = pick
    state = 0
    out = np.zeros(steps, np.uint8)
    for t in range(steps - 1, -1, -1):
        out[t] = _BIT[state]
        state = int(_PRED[int(choice[t, state]), state])
    return out[:n_bits]
