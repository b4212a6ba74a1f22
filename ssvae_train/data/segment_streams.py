"""Labelled streams made of windows placed end to end, in segments of one class at a time.

UCI-HAR (and any windowed data set) has windows, not recordings. A stream for testing alerts puts windows
of one class one after the other for a while, then another class, so it reads like a person going from
one activity to the next. The same builder makes the test streams `tools/eval_alerts.py` measures on
(`tools/har_streams.py`, test windows) and the calibration streams the alert operating point is fitted on
(`ssvae_train/export/alert_point.py`, training-split windows only): what is calibrated is what is measured.
"""

from __future__ import annotations

import numpy as np


def segment_order(y: np.ndarray, n_classes: int, n_windows: int, seed: int) -> list[int]:
    """Window indices for a stream: contiguous segments of one activity, every activity at least once.

    Segments take consecutive indices of one label (UCI-HAR stores its windows recording by recording, so
    neighbours of the same label come from the same person and session); no window is used twice unless
    a class has fewer windows than its segments need.
    """
    rng = np.random.default_rng(seed)
    n_seg = max(n_classes, min(2 * n_classes, n_windows // 8))
    order: list[int] = []
    while len(order) < n_seg:
        perm = [int(c) for c in rng.permutation(n_classes)]
        if order and perm[0] == order[-1]:
            perm.append(perm.pop(0))
        order += perm
    order = order[:n_seg]
    sizes = np.full(n_seg, n_windows // n_seg)
    sizes[: n_windows % n_seg] += 1
    # Blocks of consecutive indices sharing a label, per label.
    blocks: dict[int, list[list[int]]] = {c: [] for c in range(n_classes)}
    start = 0
    for i in range(1, len(y) + 1):
        if i == len(y) or y[i] != y[start]:
            blocks[int(y[start])].append(list(range(start, i)))
            start = i
    for c in blocks:
        if not blocks[c]:
            raise ValueError(f"there is no window of class {c}")
        rng.shuffle(blocks[c])  # type: ignore[arg-type]
    used: set[int] = set()
    picked: list[int] = []
    for c, size in zip(order, sizes, strict=True):
        free = [i for b in blocks[c] for i in b if i not in used]
        if len(free) < size:
            free += [i for b in blocks[c] for i in b]  # a small data set: allow re-use rather than fail
        seg = free[:size]
        used.update(seg)
        picked += seg
    return picked
