"""Short real training runs: every architecture, checkpoints, resume after a kill, evaluation."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ssvae_train.config import FitConfig
from ssvae_train.errors import UserError
from ssvae_train.training.checkpoint import load_checkpoint, model_from_checkpoint
from ssvae_train.training.evaluate import evaluate_run
from ssvae_train.training.trainer import fit

HAR = str(Path(__file__).parent / "data" / "uci-har")


@pytest.mark.parametrize(
    "cfg",
    [
        FitConfig(dataset="digits", arch="dense", model="ssvae", objective="soft-label", labels="100", epochs=2),
        FitConfig(dataset="digits", arch="conv", model="ssvae", objective="m2", labels="100", epochs=1),
        FitConfig(
            dataset="uci-har",
            data_dir=HAR,
            arch="lstm",
            model="ssvae",
            objective="soft-label",
            labels="all",
            epochs=1,
            batch_size=32,
            val_fraction=0.2,
        ),
    ],
    ids=["dense", "conv", "lstm"],
)
def test_one_short_run_per_architecture(tmp_path, cfg):
    torch.set_num_threads(1)
    path = fit(cfg, tmp_path / "run", progress=False)
    ckpt = load_checkpoint(path)
    assert ckpt["epoch"] == cfg.epochs and len(ckpt["history"]) == cfg.epochs
    h = ckpt["history"][-1]
    assert all(torch.isfinite(torch.tensor(v)) for k, v in h.items() if isinstance(v, float))
    model = model_from_checkpoint(ckpt)
    x = torch.from_numpy(__import__("numpy").zeros((3, *model.cfg.sample_shape), "float32"))
    probs = model(x)
    assert probs.shape == (3, model.cfg.n_classes) and torch.allclose(probs.sum(1), torch.ones(3), atol=1e-5)


def test_dense_learns_digits(tmp_path):
    """Not a smoke test: a few epochs on the real digits must beat chance by far."""
    torch.set_num_threads(1)
    cfg = FitConfig(dataset="digits", arch="dense", labels="all", epochs=8)
    run = fit(cfg, tmp_path / "run", progress=False).parent
    result = evaluate_run(run)
    assert result["test_accuracy"] > 0.85
    assert 0 < result["test_log_loss"] < 1.0


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    cfg = FitConfig(dataset="digits", arch="dense", labels="100", epochs=1)
    path = fit(cfg, tmp_path / "run", progress=False)
    raw = torch.load(path, weights_only=True)  # loads without unpickling any code
    assert raw["fit_config"]["labels"] == "100" and raw["fit_config"]["alpha"] == pytest.approx(6.4)
    a = model_from_checkpoint(raw)
    b = model_from_checkpoint(load_checkpoint(tmp_path / "run"))
    x = torch.rand(4, 8, 8) * 16
    assert torch.equal(a(x), b(x))
    assert raw["data"]["classes"] == [str(i) for i in range(10)] and raw["data"]["n_labelled"] == 100


def test_anomaly_evaluation_with_excluded_class(tmp_path):
    cfg = FitConfig(dataset="digits", arch="dense", labels="all", epochs=3, exclude_class=4)
    run = fit(cfg, tmp_path / "run", progress=False).parent
    result = evaluate_run(run)
    from ssvae_train.scoring.scores import SCORES, default_score

    # every score, and which one a bundle exports by default (`anomaly.default`)
    assert set(result["anomaly"]) == {*SCORES, "default"} and result["anomaly"]["default"] == default_score("image")
    # the held-out digit is told apart from the others (a real property: chance is 0.5) ...
    aucs = {name: result["anomaly"][name]["roc_auc"] for name in SCORES}
    assert aucs[default_score("image")] > 0.8, aucs
    # ... and the number is scikit-learn's ROC AUC of the model's own scores on the test rows
    from sklearn.metrics import roc_auc_score

    from ssvae_train.scoring.inference import scores
    from ssvae_train.training.evaluate import load_run

    _, model, _, prep = load_run(run)
    held_out = prep.ds.y_test < 0
    assert held_out.any() and not held_out.all()
    assert aucs["min"] == pytest.approx(roc_auc_score(held_out, scores(model, prep.ds.x_test, "min")), abs=1e-6)
    assert result["anomaly_class"] == "4"


def _fit_cmd(out: Path, epochs: int) -> list[str]:
    return [sys.executable, "-m", "ssvae_train.cli", "fit", "--out", str(out), "--dataset", "digits", "--labels",
            "100", "--epochs", str(epochs), "--threads", "1", "--quiet"]


# `ssvae-train` whose process SIGKILLs itself right after epoch 2's checkpoint is written: a deterministic kill,
# arranged by the test alone (the training loop knows nothing of it)
KILLED_AFTER_EPOCH_2 = """
import os, signal, sys
from ssvae_train.training import trainer
save = trainer.save_checkpoint
def save_then_die(state, path):
    save(state, path)
    if state["epoch"] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
