"""What an export is asked for, declared once: `ExportConfig`'s fields carry their defaults, help and choices,
and the `ssvae-export` options are generated from them (`options.with_options`), as `fit`'s are from
`FitConfig`. Torch-free, so `ssvae-export --help` needs no torch."""

from __future__ import annotations

from dataclasses import dataclass

from ssvae_edge.posture import FEATURE_SETS, LONG_AXIS, MAX_CONTEXT
from ssvae_train.errors import UserError
from ssvae_train.names import ALERT_DEBOUNCE, LATENT_PRIORS, QUANTIZE, SCORE_PARTS, WEIGHTS
from ssvae_train.options import check_choices, option

SCORE_METAVAR = "[auto|" + "|".join(SCORE_PARTS) + "|a+b...]"
POSTURE_FEATURES = ("auto", FEATURE_SETS[1], LONG_AXIS)  # what --posture-features offers the posture model


@dataclass(frozen=True)
class ExportConfig:
    score: str | None = option(
        None, "Anomaly score in anomaly.onnx: pi (-ELBO, decoder fed the classifier's probabilities) | min "
        "(lowest -ELBO over the classes) | maha_h, maha_z (Mahalanobis distance to the nearest class in the "
        "trunk's features / the latent mean) | energy | msp (the classifier's confidence) | a+b (their mean, "
        "each standardised on validation rows) | auto (for a run with --exclude-class: the score that best tells "
        "validation rows from the held-out class's training rows; training split only). Default: the one "
        "chosen for the data's kind with other classes held out, never the test set "
        "(ssvae_train/scoring/scores.py). A vae run has one score.", metavar=SCORE_METAVAR)
    alert_quantile: float = option(
        0.99, "Images and vectors: the alert threshold is this quantile of the anomaly scores of the run's "
        "validation rows (normal data). Sensor bundles use --alert-false-per-hour instead.")
    # 0.5: below the 1 per hour a person tolerates, with room for calibration streams only a few hours long
    alert_false_per_hour: float = option(
        0.5, "Sensor bundles: the target rate of false alerts per hour of normal activity. The threshold and "
        "the k-of-m debounce (manifest 'alert', used by ssvae-edge stream by default) are fitted on "
        "streams of validation windows and the held-out class's training windows, never test "
        "(ssvae_train/export/alert_point.py). Negative: the --alert-quantile threshold and the runtime's "
        "default debounce instead.")
    alert_debounce: str = option(
        "in-sample", "Sensor bundles with a held-out class: how the debounce (k of m windows) of the wearer "
        "baseline's alert point is chosen (the gate's point where a gate is fitted). in-sample: with its threshold, on "
        "the same validation hours (the debounce catching the most) | cross-checked: each debounce judged on "
        "validation people its fit did not see (fitted on half of them, counted on the other half, both ways; of "
        "those catching 90 %, the fewest false alerts, else the most caught), then the threshold fitted on all of "
        "them; the export fails in one line when it cannot be judged (under two validation people, or a half "
        "giving no point) (ssvae_train/export/alert_cross_check.py). Measured on HAPT: results/hapt-bundles.md, "
        "AH.", ALERT_DEBOUNCE)
    alert_max_delay: float | None = option(
        None, "Sensor bundles with a held-out class: the median delay (seconds from the start of a held-out segment "
        "to its alert) the alerts must come within. The alert fits (plain, wearer baseline, gate, cross-check) then "
        "rank first the points catching 90 % of the validation people's held-out segments within it, and the export "
        "warns when the point used is slower there (manifest 'target_median_delay_s'). Default: no delay asked, the "
        "point catching the most. Measured on HAPT: results/hapt-bundles.md, AK.", metavar="SECONDS")
    quantize: str | None = option(
        None, "int8: also write <graph>.int8.onnx with onnxruntime's static quantization (QDQ, calibrated "
        "on training rows: a sample's output does not depend on its batch), listed under graphs_int8 with "
        "fp32/int8 accuracy and ROC AUC in the manifest's quantization.", QUANTIZE)
    data_dir: str | None = option(
        None, "Where the run's data set lives now (default: the path recorded in the run).")
    weights: str = option(
        "last", "last (the run's last finished epoch) | best (its best validation epoch: early stopping).", WEIGHTS)
    choices_from: str | None = option(
        None, "For a run trained without validation people (fit --val-fraction 0, a refit on every person): the "
        "bundle of its validated sibling (same recipe and data, validation people held out), whose class "
        "smoothing, sequence filter, mounting estimate and posture model it takes verbatim; the alert is "
        "fitted again on that sibling's validation people, whom the refit trained on (the export says its "
        "figures are optimistic). Classifier bundles only (ssvae_train/export/refit.py).")
    member: list[str] | None = option(
        None, "Another run of RUN's recipe, trained on the same rows from another initialisation (fit --split-seed "
        "S --seed N); repeat for more. The bundle is their ensemble: classifier.onnx averages the members' class "
        "probabilities, anomaly.onnx their scores, decoder.onnx is RUN's; every fit after the graphs is made on "
        "them (ssvae_train/export/ensemble.py). Each window then runs every model (RUN and each --member).",
        metavar="RUN")
    posture_features: str = option(
        "auto", f"Sensor bundles with SITTING and STANDING: the feature sets the posture model may use. auto (each "
        f"set weighed on the validation people as they wore the device, the better one kept) | {FEATURE_SETS[1]} "
        f"(where gravity points and how much the body sways) | {LONG_AXIS} (only features a turn of the phone "
        "about its long axis leaves alone: for phones clipped at any angle round the waist, with a model trained "
        "with --augment turn; needs the gyroscope); each is weighed with its '+context' version too unless "
        "--posture-context 0. The model still ships only where it wins on validation.",
        POSTURE_FEATURES)
    posture_context: int = option(
        8, "Sensor bundles with SITTING and STANDING, from recordings: beside each feature set weighed, the posture "
        "model that also reads the set's mean over the stream's last this many windows (standing sways more than "
        "sitting over seconds; 8, about 10 s at HAPT's hop: the long-axis set's best leaving each training person "
        "out, results/posture-context.md); kept only where it reads the validation people better. Counted in "
        "windows at the stream's hop. 0: not weighed.")
    latent_prior: str = option(
        "class", "class (decoder.onnx moves z ~ N(0, I) to where class y lies in latent space, fitted on the "
        "training rows: generated samples look like the class asked) | standard (z is decoded as given).",
        LATENT_PRIORS)

    @property
    def alert_target(self) -> float | None:
        """The alert operating point's target (false alerts per hour), or None for the quantile threshold."""
        return None if self.alert_false_per_hour is None or self.alert_false_per_hour < 0 else self.alert_false_per_hour

    def validate(self) -> None:
        """Refuse impossible options before anything is loaded or written (the score is checked against the
        scores the run's model has, once it is loaded)."""
        check_choices(self)
        if self.alert_max_delay is not None and not 0.0 < self.alert_max_delay < float("inf"):
            raise UserError(f"--alert-max-delay {self.alert_max_delay}: a number of seconds above 0")
        if not 0.0 < self.alert_quantile < 1.0:
            raise UserError(f"--alert-quantile {self.alert_quantile}: must lie strictly between 0 and 1")
        if self.posture_context != 0 and not 2 <= self.posture_context <= MAX_CONTEXT:
            raise UserError(f"--posture-context {self.posture_context}: 0 (not weighed) or a number of windows from 2 "
                            f"to {MAX_CONTEXT}")
        if self.choices_from and self.member:
            raise UserError("--member: a refit (--choices-from) is exported alone")
        if self.choices_from and self.posture_features != "auto":
            raise UserError("--posture-features: a refit takes its sibling's posture model verbatim (--choices-from)")
