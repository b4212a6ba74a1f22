"""The bundle contract of DESIGN.md, in one torch-free module that the exporter (`ssvae_train.export`) and
the runtime (`ssvae_edge.Bundle`) both use: graph names and files, each graph's inputs and outputs, the
format version, the manifest's layout (`build_manifest`, `write_manifest`) and its validation
(`Manifest`), and the one sha256 helper. A contract change is a change here.

Validation happens once, at load, so the rest of the runtime can trust the values: a device must refuse a
bundle it cannot interpret rather than guess (a wrong window length would give silently wrong labels).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssvae_edge.errors import BundleError
from ssvae_edge.jsonvalues import Fail, int_list, name_list, opt_float, opt_int

FORMAT = 1
MANIFEST_FILE = "manifest.json"
GRAPH_NAMES = ("classifier", "anomaly", "decoder")
PRECISIONS = ("fp32", "int8")
GRAPH_KEYS = {"fp32": "graphs", "int8": "graphs_int8"}  # the manifest key listing each precision's graphs
# The manifest's keys in the order an export writes them (the contract's keys and the ones beside them).
MANIFEST_KEYS = ("format", "graphs", "classes", "sample_shape", "dtype", "units", "channels", "sample_rate_hz",
                 "window", "hop", "max_value", "time_axis_dynamic", "latent_dim", "threshold",
                 "threshold_calibration", "alert", "score_method", "score", "latent_prior", "opset", "producer",
                 "validation", "graphs_int8", "quantization", "smoothing")
FLOAT, INT64 = "tensor(float)", "tensor(int64)"  # ONNX type strings, as onnxruntime reports them
BATCH, TIME = "N", "T"  # symbolic axes: the batch axis is always dynamic, the time axis of an LSTM may be
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def graph_file(name: str) -> str:
    """The file an fp32 graph is written to (`<name>.onnx`)."""
    return f"{name}.onnx"


# ---- hashing ------------------------------------------------------------------------------------------
def sha256_hex(data: bytes) -> str:
    """The digest a manifest records for a graph file (the one hashing helper: export and runtime)."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """`sha256_hex` of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- io specs -----------------------------------------------------------------------------------------
Dim = int | str | None


@dataclass(frozen=True)
class Port:
    """One input or output of a graph: name, ONNX element type and shape (ints fixed, str/None symbolic)."""

    name: str
    type: str
    shape: tuple[Dim, ...] | None

    def describe(self) -> str:
        dims = "?" if self.shape is None else ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {self.type.removeprefix('tensor(').removesuffix(')')} [{dims}]"


IO = tuple[list[Port], list[Port]]


def io_specs(sample_shape: tuple[int, ...], n_classes: int, latent_dim: int | None,
             time_axis: bool = False) -> dict[str, IO]:
    """The inputs and outputs each graph must have; `time_axis`: axis 1 of x is symbolic (`T`, lstm)."""
    s = tuple(sample_shape)
    x = (BATCH, TIME, *s[1:]) if time_axis else (BATCH, *s)
    return {
        "classifier": ([Port("x", FLOAT, x)], [Port("probs", FLOAT, (BATCH, n_classes))]),
        "anomaly": ([Port("x", FLOAT, x)], [Port("score", FLOAT, (BATCH,))]),
        "decoder": ([Port("z", FLOAT, (BATCH, latent_dim)), Port("y", INT64, (BATCH,))],
                    [Port("x_hat", FLOAT, (BATCH, *s))]),
    }


# ---- manifest: build and write ------------------------------------------------------------------------
def build_manifest(graphs: Mapping[str, Path], keys: Mapping[str, Any]) -> dict:
    """The manifest of a bundle whose fp32 graphs are the files `graphs` (name -> path): `format` and
    `graphs` (file, sha256) filled in here, every other key from `keys`, in `MANIFEST_KEYS` order (unknown
    keys after them), as plain JSON values. Refused (BundleError) unless it validates as `Manifest` does."""
    unknown = [k for k in graphs if k not in GRAPH_NAMES]
    if unknown:
        raise BundleError(f"graphs {unknown}: the contract names only {', '.join(GRAPH_NAMES)}")
    entries = {name: {"file": p.name, "sha256": file_sha256(p)} for name, p in graphs.items()}
    given = {"format": FORMAT, "graphs": entries, **keys}
    order = [k for k in MANIFEST_KEYS if k in given] + [k for k in given if k not in MANIFEST_KEYS]
    manifest = plain({k: given[k] for k in order})
    Manifest.from_dict(manifest, Path(MANIFEST_FILE))
    return manifest


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    """`manifest.json` in `folder`, as every bundle holds it (written last: a folder with one is finished)."""
    (Path(folder) / MANIFEST_FILE).write_text(json.dumps(plain(manifest), indent=2) + "\n")


