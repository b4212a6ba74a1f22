"""Load an exported bundle: verify each graph's sha256, check its inputs/outputs against the contract,
open onnxruntime sessions, and run the three uses (classify, anomaly score, generate) on numpy arrays.

The bytes that are hashed are the bytes handed to onnxruntime, so a file swapped between the check and
the load cannot slip through.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ssvae_edge import providers as prov
from ssvae_edge.contract import BATCH, GRAPH_KEYS, GRAPH_NAMES, PRECISIONS, Manifest, Port, sha256_hex
from ssvae_edge.errors import BundleError, InputError
from ssvae_edge.input_checks import numbers


def _ports(args: Sequence[Any]) -> dict[str, Port]:
    out = {}
    for a in args:
        shape = None if a.shape is None else tuple(d if isinstance(d, int) else (d or None) for d in a.shape)
        out[a.name] = Port(a.name, a.type, shape)
    return out


def check_io(graph: str, session: ort.InferenceSession, expected: tuple[list[Port], list[Port]]) -> None:
    """Refuse a graph whose names, types or fixed dims differ from the contract.

    Symbolic dims are accepted anywhere (a sensor graph may leave its time axis dynamic); the batch axis
    must be symbolic, because the runtime scores micro-batches of any size.
    """
    want_in, want_out = expected
    got_in, got_out = _ports(session.get_inputs()), _ports(session.get_outputs())
    if set(got_in) != {p.name for p in want_in}:
        raise BundleError(f"{graph}: inputs are {sorted(got_in)}, the contract says "
                          f"{[p.name for p in want_in]}")
    for p in want_out:
        if p.name not in got_out:
            raise BundleError(f"{graph}: no output '{p.name}' (outputs: {sorted(got_out)})")
    for want, got, kind in [(p, got_in[p.name], "input") for p in want_in] + \
                           [(p, got_out[p.name], "output") for p in want_out]:
        if got.type != want.type:
            raise BundleError(f"{graph}: {kind} '{want.name}' is {got.type}, the contract says {want.type}")
        if got.shape is None:
            continue  # no static shape recorded: the output shape is checked on every run instead
        if len(got.shape) != len(want.shape):
            raise BundleError(f"{graph}: {kind} '{want.name}' has rank {len(got.shape)} "
                              f"[{got.describe()}], the contract says rank {len(want.shape)}")
        for axis, (w, g) in enumerate(zip(want.shape, got.shape, strict=True)):
            if w == BATCH:
                if isinstance(g, int):
                    raise BundleError(f"{graph}: {kind} '{want.name}' has a fixed batch axis ({g}); "
                                      "the contract needs a dynamic one")
            elif isinstance(g, int) and isinstance(w, int) and g != w:
                raise BundleError(f"{graph}: {kind} '{want.name}' axis {axis} is {g}, the manifest "
                                  f"implies {w} ({got.describe()})")


class Bundle:
    """An exported ssvae model, ready to run. Build it with `Bundle.load(path)`."""

    def __init__(self, path: Path, manifest: Manifest, sessions: dict[str, ort.InferenceSession],
                 providers: list[str], provider_note: str, threads: int | None,
                 precisions: dict[str, str] | None = None):
        self.path = path
        self.manifest = manifest
        self.sessions = sessions
        self.providers = providers
        self.provider_note = provider_note
        self.threads = threads
        self.precisions = precisions or {g: "fp32" for g in sessions}  # the precision each graph runs in
        self._inputs = {g: _ports(s.get_inputs()) for g, s in sessions.items()}

    # ---- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, providers: str | Sequence[str] | None = "auto",
             threads: int | None = None, precision: str = "fp32") -> Bundle:
        """Read the manifest, verify every graph (sha256, contract), and open sessions.

        Every graph the manifest lists, fp32 (`graphs`) and int8 (`graphs_int8`), is hash-checked,
        so a corrupt bundle is refused whichever precision is asked for; of those, the three the
        contract names are opened in `precision` (an unknown extra graph is verified but not run).

        `providers`: "auto" (CUDA when offered, else CPU), or names ("cuda,cpu", ["CPUExecutionProvider"]).
        `threads`: onnxruntime intra-op threads; None or 0 lets onnxruntime pick (one per core).
        `precision`: "fp32", or "int8" (the statically quantized graphs of `graphs_int8`; a graph the
        bundle has no int8 version of runs in fp32, and `precisions` says which ran how).
        """
        path = Path(path)
        manifest = Manifest.load(path)
        folder = manifest.path.parent
        if threads is not None and (not isinstance(threads, int) or threads < 0):
            raise InputError(f"threads must be a non-negative integer, got {threads!r}")
        if precision not in PRECISIONS:
            raise InputError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        if precision == "int8" and not manifest.graphs_int8:
            raise BundleError(f"{folder}: this bundle has no int8 graphs (export it with --quantize int8)")
        choice = prov.choose(providers)

        blobs: dict[tuple[str, str], bytes] = {}
        for prec in PRECISIONS:
            for name, entry in manifest.graph_set(prec).items():
                blobs[prec, name] = _verified(folder, GRAPH_KEYS[prec], name, entry.file, entry.sha256)
        chosen = {name: precision if (precision, name) in blobs else "fp32"
                  for name in GRAPH_NAMES if ("fp32", name) in blobs}

        options = session_options(threads)
        expected = manifest.io_specs()
        sessions: dict[str, ort.InferenceSession] = {}
        used: list[str] = []
        for name, prec in chosen.items():
            try:
                with warnings.catch_warnings():
                    # onnxruntime warns and falls back when a provider is missing; `report` says it.
                    warnings.simplefilter("ignore")
                    session = ort.InferenceSession(blobs[prec, name], options, providers=list(choice.requested))
            except Exception as e:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                file = manifest.graph_set(prec)[name].file
                raise BundleError(f"{name}: onnxruntime cannot load {file}: {msg}") from None
            check_io(name, session, expected[name])
            sessions[name] = session
            used += [p for p in session.get_providers() if p not in used]
        note = prov.report(choice, used)
        return cls(folder, manifest, sessions, used, note, threads, chosen)

    # ---- what the bundle holds -----------------------------------------------------------------
    @property
    def graphs(self) -> tuple[str, ...]:
        """The graphs this bundle holds (a supervised bundle may hold only the classifier)."""
        return tuple(self.sessions)

    def has(self, graph: str) -> bool:
        return graph in self.sessions

    @property
    def classes(self) -> tuple[str, ...]:
        return self.manifest.classes

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.manifest.sample_shape

    @property
    def channels(self) -> tuple[str, ...] | None:
        return self.manifest.channels

    @property
    def window(self) -> int | None:
        return self.manifest.window

    @property
    def hop(self) -> int | None:
        return self.manifest.hop

    @property
    def sample_rate_hz(self) -> float | None:
        return self.manifest.sample_rate_hz

    @property
    def latent_dim(self) -> int | None:
        return self.manifest.latent_dim

    @property
    def precision(self) -> str:
        """"int8" when any graph runs in int8, else "fp32"."""
        return "int8" if "int8" in self.precisions.values() else "fp32"

    @property
    def threshold(self) -> float | None:
        """The alert threshold calibrated for the anomaly graph that runs (int8 has its own)."""
        if self.precisions.get("anomaly") == "int8" and self.manifest.threshold_int8 is not None:
            return self.manifest.threshold_int8
        return self.manifest.threshold

    def graph_file(self, graph: str) -> str:
        """The file of `graph` in the precision it runs in."""
        return self.manifest.graph_set(self.precisions[graph])[graph].file

    def io(self) -> dict[str, dict[str, list[str]]]:
        """Each graph's inputs and outputs as readable strings, for `ssvae-edge info`."""
        return {g: {"inputs": [p.describe() for p in _ports(s.get_inputs()).values()],
                    "outputs": [p.describe() for p in _ports(s.get_outputs()).values()]}
                for g, s in self.sessions.items()}

    def class_index(self, class_: int | str) -> int:
        """A class given by index or by name (exact, then case-insensitive) as an index."""
        k = len(self.classes)
        if isinstance(class_, bool):
            raise InputError(f"class must be an index or a name, got {class_!r}")
        if isinstance(class_, int | np.integer):
            if not 0 <= int(class_) < k:
                raise InputError(f"class index {class_} out of range 0..{k - 1}")
            return int(class_)
        if isinstance(class_, str):
            if class_ in self.classes:
                return self.classes.index(class_)
            folded = [c.lower() for c in self.classes]
            if class_.lower() in folded:
                return folded.index(class_.lower())
            if class_.strip().lstrip("-").isdigit():
                return self.class_index(int(class_))
            raise InputError(f"unknown class {class_!r} (classes: {', '.join(self.classes)})")
        raise InputError(f"class must be an index or a name, got {class_!r}")

    # ---- the three uses ------------------------------------------------------------------------
    def _session(self, graph: str) -> ort.InferenceSession:
        if graph not in self.sessions:
            raise BundleError(f"this bundle has no {graph} graph (it holds: {', '.join(self.graphs)})")
        return self.sessions[graph]

    def _batch(self, graph: str, x: Any) -> np.ndarray:
        """Validate samples against the graph's declared input: numeric, finite, right shape."""
        self._session(graph)
        arr = numbers(x, f"{graph}: x")
        port = self._inputs[graph]["x"]
        if arr.ndim == len(self.sample_shape):
            arr = arr[None]  # one sample: a batch of one
        want = port.shape or (BATCH, *self.sample_shape)
        if arr.ndim != len(want) or any(isinstance(w, int) and w != g for w, g in zip(want[1:], arr.shape[1:],
                                                                                     strict=True)):
            dims = ", ".join(str(d) if isinstance(d, int) else "N" if i == 0 else "?"
                             for i, d in enumerate(want))
            raise InputError(f"{graph}: x must have shape [{dims}], got {list(arr.shape)}")
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise InputError(f"{graph}: x holds {bad} NaN/inf value(s); refusing to score them")
        return np.ascontiguousarray(arr)

    def _run(self, graph: str, output: str, feeds: dict[str, np.ndarray],
             shape: tuple[int, ...]) -> np.ndarray:
        (out,) = self._session(graph).run([output], feeds)
        if out.shape != shape:
            raise BundleError(f"{graph}: '{output}' came back with shape {list(out.shape)}, "
                              f"the contract says {list(shape)}")
        return out

    def classify(self, x: Any) -> np.ndarray:
        """Class probabilities float32 [N, K] for raw samples [N, *sample_shape] (or one sample)."""
        arr = self._batch("classifier", x)
        return self._run("classifier", "probs", {"x": arr}, (len(arr), len(self.classes)))

    def anomaly_score(self, x: Any) -> np.ndarray:
        """Anomaly scores float32 [N] (higher = less like the training data; compare to `threshold`)."""
        arr = self._batch("anomaly", x)
        return self._run("anomaly", "score", {"x": arr}, (len(arr),))

    def generate(self, class_: int | str, n: int = 1, seed: int | None = None) -> np.ndarray:
        """`n` samples [n, *sample_shape] of a class, decoding z ~ N(0, 1) from numpy Generator(seed)."""
        self._session("decoder")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"n must be a non-negative integer, got {n!r}")
        y = np.full(int(n), self.class_index(class_), dtype=np.int64)
        z = np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype(np.float32)
        return self._run("decoder", "x_hat", {"z": z, "y": y}, (int(n), *self.sample_shape))

    def __repr__(self) -> str:
        return (f"Bundle({str(self.path)!r}, graphs={list(self.graphs)}, precision={self.precision!r}, "
                f"providers={self.providers})")


def session_options(threads: int | None) -> ort.SessionOptions:
    """The options every session of the runtime gets: quiet logs, `threads` intra-op threads (None or 0:
    onnxruntime's default)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about node placement are noise on a device
    if threads:
        options.intra_op_num_threads = threads
    return options


def _verified(folder: Path, key: str, name: str, file_name: str, sha256: str) -> bytes:
    """The bytes of one listed graph, refused unless they match the manifest's sha256."""
    file = folder / file_name
    label = name if key == "graphs" else f"{name} (int8)"
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{label}: {file} is missing from the bundle") from None
    except OSError as e:
        raise BundleError(f"{label}: cannot read {file} ({e})") from None
    digest = sha256_hex(data)
    if digest != sha256:
        raise BundleError(f"{label}: {file_name} does not match its sha256 in the manifest "
                          f"(expected {sha256[:12]}…, file has {digest[:12]}…): the bundle "
                          "was modified or is corrupt")
    return data
