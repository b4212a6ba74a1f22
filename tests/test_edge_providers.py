"""Execution providers: `auto` reports what onnxruntime REALLY uses; explicit names are honoured or
refused."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
from edge_fixtures import make_bundle

from ssvae_edge import Bundle, ProviderError
from ssvae_edge import providers as prov


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "b")


CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
MonkeyPatch = pytest.MonkeyPatch


def test_auto_without_cuda_uses_cpu_and_says_so(bundle_dir: Path, monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr(prov, "available_providers", lambda: ["AzureExecutionProvider", CPU])
    b = Bundle.load(bundle_dir)
    assert b.providers == ["CPUExecutionProvider"]
    assert b.provider_note == "auto: CUDA not available, using CPUExecutionProvider"


def test_auto_reports_a_silent_fallback(bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime builds that list CUDA but cannot start it fall back to CPU without an error."""
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime really has CUDA")
    monkeypatch.setattr(prov, "available_providers", lambda: [CUDA, CPU])
    b = Bundle.load(bundle_dir)
    assert b.providers == ["CPUExecutionProvider"]  # what the sessions really use
    assert "CUDAExecutionProvider is offered but could not start" in b.provider_note
    assert b.provider_note.endswith("using CPUExecutionProvider")


def test_explicit_provider_that_fell_back_is_refused(bundle_dir: Path, monkeypatch: MonkeyPatch) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime really has CUDA")
    monkeypatch.setattr(prov, "available_providers", lambda: [CUDA, CPU])
    with pytest.raises(ProviderError, match="CUDAExecutionProvider was requested but could not start"):
        Bundle.load(bundle_dir, providers="cuda,cpu")


def test_explicit_unavailable_provider_is_refused(bundle_dir: Path) -> None:
    if "TensorrtExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime really has TensorRT")
    with pytest.raises(ProviderError, match=f"{TRT} is not available in this onnxruntime build"):
        Bundle.load(bundle_dir, providers=[TRT, CPU])
    with pytest.raises(ProviderError, match="unknown execution provider 'warp-drive'"):
        Bundle.load(bundle_dir, providers="warp-drive")
    with pytest.raises(ProviderError, match="no execution provider"):
        Bundle.load(bundle_dir, providers=" , ")


def test_explicit_cpu_is_honoured_with_threads(bundle_dir: Path) -> None:
    b = Bundle.load(bundle_dir, providers="cpu", threads=1)
    assert b.providers == ["CPUExecutionProvider"]
    assert b.provider_note == "explicit: using CPUExecutionProvider"
    assert b.threads == 1
    assert b.sessions["classifier"].get_session_options().intra_op_num_threads == 1
    b = Bundle.load(bundle_dir, providers=["CPUExecutionProvider"])
    assert b.providers == ["CPUExecutionProvider"]


def test_choose_prefers_cuda_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prov, "available_providers", lambda: [TRT, CUDA, CPU])
    c = prov.choose("auto")
    assert c.requested == ("CUDAExecutionProvider", "CPUExecutionProvider") and c.auto
    assert prov.report(c, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == \
        "auto: using CUDAExecutionProvider (CPUExecutionProvider for nodes it does not support)"
    assert prov.choose("trt,cuda,cpu").requested == (
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
