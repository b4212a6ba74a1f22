"""The alert gate (manifest `alert.wearer_baseline.gate`): only windows of the gate's classes raise, at the gate's
own point; the runtime's choices and refusals; and the export's fit, which chooses the classes from where the
training people's held-out windows land and keeps the gate where it catches more on validation recordings."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssvae_edge import Bundle
from ssvae_edge import alert_metrics as am
from ssvae_edge.alert_gate import gated
from ssvae_edge.errors import BundleError, InputError
from ssvae_edge.stream import StreamScorer
from ssvae_edge.wearer_baseline import adjusted_scores

edge_fixtures = pytest.importorskip("edge_fixtures")
CLASSES = edge_fixtures.CLASSES
GATE = {"classes": [CLASSES[0], CLASSES[3]], "prior_windows": 3, "k": 2, "m": 3, "clear_k": 1, "threshold": 0.2}
SECTION = {"prior": dict.fromkeys(CLASSES, 1.0), "prior_windows": 2, "k": 1, "m": 1, "clear_k": 1, "threshold": 0.3,
           "gate": GATE}


def bundle(tmp_path: Path, section: dict, name: str = "b") -> Bundle:
    alert = {"k": 2, "m": 2, "clear_k": 1, "wearer_baseline": section}
    return Bundle.load(edge_fixtures.make_bundle(tmp_path / name, graphs=("classifier", "anomaly"), alert=alert),
                       providers="cpu", threads=1)


def loud_stream() -> np.ndarray:
    x = edge_fixtures.noise_stream(8000, seed=5)
    x[2500:3500] *= 1.8
    x[5000:6000] *= 2.2
    return x


def test_only_windows_of_the_gates_classes_raise_at_the_gates_point(tmp_path: Path) -> None:
    b = bundle(tmp_path, SECTION)
    events = StreamScorer(b).feed(loud_stream())
    classes = [e["class"] for e in events]
    adjusted = adjusted_scores([e["score"] for e in events], classes, SECTION["prior"], GATE["prior_windows"])
    np.testing.assert_allclose([e["wearer_score"] for e in events], adjusted, rtol=1e-5, atol=1e-5)
    above = gated(adjusted, classes, GATE["classes"]) > GATE["threshold"]
    assert [e["alert"] for e in events] == am.debounce(above, GATE["k"], GATE["m"], GATE["clear_k"])
    outside = [a > GATE["threshold"] and c not in GATE["classes"] for a, c in zip(adjusted, classes, strict=True)]
    assert any(outside) and any(e["alert"] for e in events)  # the gate kept some windows above from counting
    summary = StreamScorer(b).flush()
    assert summary["alert_gate"] is True and summary["threshold"] == GATE["threshold"]


def test_turned_off_the_stream_uses_the_wearer_baselines_own_point(tmp_path: Path) -> None:
    b = bundle(tmp_path, SECTION)
    off = StreamScorer(b, gate=False)
    events = off.feed(loud_stream())
    adjusted = adjusted_scores([e["score"] for e in events], [e["class"] for e in events], SECTION["prior"],
                               SECTION["prior_windows"])
    assert [e["alert"] for e in events] == am.debounce(adjusted > SECTION["threshold"], 1, 1, 1)
    assert off.flush()["alert_gate"] is False and off.threshold == SECTION["threshold"]
    assert StreamScorer(b, wearer_baseline=False).gate is None  # no baseline, no gate: the plain point
    plain = bundle(tmp_path, {k: v for k, v in SECTION.items() if k != "gate"}, "plain")
    assert "alert_gate" not in StreamScorer(plain).flush()
    with pytest.raises(InputError, match="no 'alert.wearer_baseline.gate'"):
        StreamScorer(plain, gate=True)
    with pytest.raises(InputError, match="the wearer baseline is off"):
        StreamScorer(b, gate=True, wearer_baseline=False)


def test_the_stream_command_turns_the_gate_off(tmp_path: Path) -> None:
    b = bundle(tmp_path, SECTION)
    csv = tmp_path / "rec.csv"
    rows = "\n".join(",".join(f"{v:.5f}" for v in r) for r in loud_stream()[:3000])
    csv.write_text(",".join(edge_fixtures.CHANNELS) + "\n" + rows + "\n")
    for opts, on in (((), True), (("--no-alert-gate",), False)):
        p = subprocess.run([sys.executable, "-m", "ssvae_edge", "stream", str(b.path), "--input", str(csv), *opts],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        summary = json.loads(p.stdout.splitlines()[-1])
        assert summary["alert_gate"] is on
        assert summary["threshold"] == (GATE["threshold"] if on else SECTION["threshold"])
    from ssvae_edge.describe import bundle_summary, summary_rows

    rows = dict(summary_rows(b, bundle_summary(b, "fp32")))  # what `ssvae-edge info` shows on a terminal
    assert "only windows called WALKING, SITTING can raise" in rows["alert gate"]


@pytest.mark.parametrize(("change", "says"), [
    ({"classes": ["RUNNING"]}, "RUNNING is not one"),
    ({"classes": []}, "it is empty"),
    ({"k": 4, "m": 3}, "alert.wearer_baseline.gate' needs clear_k <= k <= m"),
    ({"prior_windows": 0}, "gate.prior_windows' must be a positive integer"),
    ({"threshold": "high"}, "gate.threshold"),
])
def test_a_broken_gate_is_refused_with_its_key(tmp_path: Path, change: dict, says: str) -> None:
    with pytest.raises(BundleError, match=says):
        bundle(tmp_path, {**SECTION, "gate": {**GATE, **change}})


def test_the_fit_gates_on_the_class_the_held_out_windows_get_and_keeps_it_where_it_catches_more(tmp_path) -> None:
    """The held-out activity is a louder version of class A's movement (the classifier calls it A); the validation
    wearers' normal time holds short, much louder bursts the classifier calls B. Ungated, the threshold must sit
    above the bursts and misses the held-out segments; gated to A, the bursts cannot raise and the segments do."""
    pytest.importorskip("torch")
    from ssvae_train.export.alert_point import HELD_OUT, Streams
    from ssvae_train.export.wearer_baseline_fit import GATE_SHARE, fit, write_with_baseline

    folder = edge_fixtures.make_bundle(tmp_path / "b", graphs=("classifier", "anomaly"),
                                       alert={"k": 2, "m": 2, "clear_k": 1, "hop": 64})
    w = np.asarray(edge_fixtures.numpy_helper.to_array(edge_fixtures.classifier().graph.initializer[1]))
    offset = {c: 0.6 * w[:, i] / np.linalg.norm(w[:, i]) for i, c in enumerate(CLASSES)}
    a, burst = "WALKING", "LAYING"
    called = {c: CLASSES[int(np.argmax(offset[c] @ w))] for c in (a, burst)}
    assert called == {a: a, burst: burst}  # the offsets steer the fixture's classifier
    rng = np.random.default_rng(0)

    def recording(n: int, held: list[tuple[int, int]], bursts: list[tuple[int, int]], held_label: str):
        x = (rng.standard_normal((n, len(edge_fixtures.CHANNELS))) * 0.3 + offset[a]).astype(np.float32)
        labels = np.full(n, a, dtype=object)
        for s, e in held:
            x[s:e] = (x[s:e] - offset[a]) * 1.6 + offset[a]
            labels[s:e] = held_label
        for s, e in bursts:
            x[s:e] = (rng.standard_normal((e - s, x.shape[1])) * 0.9 + offset[burst]).astype(np.float32)
            labels[s:e] = burst
        return x, labels

    train = [recording(12000, [(4000, 6000)], [], "WALKING_DOWNSTAIRS") for _ in range(2)]
    val = [recording(20000, [(6000, 7000), (14000, 15000)], [(3000, 3300), (10000, 10300), (17000, 17300)],
                     HELD_OUT) for _ in range(2)]
    streams = Streams([x for x, _ in val], [lab for _, lab in val], 128, 64, 50.0, {"recordings": ["p", "q"]},
                      unlabelled="")
    section, wins = fit(folder, [x for x, _ in train], streams, 1.0, [lab for _, lab in train], "WALKING_DOWNSTAIRS")
    g = section.gate
    assert g is not None and g.classes == (a,) and g.held_out_share[a] >= GATE_SHARE
    assert g.detected == 4 > g.ungated["detected"] and g.false_alerts_per_hour <= 1.0 and wins
    write_with_baseline(folder, tmp_path / "out", section)
    scorer = StreamScorer(Bundle.load(tmp_path / "out", providers="cpu", threads=1))
    assert scorer.gate == {a} and scorer.threshold == pytest.approx(g.threshold)
