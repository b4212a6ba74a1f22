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


def scenario(tmp_path: Path, train_held_looks_like: str, val_held_looks_like: str, val_held_sd: float = 0.48):
    """Recordings for the export's fit, normal time WALKING's movement (noise of 0.3 about its offset): the
    held-out activity is a louder version of `train_held_looks_like`'s movement in the training people's
    recordings (the classifier calls it that), and of `val_held_looks_like`'s in the validation wearers' (noise of
    `val_held_sd`), whose normal time also holds a quiet SITTING stretch and short LAYING bursts (0.9)."""
    from ssvae_train.export.alert_point import HELD_OUT, Streams

    folder = edge_fixtures.make_bundle(tmp_path / "b", graphs=("classifier", "anomaly"),
                                       alert={"k": 2, "m": 2, "clear_k": 1, "hop": 64})
    w = np.asarray(edge_fixtures.numpy_helper.to_array(edge_fixtures.classifier().graph.initializer[1]))
    offset = {c: 0.6 * w[:, i] / np.linalg.norm(w[:, i]) for i, c in enumerate(CLASSES)}
    called = {c: CLASSES[int(np.argmax(offset[c] @ w))]
              for c in ("WALKING", "LAYING", "SITTING", train_held_looks_like, val_held_looks_like)}
    assert all(k == v for k, v in called.items())  # the offsets steer the fixture's classifier
    rng = np.random.default_rng(0)

    def recording(n: int, held: list[tuple[int, int]], bursts: list[tuple[int, int]], held_label: str, looks: str,
                  sd: float):
        x = (rng.standard_normal((n, len(edge_fixtures.CHANNELS))) * 0.3 + offset["WALKING"]).astype(np.float32)
        labels = np.full(n, "WALKING", dtype=object)
        for s, e in held:
            x[s:e] = (rng.standard_normal((e - s, x.shape[1])) * sd + offset[looks]).astype(np.float32)
            labels[s:e] = held_label
        if held_label == HELD_OUT:  # a validation wearer sits for a while
            x[1000:2000] = (rng.standard_normal((1000, x.shape[1])) * 0.3 + offset["SITTING"]).astype(np.float32)
            labels[1000:2000] = "SITTING"
        for s, e in bursts:
            x[s:e] = (rng.standard_normal((e - s, x.shape[1])) * 0.9 + offset["LAYING"]).astype(np.float32)
            labels[s:e] = "LAYING"
        return x, labels

    train = [recording(12000, [(4000, 6000)], [], "WALKING_DOWNSTAIRS", train_held_looks_like, 0.48)
             for _ in range(2)]
    val = [recording(20000, [(6000, 7000), (14000, 15000)], [(3000, 3300), (10000, 10300), (17000, 17300)],
                     HELD_OUT, val_held_looks_like, val_held_sd) for _ in range(2)]
    streams = Streams([x for x, _ in val], [lab for _, lab in val], 128, 64, 50.0, {"recordings": ["p", "q"]},
                      unlabelled="")
    return folder, [x for x, _ in train], [lab for _, lab in train], streams


def test_the_fit_gates_on_the_class_the_held_out_windows_get_and_keeps_it_where_it_catches_more(tmp_path) -> None:
    """Ungated, the threshold must sit above the LAYING bursts and misses the held-out segments; gated to WALKING
    (where the training people's held-out windows land), the bursts cannot raise and the segments do."""
    pytest.importorskip("torch")
    from ssvae_train.export.alert_gate_choice import GATE_SHARE
    from ssvae_train.export.wearer_baseline_fit import fit, write_with_baseline

    folder, train_x, train_labels, streams = scenario(tmp_path, "WALKING", "WALKING")
    section, wins = fit(folder, train_x, streams, 1.0, train_labels, "WALKING_DOWNSTAIRS")
    g = section.gate
    assert g is not None and g.classes == ("WALKING",) and g.held_out_share["WALKING"] >= GATE_SHARE
    assert g.detected == 4 > g.ungated["detected"] and g.false_alerts_per_hour <= 1.0
    plain = section.plain_score["detected"]
    assert wins == (g.detected > plain and section.detected >= plain)  # the ungated point never worse than plain
    write_with_baseline(folder, tmp_path / "out", section)
    scorer = StreamScorer(Bundle.load(tmp_path / "out", providers="cpu", threads=1))
    assert scorer.gate == {"WALKING"} and scorer.threshold == pytest.approx(g.threshold)


def test_the_classes_come_from_the_training_people_and_a_losing_gate_is_left_out(tmp_path) -> None:
    """The training people's held-out windows look like SITTING, the validation wearers' like STANDING, louder than
    the bursts: the gate comes from the training people (SITTING), catches fewer validation segments than the
    ungated point, and is left out, saying so."""
    pytest.importorskip("torch")
    from ssvae_edge.sections import WearerBaselineSection
    from ssvae_train.export.alert_gate_choice import held_out_share
    from ssvae_train.export.wearer_baseline_fit import fit, fit_gate, stream_whole

    folder, train_x, train_labels, streams = scenario(tmp_path, "SITTING", "STANDING", 1.5)
    b = Bundle.load(folder, providers="cpu", threads=1)
    share = held_out_share(b, [stream_whole(b, x, 64) for x in train_x], train_labels, "WALKING_DOWNSTAIRS")
    assert max(share, key=share.get) == "SITTING"
    heard: list[str] = []
    section, _ = fit(folder, train_x, streams, 1.0, train_labels, "WALKING_DOWNSTAIRS", say=heard.append)
    assert isinstance(section, WearerBaselineSection) and section.gate is None
    gate_said = [h for h in heard if h.startswith("alert gate")]
    assert len(gate_said) == 1 and "left out" in gate_said[0] and "(SITTING)" in gate_said[0] and section.detected == 4
    assert "alert cross-check: not made (the validation streams do not say whose they are)" in heard
    streamed = [stream_whole(b, x, 64) for x in streams.x]
    prior = dict.fromkeys(CLASSES, 1.0)
    assert fit_gate(folder, b, streamed, streams, 1.0, prior, 100, {"WALKING": 0.05}) is None  # under GATE_SHARE
    # a class no validation normal window is called: no threshold can be fitted, so no gate (and no crash)
    assert fit_gate(folder, b, streamed, streams, 1.0, prior, 100, {"WALKING_DOWNSTAIRS": 1.0}) is None


