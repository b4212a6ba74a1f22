"""Read a sample stream from a CSV file, stdin, or a `.npy` array, in chunks, counting faults.

CSV layout: a header line naming the bundle's channels (any order; they are reordered to the manifest's),
plus optional columns `time` (seconds) and `label` (ignored: ground truth for people, not for the model).
Any other column (another sensor, an activity column a logger writes) is ignored and named once in
`stats.ignored_columns`, which `ssvae-edge stream` prints as one note; a missing channel stays an error, and
that error names the unknown columns too, since one of them is most likely the channel misspelt.

Faults and their defined outcomes (the tests pin each one):
* non-numeric field, short row or long row: the row is kept as a missing sample (NaN) and counted in
  `bad_rows`; keeping it keeps sample indices and times aligned, and every window that contains it is
  then skipped by the scorer (never scored, never spliced across the gap);
* `nan`/`inf` values parse as numbers: those windows are skipped by the scorer (non_finite_input);
* blank lines are ignored;
* missing channel columns, or a `.npy` with the wrong number of channels: `InputError`;
* no header, or a header with no sample rows, or an empty `.npy`: `InputError` (an empty recording is
  far more often a wrong path or a failed capture than a real, empty stream);
* a `time` column whose rate (typical step, checked on the first 16 steps and then every 256) differs
  from the manifest's `sample_rate_hz` by more than 5%, or does not increase: `InputError`.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ssvae_edge.errors import InputError
from ssvae_edge.input_checks import InputStats, RateCheck

TIME, LABEL = "time", "label"
_NPY_MAGIC = b"\x93NUMPY"


class SampleReader:
    """Iterate `(samples float32 [n, C], times float64 [n] | None)` chunks; `stats` counts faults.

    The header (CSV) or array shape (.npy) is checked when the reader is created, so a wrong file
    fails before anything is scored.
    """

    def __init__(self, path: str | Path, channels: Sequence[str], sample_rate_hz: float | None = None,
                 chunk_rows: int = 4096, stdin: TextIO | None = None):
        self.channels = list(channels)
        self.chunk_rows = max(1, int(chunk_rows))
        self.rate = RateCheck(sample_rate_hz)
        name = str(path)
        self._stream: TextIO | None = None
        self._owned = False  # close only what this reader opened (never the caller's stdin)
        self._array: np.ndarray | None = None
        self._gen: Iterator[tuple[np.ndarray, np.ndarray | None]] | None = None
        if name == "-":
            self.stats = InputStats("stdin", "csv")
            self._open_csv(stdin if stdin is not None else sys.stdin)
            return
        p = Path(name)
        if not p.is_file():
            raise InputError(f"{name}: no such file" if not p.exists() else f"{name}: not a file")
        try:
            with p.open("rb") as f:
                magic = f.read(len(_NPY_MAGIC))
        except OSError as e:
            raise InputError(f"{name}: cannot read ({e.strerror})") from None
        if magic == _NPY_MAGIC:
            self.stats = InputStats(name, "npy")
            self._open_npy(p)
        else:
            self.stats = InputStats(name, "csv")
            self._owned = True
            try:
                self._open_csv(p.open("r", encoding="utf-8-sig", newline=""))
            except InputError:
                self.close()
                raise

    # ---- .npy ------------------------------------------------------------------------------------
    def _open_npy(self, p: Path) -> None:
        try:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise InputError(f"{p}: not a readable .npy array ({e})") from None
        if arr.dtype.kind not in "fiub":
            raise InputError(f"{p}: the array holds {arr.dtype}, not numbers")
        c = len(self.channels)
        if arr.ndim != 2:
            raise InputError(f"{p}: expected a [T, {c}] array (time x channels), got shape {list(arr.shape)}")
        if arr.shape[1] != c:
            raise InputError(f"{p}: expected {c} channels ({', '.join(self.channels)}), got {arr.shape[1]}")
        if arr.shape[0] == 0:
            raise InputError(f"{p}: the array has no samples")
        self._array = arr

    # ---- CSV -------------------------------------------------------------------------------------
    def _open_csv(self, stream: TextIO) -> None:
        self._stream = stream
        self._reader = csv.reader(stream)
        try:
            header = next(self._reader, None)
        except (UnicodeDecodeError, csv.Error) as e:
            raise InputError(f"{self.stats.source}: not CSV text ({e})") from None
        if header is None:
            raise InputError(f"{self.stats.source}: the input is empty (expected a header line naming the "
                             "channels)")
        names = [h.strip() for h in header]
        if all(_is_number(h) for h in names if h):
            raise InputError(f"{self.stats.source}: the first line must be a header naming the channels "
                             f"({', '.join(self.channels)}), got numbers")
        dup = sorted({h for h in names if names.count(h) > 1})
        if dup:
            raise InputError(f"{self.stats.source}: duplicate column(s) in the header: {', '.join(dup)}")
        missing = [c for c in self.channels if c not in names]
        unknown = [h for h in names if h not in self.channels and h not in (TIME, LABEL)]
        if missing:
            parts = [f"missing channel column(s) {', '.join(missing)}"]
            if unknown:
                parts.append(f"unknown column(s) {', '.join(repr(u) for u in unknown)}")
            raise InputError(f"{self.stats.source}: {'; '.join(parts)} (the bundle expects "
                             f"{len(self.channels)} channels: {', '.join(self.channels)}; "
                             f"optional '{TIME}' and '{LABEL}')")
        self._cols = [names.index(c) for c in self.channels]
        self._tcol = names.index(TIME) if TIME in names else None
        self._ncols = len(names)
        self.stats.has_time = self._tcol is not None
        self.stats.ignored_columns = [u for u in unknown if u]

    def _csv_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        c = len(self.channels)
        nan_row = [float("nan")] * c
        cols, tcol, ncols = self._cols, self._tcol, self._ncols
        rows: list[list[float]] = []
        times: list[float] = []
        line = 1
        try:
            for row in self._reader:
                line = self._reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                self.stats.rows += 1
                t = float("nan")
                if len(row) != ncols:
                    self.stats.add_bad("short" if len(row) < ncols else "long", line)
                    vals = nan_row
                else:
                    try:
                        vals = [float(row[i]) for i in cols]
                        if tcol is not None:
                            t = float(row[tcol])
                    except ValueError:
                        self.stats.add_bad("non_numeric", line)
                        vals, t = nan_row, float("nan")
                rows.append(vals)
                times.append(t)
                if len(rows) >= self.chunk_rows:
                    yield self._chunk(rows, times)
                    rows, times = [], []
        except (UnicodeDecodeError, csv.Error) as e:
            raise InputError(f"{self.stats.source}: unreadable CSV near line {line + 1} ({e})") from None
        if rows:
            yield self._chunk(rows, times)

    def _chunk(self, rows: list[list[float]], times: list[float]) -> tuple[np.ndarray, np.ndarray | None]:
        x = np.asarray(rows, dtype=np.float64).astype(np.float32)
        if self._tcol is None:
            return x, None
        t = np.asarray(times, dtype=np.float64)
        self.rate.add(t)
        self.stats.measured_rate_hz = self.rate.measured
        return x, t

    # ---- iteration -------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """One pass over the input: iterating again continues where the last iteration stopped."""
        if self._gen is None:
            self._gen = self._generate()
        return self._gen

    def _generate(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        try:
            if self._array is not None:
                arr = self._array
                self.stats.rows = len(arr)
                for i in range(0, len(arr), self.chunk_rows):
                    yield np.asarray(arr[i:i + self.chunk_rows], dtype=np.float32), None
                return
            yield from self._csv_chunks()
            if self.stats.rows == 0:
                raise InputError(f"{self.stats.source}: the input has a header but no samples")
            if self._tcol is not None:
                self.rate.finish()
                self.stats.measured_rate_hz = self.rate.measured
        finally:
            self.close()

    def close(self) -> None:
        if self._stream is not None and self._owned:
            self._stream.close()
        self._stream = None


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


@dataclass
class Recording:
    """A whole recording in memory: samples [T, C] in the bundle's channel order, optional times [T]."""

    samples: np.ndarray
    times: np.ndarray | None
    stats: InputStats

    def chunks(self, rows: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """(samples, times) pairs of `rows` rows: what `StreamScorer.run` takes."""
        for i in range(0, len(self.samples), rows):
            yield self.samples[i:i + rows], None if self.times is None else self.times[i:i + rows]


def read_recording(path: str | Path, channels: Sequence[str], sample_rate_hz: float | None = None) -> Recording:
    """Read a CSV or `.npy` recording whole, with the checks and fault rules of `SampleReader` (bad rows
    become NaN samples, a wrong header or rate raises `InputError`). For the API: `ssvae-edge stream`
    reads the same files in chunks instead, in constant memory."""
    reader = SampleReader(path, channels, sample_rate_hz)
    parts = list(reader)
    samples = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, len(channels)), np.float32)
    times = np.concatenate([p[1] for p in parts]) if parts and parts[0][1] is not None else None
    return Recording(samples, times, reader.stats)
