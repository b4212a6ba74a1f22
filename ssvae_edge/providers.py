"""Choose onnxruntime execution providers, then report the ones a session REALLY uses.

onnxruntime accepts a provider list and silently falls back to CPU when a GPU provider cannot start
(missing CUDA libraries, no device). A device log that says "CUDA" while the work runs on CPU is worse
than useless, so the choice (`choose`) and the report (`report`) are separate steps: the report is
built from `InferenceSession.get_providers()` after the sessions exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import onnxruntime as ort

from ssvae_edge.errors import ProviderError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"

# Short names a person types on a command line.
ALIASES = {
    "cpu": CPU,
    "cuda": CUDA,
    "gpu": CUDA,
    "tensorrt": TENSORRT,
    "trt": TENSORRT,
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
}

# `auto` prefers CUDA: TensorRT builds an engine per input shape on first use (minutes, and again for
# each new batch size), which suits a fixed deployment better than a default. Ask for it by name.
_AUTO_PREFERENCE = (CUDA, TENSORRT)


@dataclass(frozen=True)
class ProviderChoice:
    """What will be asked of onnxruntime, and whether the user asked by name (`auto` is False)."""

    requested: tuple[str, ...]
    auto: bool
    available: tuple[str, ...]


def available_providers() -> list[str]:
    """The providers this onnxruntime build offers (a wrapper so tests can pretend a GPU build)."""
    return list(ort.get_available_providers())


def choose(spec: str | Sequence[str] | None = "auto") -> ProviderChoice:
    """Turn `auto`, a comma list or a list of names into the list handed to InferenceSession.

    Names may be full (`CUDAExecutionProvider`) or short (`cuda`, `cpu`, `tensorrt`). A name this build
    does not offer is refused here, before any session exists, with the list of what is offered.
    """
    available = tuple(available_providers())
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "auto")):
        for p in _AUTO_PREFERENCE:
            if p in available:
                return ProviderChoice((p, CPU), True, available)
        return ProviderChoice((CPU,), True, available)

    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    names = [n for n in names if n]
    if not names:
        raise ProviderError("no execution provider given (use 'auto' or a comma list such as 'cuda,cpu')")
    if any(n.lower() == "auto" for n in names):
        raise ProviderError("'auto' cannot be mixed with provider names")
    known = set(ort.get_all_providers())
    requested: list[str] = []
    for n in names:
        full = ALIASES.get(n.lower(), n)
        if full not in known:
            raise ProviderError(f"unknown execution provider {n!r} (known: {', '.join(sorted(known))})")
        if full not in available:
            raise ProviderError(f"{full} is not available in this onnxruntime build "
                                f"(available: {', '.join(available)})")
        if full not in requested:
            requested.append(full)
    return ProviderChoice(tuple(requested), False, available)


def report(choice: ProviderChoice, used: Sequence[str]) -> str:
    """A one-line note on what runs where; refuses an explicit request onnxruntime did not honour."""
    used = list(used)
    shown = ", ".join(used) if used else "none"
    if not choice.auto:
        missing = [p for p in choice.requested if p not in used]
        if missing:
            raise ProviderError(f"{', '.join(missing)} was requested but could not start "
                                f"(onnxruntime fell back to {shown})")
        return f"explicit: using {shown}"
    first = choice.requested[0]
    if first == CPU:
        return f"auto: CUDA not available, using {shown}"
    if first not in used:
        return f"auto: {first} is offered but could not start (onnxruntime fell back), using {shown}"
    rest = [p for p in used if p != first]
    tail = f" ({', '.join(rest)} for nodes it does not support)" if rest else ""
    return f"auto: using {first}{tail}"
