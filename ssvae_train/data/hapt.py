"""HAPT: the continuous phone recordings UCI-HAR was cut from, read in place from the zip or a folder.

The original release's layout (`RawData/acc_expNN_userUU.txt` in g, `RawData/gyro_expNN_userUU.txt` in
rad/s, 50 Hz; `RawData/labels.txt`: experiment, user, activity id, first and last sample, 1-based
inclusive; `activity_labels.txt`: ids 1-6 the UCI-HAR activities, 7-12 the postural transitions).

Each experiment is one recording of six raw channels, exactly as a phone gives them (`CHANNELS`): no
gravity split and no filter here, so whatever the model needs happens inside its graphs and a device feeds
raw sensor values. Samples outside the six activities' segments (set-up, pauses, walking between
stations, and the transitions unless `transitions=True` makes them classes) are unlabelled training rows.
Each person is a group (validation holds whole people out); the test set is the UCI-HAR test people
present in the data, never used for a choice. The whole recordings travel along (`DataSet.recordings`),
so alert operating points are fitted on validation people's continuous time, pauses included.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from ssvae_train.data.dataset import UNLABELLED, DataSet, SensorRecording
from ssvae_train.data.recordings import window_labels
from ssvae_train.errors import UserError

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
UNITS = "g, rad/s"
SAMPLE_RATE_HZ = 50.0
WINDOW, HOP = 128, 64
N_ACTIVITIES = 6  # ids 1..6: the UCI-HAR activities; 7..12: postural transitions
# The people UCI-HAR put in its test set (its subject_test.txt); those present in HAPT are the test people.
UCI_HAR_TEST_PEOPLE = (2, 4, 9, 10, 12, 13, 18, 20, 24)
_RAW = re.compile(r"(acc|gyro)_exp(\d+)_user(\d+)\.txt$")


class _Source:
    """Members by their name below the folder holding `activity_labels.txt`, from a zip or a folder alike."""

    def __init__(self, path: Path):
        self.zip: zipfile.ZipFile | None = None
        if path.is_file():
            try:
                self.zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile:
                raise UserError(f"{path}: not a zip file (give the HAPT zip or its extracted folder)") from None
            names = [n for n in self.zip.namelist() if not n.startswith("__MACOSX/")]
        else:
            names = [str(p.relative_to(path)).replace("\\", "/") for p in path.rglob("*") if p.is_file()]
        hits = [n for n in names if n.rsplit("/", 1)[-1] == "activity_labels.txt"]
        if not hits:
            raise UserError(f"{path}: not the HAPT layout (no activity_labels.txt inside)")
        self.prefix = hits[0][: -len("activity_labels.txt")]
        self.root = path
        self.names = {n[len(self.prefix):] for n in names if n.startswith(self.prefix)}

    def read(self, member: str) -> str:
        if member not in self.names:
            raise UserError(f"HAPT: {member} is missing")
        if self.zip is not None:
            return self.zip.read(self.prefix + member).decode("utf-8", "replace")
        return (self.root / (self.prefix + member)).read_text(encoding="utf-8", errors="replace")


def _numbers(text: str, cols: int, member: str) -> np.ndarray:
    try:
        a = np.array([line.split() for line in text.splitlines() if line.strip()], dtype=np.float64)
    except ValueError:
        raise UserError(f"HAPT: {member}: not rows of numbers") from None
    if a.ndim != 2 or a.shape[1] != cols:
        raise UserError(f"HAPT: {member}: expected {cols} numbers per row")
    if not np.isfinite(a).all():
        raise UserError(f"HAPT: {member}: holds NaN or inf")
    return a


def activity_names(src: _Source) -> dict[int, str]:
    names = {}
    for line in src.read("activity_labels.txt").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = parts[1]
    if sorted(names)[:N_ACTIVITIES] != list(range(1, N_ACTIVITIES + 1)):
        raise UserError("HAPT: activity_labels.txt does not list the activities 1..6")
    return names


def read_hapt_recordings(path: str | Path, transitions: bool = False) -> tuple[list[SensorRecording], list[str]]:
    """Every experiment as a `SensorRecording` (samples [T, 6] float32, the activity's name or "" per sample,
    transitions included), sorted by experiment, and the class names (the six activities, plus the
    transitions when `transitions`). Raises UserError with one line on bad input."""
    src = _Source(Path(path))
    names = activity_names(src)
    classes = [names[i] for i in sorted(names) if transitions or i <= N_ACTIVITIES]
    raw: dict[tuple[int, int], set[str]] = {}
    for member in src.names:
        m = _RAW.search(member)
        if m and member.startswith("RawData/"):
            raw.setdefault((int(m[2]), int(m[3])), set()).add(m[1])
    if not raw:
        raise UserError("HAPT: no RawData/acc_expNN_userUU.txt files")
    table = _numbers(src.read("RawData/labels.txt"), 5, "RawData/labels.txt").astype(np.int64)
    recs = []
    for (exp, user) in sorted(raw):
        stem = f"exp{exp:02d}_user{user:02d}.txt"
        for kind in ("acc", "gyro"):
            if kind not in raw[(exp, user)]:
                raise UserError(f"HAPT: RawData/{kind}_{stem} is missing (experiment {exp}, user {user})")
        acc = _numbers(src.read(f"RawData/acc_{stem}"), 3, f"RawData/acc_{stem}")
        gyro = _numbers(src.read(f"RawData/gyro_{stem}"), 3, f"RawData/gyro_{stem}")
        if len(acc) != len(gyro):
            raise UserError(f"HAPT: experiment {exp} user {user}: acc has {len(acc)} samples, gyro {len(gyro)}")
        labels = np.full(len(acc), "", dtype=object)
        for i, (e, u, act, first, last) in enumerate(table):
            if e != exp:
                continue
            row = f"RawData/labels.txt row {i + 1}"
            if u != user:
                raise UserError(f"HAPT: {row}: experiment {exp} belongs to user {user}, not {u}")
            if act not in names:
                raise UserError(f"HAPT: {row}: unknown activity id {act} (activity_labels.txt has {min(names)}.."
                                f"{max(names)})")
            if not 1 <= first <= last <= len(acc):
                raise UserError(f"HAPT: {row}: samples {first}..{last} lie outside the recording's 1..{len(acc)}")
            labels[first - 1 : last] = names[act]  # every activity's name; the classes are chosen in load_hapt
        x = np.concatenate([acc, gyro], axis=1).astype(np.float32)
        recs.append(SensorRecording(name=f"exp{exp:02d}_user{user:02d}", group=f"user{user:02d}", x=x,
                                    labels=labels, test=user in UCI_HAR_TEST_PEOPLE))
    unknown_exp = sorted(set(table[:, 0].tolist()) - {e for e, _ in raw})
    if unknown_exp:
        raise UserError(f"HAPT: RawData/labels.txt names experiment {unknown_exp[0]}, which has no acc/gyro files")
    return recs, classes


def load_hapt(path: str | Path, window: int | None = None, hop: int | None = None,
              transitions: bool = False) -> DataSet:
    """HAPT cut into windows (`window`, `hop`; default 128 and 64): a window is labelled when all its
    samples carry one class; test windows are the test people's labelled windows (wholly inside one
    class's time)."""
    window = WINDOW if window is None else window
    hop = HOP if hop is None else hop
    if window < 2 or hop < 1:
        raise UserError("--window must be at least 2 samples and --hop at least 1")
    recs, classes = read_hapt_recordings(path, transitions)
    if not any(r.test for r in recs):
        raise UserError(f"HAPT: none of the UCI-HAR test people ({', '.join(map(str, UCI_HAR_TEST_PEOPLE))}) "
                        "is in the data: there would be no test set")
    index = {c: i for i, c in enumerate(classes)}
    parts: dict[bool, list] = {False: [], True: []}
    counts = {"windows_mixed_labels": 0, "samples_skipped": 0}
    groups = sorted({r.group for r in recs if not r.test})
    for rec in recs:
        codes = np.array([index.get(v, UNLABELLED) for v in rec.labels], dtype=np.int64)
        xw, yw, mixed, tail = window_labels(rec.x, codes, window, hop)
        counts["windows_mixed_labels"] += 0 if rec.test else mixed
        counts["samples_skipped"] += tail
        g = groups.index(rec.group) if not rec.test else -1
        parts[rec.test].append((xw, yw, np.full(len(yw), g, np.int64)))
    x_tr, y_tr, g_tr = (np.concatenate([p[i] for p in parts[False]]) for i in range(3))
    x_te, y_te, _ = (np.concatenate([p[i] for p in parts[True]]) for i in range(3))
    scored = y_te >= 0
    test_people = sorted({r.group for r in recs if r.test})
    counts.update({
        "recordings_train": sum(not r.test for r in recs), "recordings_test": sum(r.test for r in recs),
        "people_train": len(groups), "people_test": len(test_people),
        "test_split": "the UCI-HAR test people: " + " ".join(test_people),
        "windows_kept": int(len(y_tr) + scored.sum()),
        "test_windows_skipped_unlabelled": int((~scored).sum()),
    })
    return DataSet(
        name="hapt", x_train=x_tr, y_train=y_tr, x_test=x_te[scored], y_test=y_te[scored], classes=classes,
        kind="sensor", units=UNITS, channels=list(CHANNELS), sample_rate_hz=SAMPLE_RATE_HZ, window=window,
        hop=hop, groups_train=g_tr, group_names=groups, source=f"HAPT raw recordings in {path}", counts=counts,
        recordings=recs,
    )


