"""The typed manifest (`contract.Manifest`, sections in `ssvae_edge/sections.py`): every committed bundle reads
and writes back to the same bytes; keys a newer exporter adds are kept; a section's wrongly typed value is
refused with the key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssvae_edge.contract import Manifest
from ssvae_edge.errors import BundleError
from ssvae_edge.sections import Alert, Score

EXPORTED = Path(__file__).resolve().parents[1] / "exported"
MANIFESTS = sorted(EXPORTED.glob("*/manifest.json"))


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.parent.name for p in MANIFESTS])
def test_a_committed_manifest_reads_and_writes_back_to_the_same_bytes(path: Path, tmp_path: Path) -> None:
    m = Manifest.load(path)
    m.write(tmp_path)
    assert (tmp_path / "manifest.json").read_bytes() == path.read_bytes()


def test_the_sections_are_typed_records() -> None:
    m = Manifest.load(EXPORTED / "har-lstm-novelty")
    assert isinstance(m.alert, Alert) and isinstance(m.score, Score)
    assert m.alert_debounce == (m.alert.k, m.alert.m, m.alert.clear_k)
    assert m.excluded_class_name == m.producer.excluded_class_name == "WALKING_DOWNSTAIRS"
    assert m.threshold_int8 == m.graphs_int8["anomaly"].threshold
    assert m.score.method == m.score_method


def _raw() -> dict:
    return json.loads((EXPORTED / "har-lstm-novelty" / "manifest.json").read_text())


def test_keys_a_newer_exporter_adds_are_kept_after_the_known_ones() -> None:
    raw = _raw()
    raw["alert"] = {"future_key": [1, 2], **raw["alert"]}
    raw["future_section"] = {"x": 1}
    out = Manifest.from_json(raw).to_json()
    assert out["future_section"] == {"x": 1} and list(out)[-1] == "future_section"
    assert out["alert"]["future_key"] == [1, 2] and list(out["alert"])[-1] == "future_key"


@pytest.mark.parametrize(("section", "key", "value", "words"), [
    ("alert", "hop", "64", "'alert.hop' must be an integer"),
    ("producer", "seed", 1.5, "'producer.seed' must be an integer"),
    ("score", "parts", "maha_h", "'score.parts' must be a list"),
    ("quantization", "per_channel", "yes", "'quantization.per_channel' must be true or false"),
])
def test_a_wrongly_typed_section_value_is_refused_naming_the_key(section: str, key: str, value, words: str) -> None:
    raw = _raw()
    raw[section][key] = value
    with pytest.raises(BundleError, match=words.replace(".", r"\.")):
        Manifest.from_json(raw)
