"""The bundle contract (docs/bundle-format.md), in one torch-free module that the exporter (`ssvae_train.export`)
and the runtime (`ssvae_edge.Bundle`) both use: graph names and files, each graph's inputs and outputs, the
format version, the manifest (`Manifest`: its layout, typed, its sections in `sections.py`; build, write,
read and validate), and the one sha256 helper. A contract change is a change here.

Validation happens once, at load, so the rest of the runtime can trust the values: a device must refuse a
bundle it cannot interpret rather than guess (a wrong window length would give silently wrong labels).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ssvae_edge.errors import BundleError, InputError
from ssvae_edge.mounting import check_section
from ssvae_edge.posture import check_section as check_posture
from ssvae_edge.records import Fail, Record, int_list, name_list, opt_float, opt_int
from ssvae_edge.sections import (
    CANONICAL_TURN,
    Alert,
    Composition,
    Ensemble,
    Frame,
    GraphEntry,
    LatentPrior,
    Mounting,
    Posture,
    Producer,
    Quantization,
    Refit,
    Score,
    Sensor,
    Sequence,
    Smoothing,
    ThresholdCalibration,
    Validation,
    WearerBaselineSection,
)
from ssvae_edge.sequence import check_model
from ssvae_edge.wearer_baseline import check_section as check_wearer_baseline

FORMAT = 1
MANIFEST_FILE = "manifest.json"
GRAPH_NAMES = ("classifier", "anomaly", "decoder")
PRECISIONS = ("fp32", "int8")
GRAPH_KEYS = {"fp32": "graphs", "int8": "graphs_int8"}  # the manifest key listing each precision's graphs
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


# ---- manifest ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Manifest(Record):
    """manifest.json: every key typed, in the order a bundle writes it (this class is the layout, written once;
    docs/bundle-format.md says what each key means). `from_json` validates; `to_json` gives the JSON back
    (a manifest read and written again keeps its bytes)."""

    # written as null when None: every key up to `validation` is in every bundle; the last nine only where
    # they apply (int8 graphs, class smoothing, sequence decoding, the mounting estimate, an M1+M2 run, the
    # posture second opinion, a refit's borrowed choices, a model that turns its windows)
    NULLABLE = frozenset({"dtype", "units", "channels", "sample_rate_hz", "window", "hop", "max_value",
                          "time_axis_dynamic", "latent_dim", "threshold", "threshold_calibration", "alert",
                          "score_method", "score", "latent_prior", "opset", "producer", "validation"})

    format: int
    graphs: Mapping[str, GraphEntry]
    classes: tuple[str, ...]
    sample_shape: tuple[int, ...]
    dtype: str | None = None
    units: str | None = None
    channels: tuple[str, ...] | None = None
    sample_rate_hz: float | None = None
    window: int | None = None
    hop: int | None = None
    max_value: float | None = None
    time_axis_dynamic: bool | None = None
    latent_dim: int | None = None
    threshold: float | None = None
    threshold_calibration: ThresholdCalibration | None = None
    alert: Alert | None = None
    score_method: str | None = None
    score: Score | None = None
    latent_prior: LatentPrior | None = None
    opset: int | None = None
    producer: Producer | None = None
    validation: Validation | None = None
    graphs_int8: Mapping[str, GraphEntry] | None = None
    quantization: Quantization | None = None
    smoothing: Smoothing | None = None
    sequence: Sequence | None = None
    mounting: Mounting | None = None
    composition: Composition | None = None
    posture: Posture | None = None
    refit: Refit | None = None
    frame: Frame | None = None
    ensemble: Ensemble | None = None
    path: Path = field(default=Path(MANIFEST_FILE), kw_only=True, compare=False, metadata={"json": False})

    # ---- what the runtime reads ----
    def graph_set(self, precision: str) -> Mapping[str, GraphEntry]:
        """The graphs of one precision: fp32 (`graphs`) or int8 (`graphs_int8`)."""
        return self.graphs if precision == "fp32" else (self.graphs_int8 or {})

    def io_specs(self) -> dict[str, IO]:
        """`io_specs` sized by this manifest (fixed window: a runtime accepts a symbolic axis anywhere)."""
        return io_specs(self.sample_shape, len(self.classes), self.latent_dim)

    @property
    def sensor(self) -> Sensor | None:
        """The stream fields as one record; None for a bundle of images or vectors."""
        if self.channels is None or self.window is None or self.hop is None:
            return None
        return Sensor(self.channels, self.sample_rate_hz, self.window, self.hop)

    @property
    def is_sensor(self) -> bool:
        """Sensor bundles carry what streaming needs: channel names, window and hop."""
        return self.sensor is not None

    @property
    def threshold_int8(self) -> float | None:
        """The int8 anomaly graph's own threshold (`graphs_int8.anomaly.threshold`)."""
        entry = (self.graphs_int8 or {}).get("anomaly")
        return None if entry is None or entry.threshold is None else float(entry.threshold)

    @property
    def alert_debounce(self) -> tuple[int, int, int] | None:
        """(k, m, clear_k) of the alert operating point; None without one (the runtime's defaults apply)."""
        return None if self.alert is None else (self.alert.k, self.alert.m, self.alert.clear_k or 1)

    @property
    def alert_hop(self) -> int | None:
        """The hop the alert operating point was fitted at (`alert.hop`, else the manifest's `hop`)."""
        return self.alert.hop if self.alert is not None and self.alert.hop is not None else self.hop

    @property
    def wearer_baseline(self) -> WearerBaselineSection | None:
        """The alert point on the wearer-adjusted score (`alert.wearer_baseline`), or None."""
        return self.alert.wearer_baseline if self.alert is not None else None

    @property
    def smoothing_windows(self) -> int:
        """How many windows' probabilities a stream event's class is the mean of (1: no smoothing)."""
        return 1 if self.smoothing is None else self.smoothing.windows

    @property
    def sequence_model(self) -> tuple[list[list[float]], list[float]] | None:
        """(transition, class_prior) of the sequence filter a stream runs (`ssvae_edge.sequence`), or None."""
        if self.sequence is None:
            return None
        return [list(r) for r in self.sequence.transition], list(self.sequence.class_prior)

    @property
    def excluded_class_name(self) -> str | None:
        """The class held out of training (an anomaly bundle), or None."""
        return None if self.producer is None else self.producer.excluded_class_name

    # ---- build, write, read ----
    @classmethod
    def build(cls, graph_files: Mapping[str, Path], **keys: Any) -> Manifest:
        """The manifest of a bundle whose fp32 graphs are the files `graph_files` (name -> path): `format` and
        `graphs` (file, sha256) filled in here, every other key given. Refused (BundleError) unless it
        validates as a loaded one does."""
        unknown = [k for k in graph_files if k not in GRAPH_NAMES]
        if unknown:
            raise BundleError(f"graphs {unknown}: the contract names only {', '.join(GRAPH_NAMES)}")
        graphs = {name: GraphEntry(p.name, file_sha256(p)) for name, p in graph_files.items()}
        return cls(format=FORMAT, graphs=graphs, **keys).checked()

    def checked(self) -> Manifest:
        """This manifest as a device would read it from its file (validated), or BundleError."""
        return Manifest.from_json(json.loads(json.dumps(self.to_json())), self.path)

    def write(self, folder: Path) -> None:
        """`manifest.json` in `folder`, as every bundle holds it (written last: a folder with one is finished)."""
        (Path(folder) / MANIFEST_FILE).write_text(json.dumps(self.to_json(), indent=2) + "\n")

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
        return cls.from_json(raw, file)

    @classmethod
    def from_json(cls, raw: Any, path: Path | str = MANIFEST_FILE) -> Manifest:  # type: ignore[override]
        """Validate a parsed manifest; every refusal names the key and what was expected."""
        path = Path(path)
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
        opt_float((int8_raw.get("anomaly") or {}).get("threshold"), "graphs_int8.anomaly.threshold", fail,
                  positive=False)

        name_list(raw.get("classes"), "classes", fail)
        sample_shape = int_list(raw.get("sample_shape"), "sample_shape", fail)
        channels = None if raw.get("channels") is None else name_list(raw["channels"], "channels", fail)
        window = opt_int(raw.get("window"), "window", fail)
        hop = opt_int(raw.get("hop"), "hop", fail)
        latent_dim = opt_int(raw.get("latent_dim"), "latent_dim", fail)
        opt_int(raw.get("opset"), "opset", fail)
        opt_float(raw.get("sample_rate_hz"), "sample_rate_hz", fail, positive=True)
        opt_float(raw.get("threshold"), "threshold", fail, positive=False)
        _check_alert(raw.get("alert"), fail)
        smoothing = raw.get("smoothing") or {}
        if not isinstance(smoothing, dict):
            raise fail("'smoothing' must be an object with 'windows'")
        smoothing_windows = smoothing.get("windows", 1)
        if isinstance(smoothing_windows, bool) or not isinstance(smoothing_windows, int) or smoothing_windows < 1:
            raise fail("'smoothing.windows' must be a positive integer")
        if raw.get("sequence") is not None:
            seq = raw["sequence"]
            if not isinstance(seq, dict):
                raise fail("'sequence' must be an object with 'transition' and 'class_prior'")
            try:
                check_model(seq.get("transition"), seq.get("class_prior"), len(raw.get("classes") or ()))
            except InputError as e:
                raise fail(str(e)) from None
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

        # the contract keys are checked above, with their own words; the sections by their types
        sections = {k: v for k, v in raw.items() if k not in ("graphs", "graphs_int8")}
        typed = super().from_json({**sections, "graphs": {}}, "", fail)
        if typed.frame is not None:
            f = typed.frame
            if f.name != CANONICAL_TURN or len(f.by) != 3 or not f.turned or len(f.turned) % 2:
                raise fail("'frame' must be canonical-turn, with 'by' an x/y/z triple and 'turned' y/z pairs")
            if channels is None or not set(f.by + f.turned) <= set(channels):
                raise fail("'frame' names channels the bundle does not have")
        if typed.mounting is not None:
            if channels is None:
                raise fail("'mounting' is for sensor bundles ('channels')")
            try:
                check_section(typed.mounting, channels)
            except InputError as e:
                raise fail(str(e)) from None
        if typed.posture is not None:
            if channels is None:
                raise fail("'posture' is for sensor bundles ('channels')")
            try:
                check_posture(typed.posture, channels, typed.classes)
            except InputError as e:
                raise fail(str(e)) from None
        if typed.wearer_baseline is not None:
            try:
                check_wearer_baseline(typed.wearer_baseline, typed.classes)
            except InputError as e:
                raise fail(str(e)) from None
        return replace(typed, graphs=graphs, graphs_int8=graphs_int8 if "graphs_int8" in raw else None,
                       path=path)


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
        out[name] = replace(GraphEntry.from_json(entry, f"{key}.{name}", fail), sha256=sha.lower())
    return out


def _check_alert(alert: Any, fail: Fail, where: str = "alert") -> None:
    """`alert.k`, `alert.m`, `alert.clear_k` (the calibrated debounce), checked like the runtime's own options;
    the same for the wearer baseline's point (`alert.wearer_baseline`)."""
    if alert is None:
        return
    if not isinstance(alert, dict):
        raise fail(f"'{where}' must be an object (the alert operating point)")
    k, m, clear = (opt_int(alert.get(key), f"{where}.{key}", fail) for key in ("k", "m", "clear_k"))
    if k is None or m is None:
        raise fail(f"'{where}' needs 'k' and 'm' (raise on k of the last m windows)")
    clear = 1 if clear is None else clear
    if not clear <= k <= m:
        raise fail(f"'{where}' needs clear_k <= k <= m, got clear_k {clear}, k {k}, m {m}")
    if where == "alert":
        _check_alert(alert.get("wearer_baseline"), fail, "alert.wearer_baseline")
    if where == "alert.wearer_baseline":
        _check_alert(alert.get("gate"), fail, "alert.wearer_baseline.gate")
