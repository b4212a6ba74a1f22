"""The user's own samples as one `.npz` file: images or sensor windows, with -1 for unlabelled rows.

Keys (README, "Your own data"):
- `x_train` `[N, *sample_shape]` numbers, in their own units; `y_train` int `[N]`, a class index or -1
  (unlabelled; without `y_train` every row is unlabelled);
- optional `x_test`/`y_test` (both or neither; test rows labelled -1 cannot be scored and are skipped,
  counted); without them a fixed fifth of the labelled rows (seed 0, stratified) becomes the test set;
- `classes` (names, in index order; default "0".."K-1"); `units`;
- what the samples are: `kind` = `image` (with `max_value`, the value of white: a Bernoulli likelihood on
  x / max_value), `sensor` (`[N, T, C]` windows with `channels` and `sample_rate_hz`, optional `hop`) or
  `features` (`[N, D]` vectors); without `kind` it is `sensor` when `channels` is given, `image` when
  `max_value` is, `features` for `[N, D]`;
- optional `groups_train` `[N]` (e.g. the recording of every window): validation is then split by group.

`scan_arrays` reports every problem it finds, one line each; `load_arrays` raises the first.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ssvae_train.data.dataset import UNLABELLED, DataSet
from ssvae_train.errors import UserError

KINDS = ("image", "sensor", "features")
TEST_FRACTION, TEST_SEED = 0.2, 0  # the test split made when none is given: fixed, whatever --seed is
KEYS = {
    "x_train", "y_train", "x_test", "y_test", "classes", "kind", "max_value", "channels", "sample_rate_hz",
    "hop", "units", "groups_train",
}


def save_arrays(path: str | Path, **arrays) -> Path:
    """Write an arrays file (the keys above), atomically; `classes`/`channels` may be lists of str."""
    from ssvae_train.files import write_atomic

    path = Path(path)
    unknown = sorted(set(arrays) - KEYS)
    if unknown:
        raise UserError(f"unknown arrays key(s) {', '.join(unknown)}: expected some of {', '.join(sorted(KEYS))}")
    plain = {k: np.asarray(v) for k, v in arrays.items() if v is not None}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **plain)

    write_atomic(path, write)
    return path


def _scalar(z, key: str, cast):
    return cast(z[key].item()) if key in z else None


def _read(path: Path) -> tuple[dict, list[str]]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}, []
    except ValueError as e:
        if "pickle" in str(e).lower():
            return {}, [f"{path.name}: holds Python objects; save names as a numpy str array (np.array(names))"]
        return {}, [f"{path.name}: not a readable .npz file ({e})"]
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        return {}, [f"{path.name}: not a readable .npz file ({e})"]


def _labels(y: np.ndarray | None, n: int, k: int | None, what: str, name: str) -> tuple[np.ndarray | None, list[str]]:
    if y is None:
        return np.full(n, UNLABELLED, np.int64), []
    if y.ndim != 1 or len(y) != n:
        return None, [f"{name}: {what} has shape {list(y.shape)}, expected [{n}] (one label per row of x)"]
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y)))):
        return None, [f"{name}: {what} must hold class indices (integers, -1 for unlabelled)"]
    y = y.astype(np.int64)
    top = k if k is not None else None
    bad = (y < UNLABELLED) | ((y >= top) if top is not None else False)
    if np.any(bad):
        v = int(y[np.flatnonzero(bad)[0]])
        return None, [f"{name}: {what} holds an unknown class {v} ({int(bad.sum())} row(s)); classes are 0..{top - 1}"
                      " and -1 means unlabelled"]
    return y, []


def _finite(x: np.ndarray, what: str, name: str) -> list[str]:
    if x.dtype.kind not in "iufb":
        return [f"{name}: {what} holds {x.dtype}, not numbers"]
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(1) if x.dtype.kind == "f" else np.zeros(len(x), bool)
    if bad.any():
        return [f"{name}: {what} has NaN or inf in {int(bad.sum())} row(s), first row {int(np.flatnonzero(bad)[0])}"]
    return []


def scan_arrays(path: str | Path) -> tuple[DataSet | None, list[str]]:
    """Read and check an arrays file: the data set (None when it cannot be built) and every problem."""
    path = Path(path)
    name = path.name
    if path.is_dir():
        return None, [f"{path}: --dataset arrays takes one .npz file, not a folder"]
    z, problems = _read(path)
    if problems:
        return None, problems
    unknown = sorted(set(z) - KEYS)
    if unknown:
        problems.append(f"{name}: unknown key(s) {', '.join(unknown)} (expected some of {', '.join(sorted(KEYS))})")
    if "x_train" not in z:
        return None, [*problems, f"{name}: no x_train array"]
    x = z["x_train"]
    if x.ndim < 2 or len(x) == 0:
        return None, [*problems, f"{name}: x_train has shape {list(x.shape)}, expected [N, *sample_shape] with N > 0"]
    problems += _finite(x, "x_train", name)
    has_test = "x_test" in z or "y_test" in z
    if has_test and not ("x_test" in z and "y_test" in z):
        problems.append(f"{name}: give both x_test and y_test, or neither (a test split is then made)")
        has_test = False
    if has_test:
        if z["x_test"].shape[1:] != x.shape[1:]:
            problems.append(f"{name}: x_test samples are {list(z['x_test'].shape[1:])}, x_train's {list(x.shape[1:])}")
        problems += _finite(z["x_test"], "x_test", name)
    classes = [str(c) for c in z["classes"].tolist()] if "classes" in z else None
    if classes is not None and (z["classes"].ndim != 1 or len(set(classes)) != len(classes) or not classes):
        problems.append(f"{name}: classes must be a list of distinct names")
        classes = None
    k = len(classes) if classes is not None else None
    y, more = _labels(z.get("y_train"), len(x), k, "y_train", name)
    problems += more
    y_test = None
    if has_test:
        y_test, more = _labels(z["y_test"], len(z["x_test"]), k, "y_test", name)
        problems += more
    if classes is None:
        top = max([int(v.max()) for v in (y, y_test) if v is not None and len(v)] + [-1])
        classes = [str(i) for i in range(top + 1)]
    if len(classes) < 2:
        problems.append(f"{name}: fewer than 2 classes (give `classes`, or labels of at least 2 classes)")

    channels = [str(c) for c in z["channels"].tolist()] if "channels" in z else None
    rate = _scalar(z, "sample_rate_hz", float)
    max_value = _scalar(z, "max_value", float)
    kind = str(z["kind"].item()) if "kind" in z else (
        "sensor" if channels is not None or rate is not None else
        "image" if max_value is not None else "features" if x.ndim == 2 else None
    )
    if kind not in KINDS:
        problems.append(
            f"{name}: say what the samples are: kind 'image' (with max_value), 'sensor' (with channels and "
            f"sample_rate_hz) or 'features' ([N, D] vectors)" + (f", not {kind!r}" if kind else "")
        )
    elif kind == "image":
        if max_value is None or max_value <= 0:
            problems.append(f"{name}: images need max_value, the value of a white pixel (e.g. 255)")
        elif x.dtype.kind in "iuf" and len(v := x[np.isfinite(x)]) and not 0 <= v.min() <= v.max() <= max_value:
            problems.append(f"{name}: image values span {float(v.min()):g}..{float(v.max()):g}, outside 0..max_value "
                            f"{max_value:g}")
    elif kind == "sensor":
        if x.ndim != 3:
            problems.append(f"{name}: sensor windows must be [N, T, channels], got {list(x.shape)}")
        elif channels is None or len(channels) != x.shape[2] or len(set(channels)) != len(channels):
            problems.append(f"{name}: sensor windows need `channels`, {x.shape[2]} distinct names (one per column)")
        if rate is None or not rate > 0:
            problems.append(f"{name}: sensor windows need sample_rate_hz (samples per second)")
    groups = z.get("groups_train")
    if groups is not None and (groups.ndim != 1 or len(groups) != len(x)):
        problems.append(f"{name}: groups_train must give one group per row of x_train")
        groups = None
    if problems:
        return None, problems

    x = x.astype(np.float32)
    counts: dict = {}
    if has_test:
        x_test, keep = z["x_test"].astype(np.float32), y_test >= 0
        counts["test_rows_skipped_unlabelled"] = int((~keep).sum())
        x_test, y_test = x_test[keep], y_test[keep]
    else:
        test = _test_rows(y, groups)
        rest = np.setdiff1d(np.arange(len(x)), test)
        scored = test[y[test] >= 0]
        counts["test_rows_skipped_unlabelled"] = int(len(test) - len(scored))
        x_test, y_test = x[scored], y[scored]
        x, y = x[rest], y[rest]
        groups = None if groups is None else groups[rest]
        counts["test_split"] = f"made: {TEST_FRACTION:.0%} of the labelled rows (seed {TEST_SEED})"
    window = int(x.shape[1]) if kind == "sensor" else None
    hop = _scalar(z, "hop", int) if "hop" in z else (max(1, window // 2) if window else None)
    units = str(z["units"].item()) if "units" in z else "as given"
    return DataSet(
        name="arrays", x_train=x, y_train=y, x_test=x_test, y_test=y_test, classes=classes, kind=kind,
        units=units, max_value=max_value if kind == "image" else None, channels=channels if kind == "sensor" else None,
        sample_rate_hz=rate if kind == "sensor" else None, window=window, hop=hop,
        groups_train=None if groups is None else np.unique(groups, return_inverse=True)[1].astype(np.int64),
        source=f"arrays {path}", counts=counts,
    ), []


def _test_rows(y: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """The made test split: whole groups when given (their unlabelled rows are then skipped, counted),
    else a stratified fifth of the labelled rows (the unlabelled rows all stay for training)."""
    rng = np.random.default_rng(TEST_SEED)
    if groups is not None:
        names = np.unique(groups)
        picked = rng.permutation(names)[: max(1, int(round(TEST_FRACTION * len(names))))]
        return np.flatnonzero(np.isin(groups, picked))
    taken = [rng.permutation(np.flatnonzero(y == c))[: int(round(TEST_FRACTION * (y == c).sum()))]
             for c in range(int(y.max()) + 1 if len(y) else 0)]
    return np.sort(np.concatenate(taken)) if taken else np.array([], np.int64)


def load_arrays(path: str | Path) -> DataSet:
    """The arrays file as a `DataSet`, or a UserError naming its first problem."""
    ds, problems = scan_arrays(path)
    if problems:
        more = f" (and {len(problems) - 1} more: run `ssvae-train data check {path}`)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
    assert ds is not None
    return ds