@pytest.mark.parametrize(("used", "ungated", "plain", "written"), [
    (18, 0, 0, True),    # the gate catches what neither ungated point does: written (ungated ties the plain)
    (4, 1, 2, False),    # the gate wins but a runtime ignoring it would get a worse point than the plain score's
    (3, 3, 2, True),     # no gate: the ungated point beats the plain score, as before the gate existed
    (2, 2, 2, False),    # a tie with the plain score: the plain point stays
])
def test_the_wearer_section_is_written_only_where_no_runtime_is_worse_off(used, ungated, plain, written) -> None:
    pytest.importorskip("torch")
    from ssvae_train.export.wearer_baseline_fit import written as rule

    assert rule(used, ungated, plain) is written


def test_of_the_classes_with_the_share_the_fit_keeps_the_set_whose_point_catches_most(tmp_path) -> None:
    """AA: LAYING gets a share of the held-out windows too, but its normal windows are loud bursts; with LAYING in
    the gate the threshold must sit above the bursts and misses the segments, so the fit keeps WALKING alone."""
    pytest.importorskip("torch")
    from ssvae_train.export.alert_gate_choice import gate_sets
    from ssvae_train.export.wearer_baseline_fit import fit_gate, stream_whole

    folder, _, _, streams = scenario(tmp_path, "WALKING", "WALKING")
    b = Bundle.load(folder, providers="cpu", threads=1)
    streamed = [stream_whole(b, x, 64) for x in streams.x]
    share = {"WALKING": 0.6, "LAYING": 0.35, "SITTING": 0.05}
    assert gate_sets(share) == [("WALKING",), ("WALKING", "LAYING")]  # SITTING is under GATE_SHARE
    # a prior that outweighs the wearer (10**6 windows of score 0): the adjusted scores stay the raw ones
    g = fit_gate(folder, b, streamed, streams, 1.0, dict.fromkeys(CLASSES, 0.0), 100, share, prior_windows=(10**6,))
    assert g is not None and g.classes == ("WALKING",) and g.detected == 4
    tried = {tuple(t["classes"]): t["detected"] for t in g.sets_tried}
    assert tried[("LAYING", "WALKING")] < tried[("WALKING",)] == 4


def test_a_cross_checked_debounce_is_the_gates_and_the_ungated_point_keeps_its_own(tmp_path) -> None:
    """`--alert-debounce cross-checked`: the debounce judged on the gate's fit out of sample (two wearers, one per
    half) is the gate's, whose cross-check is that debounce's; the ungated fallback keeps its in-sample choice."""
    pytest.importorskip("torch")
    from dataclasses import replace

    from ssvae_train.export.alert_point import DEBOUNCES
    from ssvae_train.export.wearer_baseline_fit import fit

    folder, train_x, train_labels, streams = scenario(tmp_path, "WALKING", "WALKING")
    streams = replace(streams, groups=("p", "q"))
    inside, _ = fit(folder, train_x, streams, 1.0, train_labels, "WALKING_DOWNSTAIRS")
    out, _ = fit(folder, train_x, streams, 1.0, train_labels, "WALKING_DOWNSTAIRS", debounce_rule="cross-checked")
    choice = out.debounce_choice
    assert inside.debounce_choice is None and [(d["k"], d["m"]) for d in choice["debounces"]] == list(DEBOUNCES)
    assert out.gate is not None and [out.gate.k, out.gate.m] == choice["chosen"] and choice["applied_to"] == "gate"
    (judged,) = [d for d in choice["debounces"] if [d["k"], d["m"]] == choice["chosen"]]
    assert out.gate.cross_check["false_alerts"] == judged["false_alerts"]
    assert out.gate.cross_check["detected"] == judged["detected"]
    assert (out.k, out.m, out.threshold) == (inside.k, inside.m, inside.threshold)


def test_a_delay_asked_reaches_every_point_of_the_fit_and_its_warnings(tmp_path) -> None:
    """`--alert-max-delay`: the wearer baseline's point and the gate's record the delay asked; asked for less than a
    window lasts, no point can meet it, so the points are those fitted without it, and each says it is slower."""
    pytest.importorskip("torch")
    from ssvae_train.export.wearer_baseline_fit import fit

    folder, train_x, train_labels, streams = scenario(tmp_path, "WALKING", "WALKING")
    free, _ = fit(folder, train_x, streams, 1.0, train_labels, "WALKING_DOWNSTAIRS")
    asked, _ = fit(folder, train_x, streams, 1.0, train_labels, "WALKING_DOWNSTAIRS", max_delay=0.5)
    assert free.target_median_delay_s is None and free.gate is not None and free.gate.target_median_delay_s is None
    assert asked.target_median_delay_s == asked.gate.target_median_delay_s == 0.5
    assert (asked.gate.k, asked.gate.m, asked.gate.threshold) == (free.gate.k, free.gate.m, free.gate.threshold)
    assert any("above the 0.5 s asked" in w for w in asked.gate.warnings)
    assert not any("asked" in w for w in free.gate.warnings or ())
    assert "target median delay" in asked.gate.rule and "target median delay" in asked.rule
