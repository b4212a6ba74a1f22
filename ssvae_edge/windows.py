"""Where windows come from: the fixed-size ring buffer a live stream is cut from (`RingBuffer`, used by
`stream.StreamScorer`), and the complete windows of a recording already in memory (`cut_windows`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ssvae_edge.errors import InputError


class RingBuffer:
    """Fixed-capacity store of the most recent samples (and timestamps), addressed by absolute index.

    Memory is allocated once; a stream of any length reuses it, which is what a device with a few MB
    of RAM needs. `start` is the absolute index of the oldest sample kept, `end` one past the newest.
    """

    def __init__(self, capacity: int, channels: int):
        self.data = np.zeros((capacity, channels), dtype=np.float32)
        self.times = np.zeros(capacity, dtype=np.float64)
        self.start = 0
        self.end = 0

    @property
    def capacity(self) -> int:
        return len(self.data)

    def __len__(self) -> int:
        return self.end - self.start

    @property
    def free(self) -> int:
        return self.capacity - len(self)

    def push(self, samples: np.ndarray, times: np.ndarray | None = None) -> None:
        """Append samples; the caller makes room first (`drop_until`), nothing is overwritten silently."""
        n = len(samples)
        if n > self.free:
            raise ValueError(f"ring buffer overflow: {n} samples, {self.free} free")
        cap = self.capacity
        i = self.end % cap
        first = min(n, cap - i)
        self.data[i:i + first] = samples[:first]
        self.data[:n - first] = samples[first:]
        if times is not None:
            self.times[i:i + first] = times[:first]
            self.times[:n - first] = times[first:]
        self.end += n

    def gather(self, starts: np.ndarray, length: int) -> np.ndarray:
        """Copies of the windows starting at absolute indices `starts`: float32 [len(starts), length, C]."""
        starts = np.asarray(starts, dtype=np.int64)
        if len(starts) and (starts.min() < self.start or starts.max() + length > self.end):
            raise ValueError("window outside the samples held in the ring buffer")
        idx = (starts[:, None] + np.arange(length)[None, :]) % self.capacity
        return self.data[idx]

    def time_at(self, index: int) -> float:
        if not self.start <= index < self.end:
            raise ValueError("sample outside the ring buffer")
        return float(self.times[index % self.capacity])

    def drop_until(self, index: int) -> None:
        """Forget samples before absolute `index` (all of them if `index` is past the end)."""
        self.start = min(max(self.start, index), self.end)

    def skip(self, n: int) -> None:
        """Let `n` samples pass unstored (only when empty): with hop > window nothing ever reads them."""
        if len(self):
            raise ValueError("skip() on a non-empty ring buffer")
        self.start = self.end = self.end + n


def cut_windows(samples: Any, window: int, hop: int) -> np.ndarray:
    """The complete windows of a whole recording [T, C] -> [N, window, C] (starts 0, hop, 2 hop, ...),
    the windows `StreamScorer` scores; a view, no copy. For a recording already in memory."""
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim != 2:
        raise InputError(f"samples must be [T, channels], got shape {list(arr.shape)}")
    if window < 1 or hop < 1:
        raise InputError("window and hop must be positive")
    if len(arr) < window:
        return np.empty((0, window, arr.shape[1]), np.float32)
    views = np.lib.stride_tricks.sliding_window_view(arr, window, axis=0)  # [T - window + 1, C, window]
    return views[::hop].transpose(0, 2, 1)
