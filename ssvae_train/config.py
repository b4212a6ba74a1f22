"""The whole configuration of a training run, as plain values (saved in every checkpoint)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ssvae_train.data.budgets import VAL_SPLITS
from ssvae_train.data.dataset import BUILTIN_KINDS, DATASETS
from ssvae_train.errors import UserError
from ssvae_train.names import ARCHS, KINDS, OBJECTIVES, SEQUENCE_ARCHS, canonical_objective, parse_augment

# Label weight when --alpha is not given: a tenth of the number of values in a sample (78 for MNIST,
# 115 for a UCI-HAR window). Reconstruction is summed over a sample's values, so an unweighted label
# term (alpha = 1) would be drowned by it; the write-up evens them out by averaging over values, and
# Kingma et al. scale alpha with the data (0.1 N). Pyro's M2 example uses 46.
ALPHA_PER_VALUE = 0.1
# Width of the trunk per architecture when --hidden is not given (LSTMs are sequential: keep them lean).
LR_SCHEDULES = ("constant", "cosine")
DEFAULT_HIDDEN = {"dense": 128, "conv": 128, "lstm": 64, "convlstm": 64}


@dataclass
class FitConfig:
    dataset: str = "digits"
    data_dir: str | None = None
    arch: str = "dense"
    model: str = "ssvae"
    objective: str = "soft-label"  # or m2; `seed` is the old name of soft-label
    labels: str = "all"
    epochs: int = 20
    seed: int = 0
    batch_size: int = 128
    labelled_batch: int | None = None  # labelled rows per step beside the unlabelled batch (default: batch_size)
    lr: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine (per epoch, from lr down to 0 at the last epoch)
    alpha: float | None = None
    kl_warmup: int = 0  # epochs over which the KL weight ramps from 0 to 1
    kl_weight: float = 1.0  # the KL term's weight once warmed up (1: the ELBO)
    latent_dim: int = 16
    hidden: int | None = None
    val_fraction: float = 0.1
    # random (stratified by class) | blocks: whole contiguous blocks of the stored rows (data/budgets.py)
    val_split: str = "random"
    exclude_class: int | None = None
    # score selection (scores.py): also hold this class out; its training rows are validation anomalies
    val_anomaly_class: int | None = None
    m1_run: str | None = None  # M1+M2: train on the posterior means of this plain-VAE run (data/stacked.py)
    m1_sample: bool = False  # M1+M2: draw the training rows from M1's q(z|x) every epoch instead of its means
    device: str = "auto"  # auto takes CUDA when torch sees one
    precision: str = "fp32"  # fp32 | bf16 (autocast; meant for GPUs)
    augment: str = "none"  # sensor augmentations for training rows, e.g. "jitter,scale,rotate" (augment.py)
    window: int | None = None  # recordings: samples per window (default 128)
    hop: int | None = None  # recordings: samples between window starts (default window / 2)

    def resolve(self, sample_shape: tuple[int, ...]) -> None:
        """Fill the defaults that depend on the data, so the saved config says what was really used."""
        if self.alpha is None:
            self.alpha = round(ALPHA_PER_VALUE * math.prod(sample_shape), 3)
        if self.hidden is None:
            self.hidden = DEFAULT_HIDDEN[self.arch]
        self.objective = canonical_objective(self.objective)

    def validate(self) -> None:
        """Reject impossible options before anything is loaded or written."""
        for name, value, allowed in (
            ("--dataset", self.dataset, DATASETS), ("--arch", self.arch, ARCHS),
            ("--model", self.model, KINDS), ("--objective", canonical_objective(self.objective), OBJECTIVES),
        ):
            if value not in allowed:
                raise UserError(f"{name} {value!r}: choose one of {', '.join(allowed)}")
        check_arch(self.arch, BUILTIN_KINDS.get(self.dataset), f"--dataset {self.dataset}")
        if parse_augment(self.augment) and self.arch not in SEQUENCE_ARCHS:
            raise UserError(f"--augment is for sensor windows: use it with --arch {' or '.join(SEQUENCE_ARCHS)}")
        if self.val_anomaly_class is not None and (self.exclude_class is None or self.m1_run is not None):
            raise UserError("--val-anomaly-class holds a second class out: give --exclude-class, without --m1-run")
        if self.m1_sample and self.m1_run is None:
            raise UserError("--m1-sample draws from an M1: give it with --m1-run")
        if self.m1_run is not None and self.arch != "dense":
            raise UserError("--m1-run gives vectors (M1's latent means): use it with --arch dense")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.kl_weight <= 0:
            raise UserError("--epochs, --batch-size, --lr and --kl-weight must be positive")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"--device {self.device!r}: choose auto, cpu or cuda")
        if self.precision not in ("fp32", "bf16"):
            raise UserError(f"--precision {self.precision!r}: choose fp32 or bf16")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UserError(f"--lr-schedule {self.lr_schedule!r}: choose one of {', '.join(LR_SCHEDULES)}")
        if self.val_split not in VAL_SPLITS:
            raise UserError(f"--val-split {self.val_split!r}: choose one of {', '.join(VAL_SPLITS)}")
        if not 0 < self.val_fraction < 0.5:
            raise UserError("--val-fraction must lie in (0, 0.5)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FitConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


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