def plain(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python numbers, tuples to lists."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# ---- manifest: read and validate ----------------------------------------------------------------------
@dataclass(frozen=True)
class GraphEntry:
    """One graph of the bundle: its file (relative to the bundle folder) and expected sha256."""

    name: str
    file: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The manifest's contract keys, checked and typed; `raw` keeps every key (extra ones included)."""

    path: Path
    raw: dict[str, Any]
    format: int
    graphs: dict[str, GraphEntry]
    classes: tuple[str, ...]
    sample_shape: tuple[int, ...]
    units: str | None
    channels: tuple[str, ...] | None
    sample_rate_hz: float | None
    window: int | None
    hop: int | None
    latent_dim: int | None
    threshold: float | None
    opset: int | None
    graphs_int8: dict[str, GraphEntry]  # the optional int8 graphs (`graphs_int8`), empty when none
    threshold_int8: float | None  # the int8 anomaly graph's own threshold
    # the alert operating point's debounce (`alert`: k of the last m windows raise, fewer than clear_k clear);
    # None when the bundle does not carry one (the runtime's defaults apply)
    alert_debounce: tuple[int, int, int] | None = None
    # `smoothing.windows`: stream events report the class of the mean probabilities of this many windows
    smoothing_windows: int = 1

    def graph_set(self, precision: str) -> dict[str, GraphEntry]:
        """The graphs of one precision: fp32 (`graphs`) or int8 (`graphs_int8`)."""
        return self.graphs if precision == "fp32" else self.graphs_int8

    def io_specs(self) -> dict[str, IO]:
        """`io_specs` sized by this manifest (fixed window: a runtime accepts a symbolic axis anywhere)."""
        return io_specs(self.sample_shape, len(self.classes), self.latent_dim)

    @property
    def is_sensor(self) -> bool:
        """Sensor bundles carry what streaming needs: channel names, window and hop."""
        return self.channels is not None and self.window is not None and self.hop is not None

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Load `manifest.json` from a bundle folder (or the file itself) and validate it."""
        path = Path(path)
        file = path / MANIFEST_FILE if path.is_dir() else path
        if not file.exists():
            if not path.exists():
                raise BundleError(f"{path}: no such bundle (folder or manifest.json)")
            raise BundleError(f"{path}: not a bundle (no manifest.json)")
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise BundleError(f"{file}: cannot read ({e})") from None
        except json.JSONDecodeError as e:
            raise BundleError(f"{file}: not valid JSON ({e.msg}, line {e.lineno})") from None
        return cls.from_dict(raw, file)

    @classmethod
    def from_dict(cls, raw: Any, path: Path) -> Manifest:
        """Validate a parsed manifest; every refusal names the key and what was expected."""
        if not isinstance(raw, dict):
            raise BundleError(f"{path}: the manifest must be a JSON object")

        def fail(msg: str) -> BundleError:
            return BundleError(f"{path}: {msg}")

        fmt = raw.get("format")
        if fmt != FORMAT:
            if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
                raise fail(f"format {fmt} is newer than this runtime reads ({FORMAT}): upgrade ssvae_edge")
            raise fail(f"'format' must be {FORMAT}, got {fmt!r}")

        graphs_raw = raw.get("graphs")
        if not isinstance(graphs_raw, dict) or not graphs_raw:
            raise fail("'graphs' must be a non-empty object naming the bundle's graphs")
        graphs = _graph_entries(graphs_raw, "graphs", fail)
        if not any(g in graphs for g in GRAPH_NAMES):
            raise fail(f"'graphs' holds none of {', '.join(GRAPH_NAMES)}")
        int8_raw = raw.get("graphs_int8") or {}
        if not isinstance(int8_raw, dict):
            raise fail("'graphs_int8' must be an object naming the int8 graphs")
        graphs_int8 = _graph_entries(int8_raw, "graphs_int8", fail)
        extra = sorted(set(graphs_int8) - set(graphs))
        if extra:
            raise fail(f"graphs_int8 lists {', '.join(extra)}, which 'graphs' does not hold")
        threshold_int8 = opt_float((int8_raw.get("anomaly") or {}).get("threshold"), "graphs_int8.anomaly.threshold",
                                   fail, positive=False)

        classes = name_list(raw.get("classes"), "classes", fail)
        sample_shape = int_list(raw.get("sample_shape"), "sample_shape", fail)
        channels = None if raw.get("channels") is None else name_list(raw["channels"], "channels", fail)
        window = opt_int(raw.get("window"), "window", fail)
        hop = opt_int(raw.get("hop"), "hop", fail)
        latent_dim = opt_int(raw.get("latent_dim"), "latent_dim", fail)
        opset = opt_int(raw.get("opset"), "opset", fail)
        rate = opt_float(raw.get("sample_rate_hz"), "sample_rate_hz", fail, positive=True)
        threshold = opt_float(raw.get("threshold"), "threshold", fail, positive=False)
        alert_debounce = _alert_debounce(raw.get("alert"), fail)
        smoothing = raw.get("smoothing") or {}
        if not isinstance(smoothing, dict):
            raise fail("'smoothing' must be an object with 'windows'")
        smoothing_windows = smoothing.get("windows", 1)
        if isinstance(smoothing_windows, bool) or not isinstance(smoothing_windows, int) or smoothing_windows < 1:
            raise fail("'smoothing.windows' must be a positive integer")
        units = raw.get("units")
        if units is not None and not isinstance(units, str):
            raise fail("'units' must be a string")

        if channels is not None:
            # A sensor sample is [window, channels]; disagreeing keys mean a broken export.
            if window is None or hop is None:
                raise fail("a sensor bundle ('channels') needs 'window' and 'hop'")
            if list(sample_shape) != [window, len(channels)]:
                raise fail(f"sample_shape {list(sample_shape)} disagrees with window {window} and "
                           f"{len(channels)} channels (expected [{window}, {len(channels)}])")
        if "decoder" in graphs and latent_dim is None:
            raise fail("a bundle with a decoder needs 'latent_dim'")

        return cls(
            path=path, raw=raw, format=FORMAT, graphs=graphs, classes=classes,
            sample_shape=tuple(sample_shape), units=units, channels=channels, sample_rate_hz=rate,
            window=window, hop=hop, latent_dim=latent_dim, threshold=threshold, opset=opset,
            graphs_int8=graphs_int8, threshold_int8=threshold_int8, alert_debounce=alert_debounce,
            smoothing_windows=smoothing_windows,
        )


def _graph_entries(raw: dict, key: str, fail: Fail) -> dict[str, GraphEntry]:
    """`graphs` or `graphs_int8`: each entry a file inside the bundle folder and its sha256."""
    out: dict[str, GraphEntry] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            raise fail(f"{key}.{name} must be an object with 'file' and 'sha256'")
        file, sha = entry.get("file"), entry.get("sha256")
        if not isinstance(file, str) or not file:
            raise fail(f"{key}.{name}.file must be a file name")
        if Path(file).is_absolute() or ".." in Path(file).parts:
            raise fail(f"{key}.{name}.file {file!r} must be a path inside the bundle folder")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise fail(f"{key}.{name}.sha256 must be 64 hex digits, got {sha!r}")
        out[name] = GraphEntry(name, file, sha.lower())
    return out


def _alert_debounce(alert: Any, fail: Fail) -> tuple[int, int, int] | None:
    """`alert.k`, `alert.m`, `alert.clear_k` (the calibrated debounce), checked like the runtime's own options."""
    if alert is None:
        return None
    if not isinstance(alert, dict):
        raise fail("'alert' must be an object (the alert operating point)")
    k, m, clear = (opt_int(alert.get(key), f"alert.{key}", fail) for key in ("k", "m", "clear_k"))
    if k is None or m is None:
        raise fail("'alert' needs 'k' and 'm' (raise on k of the last m windows)")
    clear = 1 if clear is None else clear
    if not clear <= k <= m:
        raise fail(f"'alert' needs clear_k <= k <= m, got clear_k {clear}, k {k}, m {m}")
    return k, m, clear
