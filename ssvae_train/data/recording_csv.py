"""One CSV recording of the user's own data (`--dataset recordings`), read and checked: a header naming the
channels (plus optional `time` and `label`), numeric rows, finite values, a steady sampling rate. Every
problem is one line in the caller's list, so `recordings.scan_recordings` can report all files at once."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssvae_edge.csvinput import LABEL, TIME
from ssvae_edge.errors import InputError
from ssvae_edge.input_checks import RateCheck

NO_LABEL = ("", "-1")  # label fields that mean "no label"


@dataclass
class Recording:
    """One file as read: samples [T, C] in the first file's channel order, label names per sample."""

    path: str  # relative to the folder, as problems name it
    test: bool
    channels: list[str]
    x: np.ndarray
    labels: np.ndarray  # str [T]; "" = unlabelled
    lines: np.ndarray  # the CSV line of every sample, for problems
    rate_hz: float | None  # measured from the time column


def read_recording_csv(path: Path, rel: str, test: bool, channels: list[str] | None,
                       problems: list[str]) -> Recording | None:
    """One CSV; every problem it has goes to `problems` (one line each) and None comes back."""
    try:
        f = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as e:
        problems.append(f"{rel}: cannot read ({e.strerror})")
        return None
    with f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader, [])]
            if not header:
                problems.append(f"{rel}: empty (expected a header naming the channels)")
                return None
            dup = sorted({h for h in header if header.count(h) > 1})
            if dup:
                problems.append(f"{rel}: duplicate column(s) {', '.join(dup)}")
                return None
            mine = [h for h in header if h not in (TIME, LABEL)]
            if not mine:
                problems.append(f"{rel}: no channel columns (only {', '.join(header)})")
                return None
            if channels is not None and set(mine) != set(channels):
                missing = [c for c in channels if c not in mine]
                extra = [c for c in mine if c not in channels]
                said = "; ".join(
                    ([f"missing {', '.join(missing)}"] if missing else [])
                    + ([f"extra {', '.join(extra)}"] if extra else [])
                )
                problems.append(f"{rel}: its columns differ from the other recordings' ({said})")
                return None
            order = channels if channels is not None else mine
            cols = [header.index(c) for c in order]
            tcol = header.index(TIME) if TIME in header else None
            lcol = header.index(LABEL) if LABEL in header else None
            rows, times, labels, lines = [], [], [], []
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    problems.append(f"{rel}: line {reader.line_num} has {len(row)} fields, the header {len(header)}")
                    return None
                try:
                    rows.append([float(row[i]) for i in cols])
                    if tcol is not None:
                        times.append(float(row[tcol]))
                except ValueError:
                    problems.append(f"{rel}: line {reader.line_num} holds something that is not a number")
                    return None
                labels.append(row[lcol].strip() if lcol is not None else "")
                lines.append(reader.line_num)
        except (UnicodeDecodeError, csv.Error) as e:
            problems.append(f"{rel}: not readable CSV ({e})")
            return None
    if not rows:
        problems.append(f"{rel}: a header but no samples")
        return None
    x = np.asarray(rows, dtype=np.float64)
    bad = ~np.isfinite(x).all(1)
    if bad.any():
        first = lines[int(np.flatnonzero(bad)[0])]
        problems.append(f"{rel}: NaN or inf in {int(bad.sum())} row(s), first at line {first}")
        return None
    rate = None
    if tcol is not None and len(times) > 2:
        check = RateCheck(None)
        try:
            check.add(np.asarray(times))
            check.finish()
        except InputError as e:
            problems.append(f"{rel}: {e}")
            return None
        rate = check.measured
    lab = np.array([v if v not in NO_LABEL else "" for v in labels], dtype=str)
    return Recording(rel, test, list(order), x.astype(np.float32), lab, np.asarray(lines, np.int64), rate)
