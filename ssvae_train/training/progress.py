"""A progress bar on a terminal, one line per epoch elsewhere (logs of background runs stay readable)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, enabled: bool = True, label: str = ""):
        self.total, self.done, self.label = total, 0, label
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self._last = 0.0
        if self.tty and total:
            self._draw("starting")  # visible from the first batch on, not after the first epoch

    def step(self, text: str = "") -> None:
        self.done += 1
        if not self.tty:
            return
        self._draw(text)

    def _draw(self, text: str) -> None:
        now = time.perf_counter()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        frac = self.done / max(1, self.total)
        eta = f"{(now - self.t0) / frac * (1 - frac):5.0f}s" if frac > 0 else "    ?"
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {100 * frac:5.1f}% eta {eta} {text[:80]}\033[K")
        sys.stderr.flush()

    def log(self, line: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write("\r\033[K")
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
