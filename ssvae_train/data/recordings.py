"""Sensor recordings: a folder of CSV files, one per recording, cut into windows that are labelled or not.

Layout (README, "Your own data"):

    DIR/dataset.json   optional: {"sample_rate_hz": 50, "classes": ["walk", "run"], "units": "g",
                                  "groups": {"alice_1.csv": "alice", "alice_2.csv": "alice", "bob.csv": "bob"}}
    DIR/*.csv          training recordings (DIR/train/*.csv too)
    DIR/test/*.csv     optional test recordings; without them a fixed fifth of the recordings (seed 0,
                       whatever --seed is) is the test set

Each CSV has a header: every column is a channel except `time` (seconds, optional) and `label` (a class
name; an empty cell, or -1, is unlabelled). These are the column names `ssvae-edge stream` reads, so a
recording streams on the device as it is. Windows of `window` samples start every `hop` samples; a
window's label is its samples' label when they all agree, else it is unlabelled (counted as mixed).
`groups` says which person (or device, session) each recording comes from (by its path under DIR); a
recording not listed is a group of its own. Validation holds whole groups out, so no choice is made on
a person the model trained on, and the made test split takes whole groups too.
Samples after the last whole window and recordings shorter than a window are skipped, counted.
Test windows without a label cannot be scored and are skipped, counted. Validation (`make_split`) and
the made test split take whole recordings, so overlapping windows never sit on both sides.

`scan_recordings` reports every problem, one line each; `load_recordings` raises the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssvae_edge.csvinput import TIME
from ssvae_edge.input_checks import RATE_TOLERANCE
from ssvae_edge.windows import cut_windows
from ssvae_train.data.dataset import UNLABELLED, DataSet, SensorRecording
from ssvae_train.data.recording_csv import Recording, read_recording_csv
from ssvae_train.errors import UserError

META = "dataset.json"
META_KEYS = {"sample_rate_hz", "classes", "units", "groups"}
TEST_DIR, TRAIN_DIR = "test", "train"
TEST_FRACTION, TEST_SEED = 0.2, 0
DEFAULT_WINDOW = 128


def _files(root: Path) -> list[tuple[Path, bool]]:
    train = sorted(root.glob("*.csv")) + sorted((root / TRAIN_DIR).glob("*.csv"))
    return [(p, False) for p in train] + [(p, True) for p in sorted((root / TEST_DIR).glob("*.csv"))]


def _meta(root: Path, problems: list[str]) -> dict:
    path = root / META
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        problems.append(f"{META}: not readable JSON ({e})")
        return {}
    if not isinstance(meta, dict):
        problems.append(f"{META}: expected an object with some of {', '.join(sorted(META_KEYS))}")
        return {}
    unknown = sorted(set(meta) - META_KEYS)
    if unknown:
        expected = ", ".join(sorted(META_KEYS))
        problems.append(f"{META}: unknown key(s) {', '.join(unknown)} (expected some of {expected})")
    rate = meta.get("sample_rate_hz")
    if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
        problems.append(f"{META}: sample_rate_hz must be a positive number, not {rate!r}")
        meta.pop("sample_rate_hz")
    classes = meta.get("classes")
    if classes is not None and (
        not isinstance(classes, list) or not all(isinstance(c, str) and c.strip() for c in classes)
        or len(set(classes)) != len(classes)
    ):
        problems.append(f"{META}: classes must be a list of distinct, non-empty names")
        meta.pop("classes")
    groups = meta.get("groups")
    if groups is not None and (
        not isinstance(groups, dict) or not all(isinstance(v, str) and v.strip() for v in groups.values())
    ):
        problems.append(f"{META}: groups must map recording files to group names (a person, device or session)")
        meta.pop("groups")
    return meta


def window_labels(x: np.ndarray, y: np.ndarray, window: int, hop: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Windows [n, window, C] of one recording, their labels (agreeing samples, else unlabelled), how many
    were unlabelled because their samples' labels differ, and the samples after the last whole window."""
    n = (len(x) - window) // hop + 1 if len(x) >= window else 0
    if n == 0:
        return np.zeros((0, window, x.shape[1]), np.float32), np.zeros(0, np.int64), 0, len(x)
    xw = cut_windows(x, window, hop)  # the windows the device's StreamScorer scores, starts 0, hop, ...
    yw = np.lib.stride_tricks.sliding_window_view(y, window)[::hop][:n]
    agree = (yw == yw[:, :1]).all(1)
    labels = np.where(agree, yw[:, 0], UNLABELLED)
    mixed = int((~agree & (yw >= 0).any(1)).sum())
    tail = len(x) - ((n - 1) * hop + window)
    return np.ascontiguousarray(xw), labels.astype(np.int64), mixed, tail