trainer.save_checkpoint = save_then_die
from ssvae_train.cli import main
sys.argv = ["ssvae-train", *sys.argv[1:]]
main()
"""


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full = tmp_path / "full"
    subprocess.run(_fit_cmd(full, 4), check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-c", KILLED_AFTER_EPOCH_2, *_fit_cmd(killed, 4)[3:]]
    proc = subprocess.run(cmd, env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL  # killed mid-run, right after epoch 2's checkpoint
    before = load_checkpoint(killed)
    assert before["epoch"] == 2 and [h["epoch"] for h in before["history"]] == [1, 2]
    subprocess.run(_fit_cmd(killed, 4) + ["--resume"], check=True, env=env, capture_output=True)
    a, b = load_checkpoint(full), load_checkpoint(killed)
    assert b["epoch"] == 4 and [h["epoch"] for h in b["history"]] == [1, 2, 3, 4]
    assert b["history"][:2] == before["history"]  # epochs 1-2 carried over (timings too): resumed from 2
    for k, v in a["state_dict"].items():
        assert torch.allclose(v, b["state_dict"][k], atol=1e-6), k
    assert a["best"]["epoch"] == b["best"]["epoch"]  # the early-stopping pick survives the kill too
    for k, v in a["best"]["state_dict"].items():
        assert torch.allclose(v, b["best"]["state_dict"][k], atol=1e-6), k


def test_best_weights_are_those_of_the_best_validation_epoch(tmp_path, monkeypatch):
    """`--weights best` is early stopping: the weights a run stopped at its best epoch would have ended with."""
    import ssvae_train.training.trainer as trainer

    torch.set_num_threads(1)
    real, calls = trainer.validate, []

    def peaks_at_epoch_2(model, prep):  # the real metrics, with a validation accuracy that peaks at epoch 2
        calls.append(1)
        return {**real(model, prep), "val_accuracy": [0.5, 0.9, 0.7, 0.6, 0.8][len(calls) - 1]}

    monkeypatch.setattr(trainer, "validate", peaks_at_epoch_2)
    cfg = FitConfig(dataset="digits", labels="50", epochs=5)
    ckpt = load_checkpoint(fit(cfg, tmp_path / "long", progress=False))
    monkeypatch.setattr(trainer, "validate", real)
    best = ckpt["best"]["epoch"]
    assert best == 2
    assert not torch.equal(ckpt["best"]["state_dict"]["pi.weight"], ckpt["state_dict"]["pi.weight"])
    short = load_checkpoint(fit(FitConfig(**{**cfg.to_dict(), "epochs": best}), tmp_path / "short", progress=False))
    for k, v in short["state_dict"].items():
        assert torch.allclose(v, ckpt["best"]["state_dict"][k], atol=1e-6), k
    result = evaluate_run(tmp_path / "long", weights="best")
    assert result["weights_epoch"] == best
    assert result["test_accuracy"] == evaluate_run(tmp_path / "short")["test_accuracy"]


def test_best_weights_of_an_older_checkpoint_are_a_clear_error(tmp_path):
    path = fit(FitConfig(dataset="digits", labels="100", epochs=1), tmp_path / "run", progress=False)
    ckpt = torch.load(path, weights_only=True)
    del ckpt["best"]
    torch.save(ckpt, path)
    with pytest.raises(UserError, match="no best-validation weights"):
        evaluate_run(tmp_path / "run", weights="best")
    fit(FitConfig(dataset="digits", labels="100", epochs=2), tmp_path / "run", resume=True, progress=False)
    assert "best" not in load_checkpoint(path)  # not rebuilt from the resumed epochs alone: it could be wrong


def test_evaluate_cli_prints_json(tmp_path):
    fit(FitConfig(dataset="digits", labels="all", epochs=1), tmp_path / "run", progress=False)
    out = subprocess.run(
        [sys.executable, "-m", "ssvae_train.cli", "evaluate", str(tmp_path / "run")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert 0 <= json.loads(out)["test_accuracy"] <= 1


def test_bf16_autocast_path_trains_on_cpu(tmp_path):
    """--precision bf16 is meant for GPUs; its autocast path runs (and learns) on the CPU too."""
    cfg = FitConfig(dataset="digits", labels="all", epochs=2, precision="bf16", device="cpu")
    ckpt = load_checkpoint(fit(cfg, tmp_path / "run", progress=False))
    assert ckpt["fit_config"]["precision"] == "bf16"
    assert all(v.dtype == torch.float32 for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert ckpt["history"][-1]["val_accuracy"] > 0.5


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when no GPU is present")
def test_device_cuda_without_gpu_is_a_clear_error(tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssvae_train.cli",
            "fit",
            "--out",
            str(tmp_path / "r"),
            "--device",
            "cuda",
            "--epochs",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "no CUDA device" in p.stderr and not (tmp_path / "r").exists()


def test_conv_width_is_saved_and_old_checkpoints_keep_theirs():
    from ssvae_train.models import SSVAE, ModelConfig

    cfg = ModelConfig(arch="conv", kind="ssvae", sample_shape=(8, 8), n_classes=3, likelihood="bernoulli", latent_dim=2,
                      hidden=8)
    saved = cfg.to_dict()
    assert ModelConfig.from_dict(saved).channels == cfg.channels == (16, 32)
    legacy = {k: v for k, v in saved.items() if k != "channels"}  # written before the width was configurable
    old = SSVAE(ModelConfig.from_dict(legacy))
    assert old.trunk.net[0].out_channels == 32 and old.trunk.net[2].out_channels == 64
    assert old.decoder.deconv[0].in_channels == 64


def test_weight_ema_is_what_is_validated_kept_and_exported_and_resumes_exactly(tmp_path):
    """`--weight-ema`: the average of the weights after every step is the model validated, kept as `best` and
    loaded as `last`; training goes on from the raw weights, and a resume continues the average exactly."""
    from ssvae_train.training.batches import steps_per_epoch
    from ssvae_train.training.distributed import World
    from ssvae_train.training.prepare import prepare
    from ssvae_train.training.trainer import validate

    torch.set_num_threads(1)
    cfg = FitConfig(dataset="digits", labels="100", epochs=2, weight_ema=0.9)
    ckpt = load_checkpoint(fit(cfg, tmp_path / "full", progress=False))
    last, raw = model_from_checkpoint(ckpt, "last"), ckpt["state_dict"]
    prep = prepare(cfg)
    assert int(ckpt["ema"]["n_averaged"]) == 2 * steps_per_epoch(prep, cfg.batch_size, World())  # after every step
    assert not torch.allclose(last.state_dict()["pi.weight"], raw["pi.weight"])  # the average, not the raw weights
    row, seen = ckpt["history"][-1], validate(last, prep)
    assert (seen["val_accuracy"], seen["val_log_loss"]) == pytest.approx((row["val_accuracy"], row["val_log_loss"]))
    assert torch.equal(model_from_checkpoint(ckpt, "best").state_dict()["pi.weight"],
                       ckpt["best"]["state_dict"]["pi.weight"])
    assert evaluate_run(tmp_path / "full")["weight_ema"] == 0.9  # what the weights are, in the run's report
    one = FitConfig(**{**cfg.to_dict(), "epochs": 1})
    after_one = model_from_checkpoint(load_checkpoint(fit(one, tmp_path / "resumed", progress=False)), "last")
    kept = after_one if ckpt["best"]["epoch"] == 1 else last  # `best` holds the average at the best epoch
    assert torch.equal(ckpt["best"]["state_dict"]["pi.weight"], kept.state_dict()["pi.weight"])
    resumed = load_checkpoint(fit(cfg, tmp_path / "resumed", resume=True, progress=False))
    for k, v in ckpt["ema"].items():
        assert torch.allclose(v.float(), resumed["ema"][k].float(), atol=1e-6), k
    for k, v in raw.items():
        assert torch.allclose(v, resumed["state_dict"][k], atol=1e-6), k
    off = load_checkpoint(fit(FitConfig(**{**cfg.to_dict(), "weight_ema": 0.0}), tmp_path / "off", progress=False))
    assert "ema" not in off  # and training itself is untouched by the average:
    for k, v in off["state_dict"].items():
        assert torch.equal(v, raw[k]), k
    short = load_checkpoint(fit(FitConfig(**{**cfg.to_dict(), "weight_ema": 1e-9}), tmp_path / "short",
                                progress=False))
    for k, v in model_from_checkpoint(short, "last").state_dict().items():  # a decay of ~0 keeps the last step's
        assert torch.allclose(v, short["state_dict"][k], atol=1e-6), k
    with pytest.raises(UserError, match="weight-ema"):
        FitConfig(dataset="digits", weight_ema=1.0).validate()


def test_best_epoch_note_says_when_an_earlier_epoch_validated_clearly_better():
    """An export of the last weights says when early stopping would have kept another epoch: a gap of at least
    BEST_EPOCH_NOTE_POINTS of validation accuracy, nothing otherwise."""
    from ssvae_train.training.checkpoint import BEST_EPOCH_NOTE_POINTS, best_epoch_note

    def ckpt(accuracies, best):
        return {"epoch": len(accuracies), "best": {"epoch": best, "state_dict": {}},
                "history": [{"epoch": e + 1, "val_accuracy": a} for e, a in enumerate(accuracies)]}

    note = best_epoch_note(ckpt([0.60, 0.74, 0.68], best=2), "last")
    assert note is not None and "epoch 2 read 74.0%" in note and "(3) 68.0%" in note and "--weights best" in note
    assert best_epoch_note(ckpt([0.60, 0.74, 0.68], best=2), "best") is None  # already early-stopped
    small = 0.68 + (BEST_EPOCH_NOTE_POINTS - 0.1) / 100
    assert best_epoch_note(ckpt([0.60, small, 0.68], best=2), "last") is None  # within the gap: no note
    assert best_epoch_note(ckpt([0.60, 0.70, 0.74], best=3), "last") is None  # the last is the best
    assert best_epoch_note(ckpt([0.50, 0.57, 0.56], best=2), "last") is not None  # exactly the gap (float error)
    vae = {"epoch": 2, "best": {"epoch": 1}, "history": [{"epoch": 1, "val_neg_elbo": 5.0}, {"epoch": 2}]}
    assert best_epoch_note(vae, "last") is None  # no accuracy recorded (a plain VAE)
    assert best_epoch_note({"epoch": 2, "history": []}, "last") is None  # an older checkpoint without best


def test_fit_notes_an_earlier_epoch_that_validated_clearly_better(tmp_path, monkeypatch):
    """`ssvae-train fit` ends with the best-epoch note on stderr (not with --quiet); stdout stays the path."""
    from typer.testing import CliRunner

    import ssvae_train.training.trainer as trainer
    from ssvae_train.cli import app

    real, calls = trainer.validate, []

    def peaks_at_epoch_1(model, prep):
        calls.append(1)
        return {**real(model, prep), "val_accuracy": [0.9, 0.5][len(calls) - 1]}

    monkeypatch.setattr(trainer, "validate", peaks_at_epoch_1)
    args = ["fit", "--dataset", "digits", "--labels", "50", "--epochs", "2", "--threads", "1"]
    got = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert got.exit_code == 0, got.output
    assert "note: epoch 1 read 90.0%" in got.stderr and "--weights best" in got.stderr
    assert got.stdout.strip().endswith("checkpoint.pt") and "note:" not in got.stdout
    calls.clear()
    quiet = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b"), "--quiet"])
    assert quiet.exit_code == 0 and "note:" not in quiet.stderr
