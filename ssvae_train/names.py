"""The names a run is configured with, in one torch-free place: architectures, model kinds, objectives and
augmentations. The config, the CLI, the models and the report read them from here, so a name is spelt once.

The objective the write-up trains with is `soft-label`: labelled rows teach the classifier, unlabelled rows
feed the decoder the classifier's (detached) soft labels. It was called `seed` before (which read like the
`--seed` option in cell names such as `dense-ssvae-seed-100-s0`); `seed` is still accepted wherever an
objective is read (the CLI, old checkpoints and result cells) and means `soft-label`.
"""

from __future__ import annotations

from ssvae_edge.sections import CANONICAL_TURN
from ssvae_train.errors import UserError

ARCHS = ("dense", "conv", "lstm", "convlstm")
# Architectures over sensor windows [N, T, channels]; the others take images or vectors.
SEQUENCE_ARCHS = ("lstm", "convlstm")
KINDS = ("ssvae", "supervised", "vae")  # the full model, its supervised and its unsupervised equivalents

OBJECTIVES = ("soft-label", "m2")
OBJECTIVE_ALIASES = {"seed": "soft-label"}  # old name -> name


def canonical_objective(name: str) -> str:
    """`seed` -> `soft-label`; every other name as it is."""
    return OBJECTIVE_ALIASES.get(name, name)


# the anomaly scores (ssvae_train/scoring/scores.py): each part, and the sums of an ELBO with what the labels
# taught that the exported default is chosen among (RESULTS.md § novelty-select)
SCORE_PARTS = ("pi", "min", "maha_h", "maha_z", "energy", "msp")
SCORES = (
    *SCORE_PARTS,
    "pi+maha_h", "pi+maha_z", "pi+energy", "maha_h+energy", "maha_z+energy", "pi+maha_h+energy",
    "pi+maha_z+energy", "min+maha_h", "min+energy",
)
WEIGHTS = ("last", "best")  # a run's last epoch's weights, or its best validation epoch's (early stopping)
LATENT_PRIORS = ("class", "standard")  # what decoder.onnx does with its z (ssvae-export --latent-prior)
QUANTIZE = ("int8",)  # the quantized graphs an export can add
ALERT_DEBOUNCE = ("in-sample", "cross-checked")  # how the wearer baseline's alert debounce is chosen (--alert-debounce)

# ssvae_train/training/augment.py says what each does and how strong
AUGMENTATIONS = ("jitter", "scale", "rotate", "rotate-moving", "mount", "turn")
# the sensor frame the model reads inside its graphs (ssvae_train/models/frame.py says what each does)
FRAMES = ("as-worn", CANONICAL_TURN)


def parse_augment(spec: str | None) -> tuple[str, ...]:
    """`"jitter,scale"` -> ("jitter", "scale"); `none` or empty -> ()."""
    if spec is None or spec.strip().lower() in ("", "none"):
        return ()
    names = tuple(s.strip() for s in spec.split(",") if s.strip())
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise UserError(f"--augment {spec!r}: unknown {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    return names
