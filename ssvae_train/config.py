"""The whole configuration of a training run, as plain values (saved in every checkpoint).

Every field is declared once, here, with its default, help and choices (`options.option`): the
`ssvae-train fit` options are generated from them (`options.with_options`), and `validate` checks the
choices of every field the same way. A config is frozen: `resolve` and `resumed_with` return new ones, and
call sites change a field with `dataclasses.replace`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from ssvae_train.data.budgets import VAL_SPLITS
from ssvae_train.data.dataset import BUILTIN_KINDS, DATASETS
from ssvae_train.errors import UserError
from ssvae_train.names import (
    ARCHS,
    AUGMENTATIONS,
    CANONICAL_TURN,
    FRAMES,
    KINDS,
    OBJECTIVE_ALIASES,
    OBJECTIVES,
    SEQUENCE_ARCHS,
    canonical_objective,
    parse_augment,
)
from ssvae_train.options import check_choices, option

# Label weight when --alpha is not given: a tenth of the number of values in a sample (78 for MNIST,
# 115 for a UCI-HAR window). Reconstruction is summed over a sample's values, so an unweighted label
# term (alpha = 1) would be drowned by it; the write-up evens them out by averaging over values, and
# Kingma et al. scale alpha with the data (0.1 N). Pyro's M2 example uses 46.
ALPHA_PER_VALUE = 0.1
# The model's defaults per architecture, the one place they live: `resolve()` writes the width into the run's
# config, and `models/build.py` gives a new model the widths of its convolutions.
# Width of the trunk when --hidden is not given (LSTMs are sequential: keep them lean).
DEFAULT_HIDDEN = {"dense": 128, "conv": 128, "lstm": 64, "convlstm": 64}
# Channels of the conv trunk's two layers and of the convlstm's (c1, c2, c2); the narrower conv widths are
# much cheaper per epoch on CPU (README § Training). Dense and lstm have no convolutions: they keep conv's, unused.
DEFAULT_CHANNELS = {"conv": (16, 32), "convlstm": (32, 64)}
LEGACY_CONV_CHANNELS = (32, 64)  # what checkpoints written before `channels` was a model key were trained with
LR_SCHEDULES = ("constant", "cosine")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")
# How the labelled rows' ELBO (reconstruction + KL, not the label cross-entropy) weighs in a step's loss.
LABELLED_ELBO = ("equal", "share")
# What `--resume` may change in a saved run: train further, on another device or precision, with the data
# found at another path. Everything else comes from the checkpoint.
RESUMABLE = ("epochs", "data_dir", "device", "precision")
# Which windows of recordings leave training with a held-out class (--held-out-windows); a checkpoint saved
# before the option existed, with a held-out class, was trained with `whole`.
HELD_OUT_WINDOWS = ("any", "whole")
LEGACY_HELD_OUT_WINDOWS = "whole"


def _hidden_help() -> str:
    by_width: dict[int, list[str]] = {}
    for arch, width in DEFAULT_HIDDEN.items():
        by_width.setdefault(width, []).append(arch)
    return "Width of the trunk (default: " + "; ".join(f"{w} for {' and '.join(a)}" for w, a in by_width.items()) + ")."


@dataclass(frozen=True)
class FitConfig:
    dataset: str = option(
        "digits", "digits (embedded, no download) | mnist | uci-har | hapt (the continuous phone recordings, a zip or "
        "folder: validation holds whole people, test = the UCI-HAR test people) | arrays (your .npz: x_train, "
        "y_train with -1 = unlabelled, ...) | recordings (your folder of CSV recordings). README: 'Your own data'.",
        DATASETS)
    data_dir: str | None = option(
        None, "Folder with the data set's original files (mnist, uci-har), the .npz file (arrays) or the folder of "
        "CSV recordings (recordings).")
    arch: str = option(
        "dense", "Trunk/decoder family: dense | conv (images) | lstm | convlstm (sensor windows; convlstm: strided "
        "convolutions before one LSTM, transposed convolutions in the decoder).", ARCHS)
    model: str = option("ssvae", "ssvae (the full model) | supervised (trunk + pi) | vae (no labels).", KINDS)
    objective: str = option(
        "soft-label", "soft-label (the write-up's loss: the decoder gets the classifier's soft labels for unlabelled "
        "rows; `seed`, its old name, is accepted) | m2 (Kingma et al. 2014).", OBJECTIVES, OBJECTIVE_ALIASES)
    labels: str = option(
        "all", "Label budget: a count balanced over classes (100), a fraction (0.05) or all (= given: every label "
        "there is; rows of your own data labelled -1 or blank stay unlabelled whatever the budget).")
    window: int | None = option(
        None, "recordings, hapt: samples per window (default 128); a window is labelled when all its samples agree.")
    hop: int | None = option(None, "recordings, hapt: samples between window starts (default --window / 2).")
    transitions: bool = option(
        False, "hapt: the six postural transitions (STAND_TO_SIT, ...) become classes of their own (default: their "
        "samples are unlabelled training rows).")
    epochs: int = option(20, "Epochs; one epoch sweeps the unlabelled rows once.")
    seed: int = option(0, "Seed of the split, the label draw, the shuffles and the noise.")
    split_seed: int | None = option(
        None, "Seed of the validation split and the label draw alone (default: --seed): runs with one --split-seed "
        "and other --seed values share their validation people and labels and differ in initialisation, shuffles "
        "and noise.")
    batch_size: int = option(128, "Rows per step (the labelled batch is at most this).")
    labelled_batch: int | None = option(
        None, "Labelled rows per step beside the unlabelled batch (default: --batch-size, at most all).")
    lr: float = option(1e-3, "Adam learning rate.")
    lr_schedule: str = option(
        "constant", "constant | cosine (annealed per epoch from --lr towards 0 at the last epoch).", LR_SCHEDULES)
    alpha: float | None = option(
        None, f"Weight of the label cross-entropy (default: {ALPHA_PER_VALUE:g} x values per sample).")
    kl_warmup: int = option(0, "Epochs over which the KL weight ramps up from 0 (0: no warm-up).")
    kl_weight: float = option(
        1.0, "Weight of the KL term against the summed reconstruction (the write-up's per-feature means: values "
        "per sample / latent dim).")
    latent_dim: int = option(16, "Size of z.")
    hidden: int | None = option(None, _hidden_help())
    augment: str = option(
        "none", f"Sensor augmentations of every training row: none, or a comma list of {', '.join(AUGMENTATIONS)} "
        "(ssvae_train/training/augment.py says how strong).")
    frame: str = option(
        "as-worn", "Sensor windows: as-worn (the channels as the sensor gives them) | canonical-turn (inside the "
        "graphs, each window turned about the sensor's x axis, a phone's long axis, until its mean acceleration "
        "across that axis points along +y: the angle a phone is clipped at round the waist no longer reaches the "
        "model; ssvae_train/models/frame.py).", FRAMES)
    labelled_elbo: str = option(
        "equal", "equal (the labelled batch's ELBO weighs as much as the unlabelled batch's) | share (it weighs the "
        "labelled rows' share of the training rows, n_l / (n_l + n_u): close to Kingma et al.'s M2 summed over the "
        "data set when labels are few, so that 60 labelled windows drawn into every step are not memorised by the "
        "decoder). The label cross-entropy keeps --alpha either way.", LABELLED_ELBO)
    weight_ema: float = option(
        0.0, "Decay of an exponential moving average of the weights, updated after every optimiser step (torch's "
        "swa_utils EMA, without warm-up: it starts from the first step's weights; Mean Teacher, Tarvainen & Valpola "
        "2017, averages its teacher so with 0.999 after a warm-up): validation, the best epoch's weights and the "
        "export use the average, while training goes on with the raw weights. 0: off (each epoch's last weights).")
    consistency: float = option(
        0.0, "Weight of a consistency term on unlabelled rows (UDA, Xie et al. 2020): the classifier's probabilities "
        "on a second augmented copy of each unlabelled window are pulled, by KL, towards its detached probabilities "
        "on the first (or, with --consistency-threshold, taught its confident class by cross-entropy). 0: off (the "
        "write-up's loss). Needs --augment and --model ssvae.")
    consistency_threshold: float = option(
        0.0, "With --consistency: 0 keeps UDA's KL; a confidence in (0, 1) makes the term FixMatch's (Sohn et al. "
        "2020): the second copy is taught the first copy's most likely class as a label, on the windows whose "
        "first copy gives it at least this probability (FixMatch uses 0.95).")
    val_fraction: float = option(
        0.1, "Fraction of the training set held out for validation. 0: none, a final refit on every training row "
        "(person) once the choices were made on a run of the same recipe that had validation people; export it "
        "with ssvae-export --choices-from that run's bundle.")
    val_split: str = option(
        "random", "random (stratified by class) | blocks (whole contiguous blocks of the stored rows, 1/20 each: for "
        "windowed data stored recording by recording, e.g. the UCI-HAR subset, validation then holds whole sessions "
        "that overlap training windows only at their edges). Recordings (--dataset recordings) split by file "
        "anyway.", VAL_SPLITS)
    exclude_class: int | None = option(None, "Hold class K out of training (anomaly protocol).")
    held_out_windows: str = option(
        "any", "With --exclude-class on recordings (--dataset recordings or hapt): any (a window holding any sample "
        "of a held-out class, --val-anomaly-class's too, leaves training, though its samples disagree and it is "
        "unlabelled) | whole (only windows wholly inside its segments leave; the rest stay as unlabelled rows, as "
        "in runs before 2026-12-07's twenty-ninth round).",
        HELD_OUT_WINDOWS)
    val_anomaly_class: int | None = option(
        None, "With --exclude-class: hold class J out too; its training rows become validation anomalies, on which "
        "the anomaly score is chosen without the test set (score selection, RESULTS.md).")
    m1_run: str | None = option(
        None, "M1+M2 (Kingma et al.): train on the latent means of this `vae` run (same data, seed and split).")
    m1_sample: bool = option(
        False, "With --m1-run: draw the training rows from M1's q(z|x) every epoch, not its means.")
    device: str = option("auto", "auto (CUDA when present, else CPU) | cpu | cuda.", DEVICES)
    precision: str = option("fp32", "fp32 | bf16 (autocast mixed precision, for GPUs).", PRECISIONS)

    @property
    def data_seed(self) -> int:
        """The seed the split and the label draw come from (`--split-seed`, else `--seed`)."""
        return self.seed if self.split_seed is None else self.split_seed

    def split_identity(self) -> tuple[tuple[str, object], ...]:
        """The options (by their --names) that decide which rows a run trains, validates and is labelled on: runs
        that agree on all of them hold the same rows in the same roles (an M1 and its M2, an ensemble's members)."""
        return (("dataset", self.dataset), ("split-seed", self.data_seed), ("val-fraction", self.val_fraction),
                ("val-split", self.val_split), ("window", self.window), ("hop", self.hop),
                ("transitions", self.transitions), ("exclude-class", self.exclude_class),
                ("held-out-windows", self.held_out_windows if self.exclude_class is not None else None),
                ("val-anomaly-class", self.val_anomaly_class), ("labels", self.labels))

    def resolve(self, sample_shape: tuple[int, ...]) -> FitConfig:
        """The config with the defaults that depend on the data filled in (alpha, hidden) and the objective under
        its own name, so the saved config says what was really used."""
        alpha = self.alpha if self.alpha is not None else round(ALPHA_PER_VALUE * math.prod(sample_shape), 3)
        hidden = self.hidden if self.hidden is not None else DEFAULT_HIDDEN[self.arch]
        return replace(self, alpha=alpha, hidden=hidden, objective=canonical_objective(self.objective))

    def resumed_with(self, given: FitConfig) -> FitConfig:
        """This saved config, continued with what `given` (the command line of the resume) says among
        `RESUMABLE`; a None there keeps the saved value."""
        return replace(self, **{k: getattr(given, k) for k in RESUMABLE if getattr(given, k) is not None})

    def validate(self) -> None:
        """Reject impossible options before anything is loaded or written."""
        check_choices(self)
        if self.m1_run is None:  # with an M1 the samples are its latent means, whatever the data set holds
            check_arch(self.arch, BUILTIN_KINDS.get(self.dataset), f"--dataset {self.dataset}")
        if self.m1_run is not None and (parse_augment(self.augment) or self.frame != "as-worn"):
            raise UserError("--augment and --frame act on M1's training (M2 trains on its latent means): give them "
                            "to the M1 run, and --augment none here")
        if parse_augment(self.augment) and self.arch not in SEQUENCE_ARCHS:
            raise UserError(f"--augment is for sensor windows: use it with --arch {' or '.join(SEQUENCE_ARCHS)}")
        if self.frame != "as-worn" and self.arch not in SEQUENCE_ARCHS:
            raise UserError(f"--frame {self.frame} turns sensor windows: use it with --arch "
                            f"{' or '.join(SEQUENCE_ARCHS)}")
        undone = [a for a in parse_augment(self.augment) if a in ("turn", "mount")]
        if self.frame == CANONICAL_TURN and undone:
            raise UserError(f"--augment {','.join(undone)} turns windows about the long axis, which --frame "
                            "canonical-turn undoes: leave it out")
        if self.labelled_elbo != "equal" and self.model != "ssvae":
            raise UserError("--labelled-elbo weighs the labelled rows' ELBO: it is for --model ssvae")
        if self.val_anomaly_class is not None and (self.exclude_class is None or self.m1_run is not None):
            raise UserError("--val-anomaly-class holds a second class out: give --exclude-class, without --m1-run")
        if self.held_out_windows != "any" and self.exclude_class is None:
            raise UserError("--held-out-windows says which windows leave with a held-out class: give --exclude-class")
        if self.m1_sample and self.m1_run is None:
            raise UserError("--m1-sample draws from an M1: give it with --m1-run")
        if self.m1_run is not None and self.arch != "dense":
            raise UserError("--m1-run gives vectors (M1's latent means): use it with --arch dense")
        if not 0 <= self.weight_ema < 1:
            raise UserError("--weight-ema is a decay per step: 0 (off) or in (0, 1), e.g. 0.999")
        if self.consistency < 0:
            raise UserError("--consistency must be 0 (off) or positive")
        if not 0 <= self.consistency_threshold < 1 or (self.consistency_threshold and not self.consistency):
            raise UserError("--consistency-threshold must lie in [0, 1) and needs --consistency")
        if self.consistency and (not parse_augment(self.augment) or self.model != "ssvae"):
            raise UserError("--consistency compares two augmented copies of unlabelled rows: give --augment and "
                            "--model ssvae")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.kl_weight <= 0:
            raise UserError("--epochs, --batch-size, --lr and --kl-weight must be positive")
        if not 0 <= self.val_fraction < 0.5:
            raise UserError("--val-fraction must lie in [0, 0.5)")
        if self.val_fraction == 0 and (self.val_anomaly_class is not None or self.m1_run is not None):
            raise UserError("--val-fraction 0 (a refit without validation rows) does not go with "
                            "--val-anomaly-class or --m1-run, which choose on validation rows")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FitConfig:
        known = {f.name for f in fields(cls)}
        legacy = {"held_out_windows": LEGACY_HELD_OUT_WINDOWS} if d.get("exclude_class") is not None else {}
        return cls(**{**legacy, **{k: v for k, v in d.items() if k in known}})


def epoch_lr(cfg: FitConfig, epoch: int) -> float:
    """The learning rate of epoch `epoch` (0-based): `lr` throughout, or cosine-annealed from `lr` at the
    first epoch towards 0 (Loshchilov & Hutter 2017, without restarts), so the last epochs take small steps
    and the final weights do not swing with the last few batches. A function of the epoch alone: a resumed
    run continues the same schedule (a resume that changes --epochs stretches it)."""
    if cfg.lr_schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / cfg.epochs))
    return cfg.lr


def check_arch(arch: str, kind: str | None, what: str) -> None:
    """The one rule for which trunk takes which samples, by the data's kind (not its name): sensor windows
    need a sequence arch and only they take one; conv takes images. `kind` None (user data, not loaded
    yet) is checked again once it is known."""
    if kind is None:
        return
    if kind == "sensor" and arch not in SEQUENCE_ARCHS:
        raise UserError(f"{what} holds sensor windows (sequences): use --arch {' or '.join(SEQUENCE_ARCHS)}")
    if kind != "sensor" and arch in SEQUENCE_ARCHS:
        raise UserError(f"--arch {arch} needs sequences (sensor windows [N, T, C]); {what} holds {kind} samples")
    if arch == "conv" and kind != "image":
        raise UserError(f"--arch conv needs images; {what} holds {kind} samples")