@dataclass
class Scan:
    """What `data check` shows: the data set (None on a problem), every problem, and the summary."""

    ds: DataSet | None
    problems: list[str]
    summary: dict


def scan_recordings(path: str | Path, window: int | None = None, hop: int | None = None) -> Scan:
    """Read, check and window every recording under `path`."""
    root = Path(path)
    window = DEFAULT_WINDOW if window is None else window
    hop = max(1, window // 2) if hop is None else hop
    problems: list[str] = []
    if window < 2 or hop < 1:
        return Scan(None, ["--window must be at least 2 samples and --hop at least 1"], {})
    if not root.is_dir():
        return Scan(None, [f"{root}: --dataset recordings takes a folder of CSV files, one per recording"], {})
    meta = _meta(root, problems)
    files = _files(root)
    if not files:
        return Scan(None, [*problems, f"{root}: no .csv recordings (nor in {TRAIN_DIR}/ or {TEST_DIR}/)"], {})
    recs: list[Recording] = []
    channels: list[str] | None = None
    for p, test in files:
        rec = read_recording_csv(p, str(p.relative_to(root)), test, channels, problems)
        if rec is not None:
            channels = channels or rec.channels
            recs.append(rec)
    listed = {p for p in meta.get("groups", {})} - {r.path for r in recs}
    if listed and recs:
        problems.append(f"{META}: groups names recording(s) that are not in the folder: {', '.join(sorted(listed))}")
    declared_rate = meta.get("sample_rate_hz")
    rate = declared_rate
    for rec in recs:
        if rec.rate_hz is None:
            continue
        if rate is None:
            rate, first = rec.rate_hz, rec.path
            continue
        if abs(rec.rate_hz - rate) > RATE_TOLERANCE * rate:
            where = f"{META} says {rate:g} Hz" if declared_rate is not None else f"{first} is at {rate:g} Hz"
            problems.append(f"{rec.path}: the time column gives {rec.rate_hz:g} Hz, but {where}")
    if rate is None and recs:
        problems.append(f"no sample rate: give sample_rate_hz in {META} or a {TIME!r} column in seconds")
    found = sorted({str(v) for r in recs for v in np.unique(r.labels) if v})  # plain str: checkpoints keep them
    classes = meta.get("classes") or found
    for rec in recs:
        unknown = sorted({str(v) for v in np.unique(rec.labels)} - set(classes) - {""})
        if unknown:
            line = int(rec.lines[np.flatnonzero(np.isin(rec.labels, unknown))[0]])
            problems.append(
                f"{rec.path}: unknown class name(s) {', '.join(map(repr, unknown))} (first at line {line}); "
                f"{META} lists {', '.join(classes)}"
            )
    if len(classes) < 2 and not problems:
        problems.append(f"fewer than 2 classes among the labels ({', '.join(classes) or 'none'}): label windows "
                        "of at least 2 classes, or list the classes in " + META)
    if recs and not any(r.test for r in recs) and len(recs) < 3:
        problems.append(f"only {len(recs)} recording(s): give at least 3 (the test split takes whole recordings) "
                        f"or put the test recordings in {TEST_DIR}/")
    summary = _summary(recs, channels, rate, classes)
    if problems:
        return Scan(None, problems, summary)
    ds = _dataset(root, recs, channels or [], float(rate), classes, window, hop, meta.get("units", "as recorded"),
                  meta.get("groups", {}))
    if not len(ds.y_train):
        problems.append(f"no training window: every training recording is shorter than --window {window}")
    if not len(ds.y_test):
        problems.append("no labelled test window: label (part of) the test recordings, so the model can be scored")
    if problems:
        return Scan(None, problems, summary)
    summary.update(ds.row_counts())
    return Scan(ds, problems, summary)


def _summary(recs: list[Recording], channels: list[str] | None, rate: float | None, classes: list[str]) -> dict:
    samples = sum(len(r.x) for r in recs)
    return {
        "recordings": {"train": sum(not r.test for r in recs), "test": sum(r.test for r in recs)},
        "samples": int(samples),
        "channels": channels,
        "sample_rate_hz": rate,
        "duration_s": round(samples / rate, 3) if rate else None,
        "classes": list(classes),
    }


def _dataset(root: Path, recs: list[Recording], channels: list[str], rate: float, classes: list[str],
             window: int, hop: int, units: str, groups: dict[str, str]) -> DataSet:
    index = {c: i for i, c in enumerate(classes)}
    test_given = any(r.test for r in recs)
    group_of = [groups.get(r.path, r.path) for r in recs]  # a recording not listed is a group of its own
    first = {g: group_of.index(g) for g in group_of}  # a group's id: its first recording's position
    if not test_given:  # a fixed test split of whole groups (recordings without groups), the same for every --seed
        rng = np.random.default_rng(TEST_SEED)
        names = list(first)
        n_test = max(1, int(round(TEST_FRACTION * len(names))))
        test_groups = {names[i] for i in rng.permutation(len(names))[:n_test]}
        for rec, g in zip(recs, group_of, strict=True):
            rec.test = g in test_groups
    parts: dict[bool, list] = {False: [], True: []}
    c = {"windows_mixed_labels": 0, "samples_skipped": 0, "recordings_skipped_short": 0}
    for rec, group in zip(recs, group_of, strict=True):
        g = first[group]
        codes = np.array([index.get(v, UNLABELLED) for v in rec.labels], dtype=np.int64)
        xw, yw, mixed, tail = window_labels(rec.x, codes, window, hop)
        c["windows_mixed_labels"] += mixed if not rec.test else 0
        c["samples_skipped"] += tail
        c["recordings_skipped_short"] += int(len(xw) == 0)
        parts[rec.test].append((xw, yw, np.full(len(yw), g, np.int64)))

    def cat(test: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        got = parts[test]
        if not got:
            return np.zeros((0, window, len(channels)), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
        return tuple(np.concatenate([p[i] for p in got]) for i in range(3))  # type: ignore[return-value]

    x_tr, y_tr, g_tr = cat(False)
    x_te, y_te, _ = cat(True)
    scored = y_te >= 0
    c.update({
        "recordings_train": sum(not r.test for r in recs),
        "recordings_test": sum(r.test for r in recs),
        "test_split": f"given ({TEST_DIR}/)" if test_given
        else f"made: {TEST_FRACTION:.0%} of the {'groups' if groups else 'recordings'} (seed {TEST_SEED})",
        "groups_train": len({g for r, g in zip(recs, group_of, strict=True) if not r.test}),
        "windows_kept": int(len(y_tr) + scored.sum()),
        "test_windows_skipped_unlabelled": int((~scored).sum()),
    })
    return DataSet(
        name="recordings", x_train=x_tr, y_train=y_tr, x_test=x_te[scored], y_test=y_te[scored],
        classes=list(classes), kind="sensor", units=units, channels=list(channels), sample_rate_hz=rate,
        window=window, hop=hop, groups_train=g_tr, group_names=group_of, source=f"recordings in {root}", counts=c,
        recordings=[SensorRecording(r.path, g, r.x, r.labels, r.test) for r, g in zip(recs, group_of, strict=True)],
    )


def load_recordings(path: str | Path, window: int | None = None, hop: int | None = None) -> DataSet:
    """The recordings as a `DataSet` of windows, or a UserError naming the first problem."""
    scan = scan_recordings(path, window, hop)
    if scan.problems:
        n = len(scan.problems)
        more = f" (and {n - 1} more: run `ssvae-train data check {path}`)" if n > 1 else ""
        raise UserError(scan.problems[0] + more)
    assert scan.ds is not None
    return scan.ds
