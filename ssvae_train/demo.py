"""`ssvae-train demo`: the whole product on the embedded digits, in about a minute, with no data directory.

Trains the semi-supervised model and its supervised equivalent on the same 100 labels, compares them
on the test set, draws a generation grid, exports the bundle (three validated ONNX graphs), and scores
the test set again through the edge runtime (onnxruntime only) to show the device gets the same answers.
"""

from __future__ import annotations

import json
from pathlib import Path

from ssvae_train.config import FitConfig
from ssvae_train.errors import UserError
from ssvae_train.scoring.generate import draw_grid
from ssvae_train.training.evaluate import evaluate_run, load_run
from ssvae_train.training.trainer import fit


def run_demo(out: Path, epochs: int = 30, labels: str = "100", say=print, force: bool = False) -> dict:
    """Run the demo into `out`; an `out` that already holds files is refused unless `force` (then its
    runs and bundle are replaced), as `fit` and `export` refuse theirs."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"{out} already exists: pass --force to replace it")
    results: dict = {}
    for model, objective in (("ssvae", "m2"), ("supervised", "soft-label")):
        cfg = FitConfig(dataset="digits", arch="dense", model=model, objective=objective, labels=labels,
                        epochs=epochs, seed=0, device="cpu")
        say(f"training {model} ({objective}) on digits with {labels} labels, {epochs} epochs ...")
        fit(cfg, out / model, force=True, progress=True)
        results[model] = evaluate_run(out / model)
        say(f"  test accuracy {results[model]['test_accuracy']:.4f}, log loss {results[model]['test_log_loss']:.4f}")
    _, model, _, prep = load_run(out / "ssvae")
    grid = out / "generated-digit-2.png"
    draw_grid(model, prep.ds.classes, 2, prep.ds.x_test[:6], grid)
    say(f"generation grid: {grid}")

    from ssvae_train.export import export_run

    bundle_dir = out / "bundle"
    manifest = export_run(out / "ssvae", bundle_dir, force=True, say=lambda line: say(f"  {line}"))
    say(f"exported and validated: {bundle_dir} ({', '.join(manifest['graphs'])})")

    from ssvae_edge import Bundle

    bundle = Bundle.load(bundle_dir, providers="auto")
    probs = bundle.classify(prep.ds.x_test)
    edge_acc = float((probs.argmax(1) == prep.ds.y_test).mean())
    scores = bundle.anomaly_score(prep.ds.x_test)
    summary = {
        "semi_supervised_accuracy": results["ssvae"]["test_accuracy"],
        "supervised_accuracy": results["supervised"]["test_accuracy"],
        "edge_runtime_accuracy": edge_acc,
        "edge_providers": bundle.providers,
        "alerts_on_normal_test_digits": float((scores > bundle.threshold).mean()),
        "bundle": str(bundle_dir), "grid": str(grid),
    }
    say(json.dumps(summary, indent=2))
    return summary