def turned_about_long_axis(x: np.ndarray, degrees: float) -> np.ndarray:
    """Samples [..., 6] in `CHANNELS` order (a recording, or windows) as the phone would have recorded them clipped
    on turned by `degrees` about its long (x) axis: both sensors' y-z parts rotated alike, x kept; float32 in,
    float32 out (float64 stays float64). How far round the waist a phone sits varies from wearer to wearer
    (results/hapt-tried.md, sixth round); this measures what that costs a bundle."""
    a = np.radians(degrees)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
    x = np.asarray(x)
    out = x.astype(np.float64)
    for first in (0, 3):
        out[..., first:first + 3] = out[..., first:first + 3] @ turn.T
    return out.astype(np.result_type(x.dtype, np.float32))


def write_recordings_csv(recs: list[SensorRecording], out: str | Path, rate_hz: float = SAMPLE_RATE_HZ) -> list[Path]:
    """Each recording as the CSV `ssvae-edge stream` reads: `time` (s), the six channels, and `label` (the
    activity, blank where nobody labelled; the runtime ignores it). Written atomically, one file each."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for rec in recs:
        path = out / f"{rec.name}.csv"
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            f.write("time," + ",".join(CHANNELS) + ",label\n")
            for i, (row, label) in enumerate(zip(rec.x, rec.labels, strict=True)):
                f.write(f"{i / rate_hz:.2f}," + ",".join(f"{v:.9g}" for v in row) + f",{label}\n")
        tmp.replace(path)
        paths.append(path)
    return paths
