"""The typed manifest (`contract.Manifest`, sections in `ssvae_edge/sections.py`): every committed bundle reads
and writes back to the same bytes; keys a newer exporter adds are kept; a section's wrongly typed value is
refused with the key named."""

from __future__ import annotations

import json
import re
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
    assert m.sensor.window == m.window == 128 and m.sensor.channels == m.channels and m.is_sensor
    assert Manifest.load(EXPORTED / "mnist-conv").sensor is None


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


def test_every_manifest_key_is_documented_in_the_repository() -> None:
    """docs/bundle-format.md names every key of the manifest and of each of its sections; nothing cites a
    design file outside the repository."""
    from ssvae_edge import sections

    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "bundle-format.md").read_text()
    records = [Manifest] + [c for c in vars(sections).values() if isinstance(c, type)
                            and issubclass(c, sections.Record) and c.__module__ == sections.__name__]
    missing = [f"{c.__name__}.{k}" for c in records for k in c.keys() if f"`{k}`" not in doc]
    assert not missing, f"keys docs/bundle-format.md does not describe: {missing}"
    for cites in ("ssvae_edge/contract.py", "exported/README.md", "ssvae_edge/sections.py"):
        assert "docs/bundle-format.md" in (root / cites).read_text(), f"{cites} does not cite the format"
    tracked = [p for d in ("ssvae_edge", "ssvae_train", "tools", "tests", "docs", "exported")
               for p in (root / d).rglob("*") if p.suffix in (".py", ".md", ".sh")] + [root / "README.md"]
    outside = [str(p.relative_to(root)) for p in tracked if re.search(r"DESIGN\.md|\.\./shared/seed", p.read_text())
               and p.name != "test_manifest.py"]
    assert not outside, f"cite a design file outside the repository: {outside}"
