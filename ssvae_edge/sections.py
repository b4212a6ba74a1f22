"""The manifest's sections as frozen typed records (`records.Record`), each field a JSON key in the order an
export writes it. docs/bundle-format.md says what every key means and in which unit; `contract.Manifest`
holds them. Fields are None where a key is absent (older bundles, or a section that does not apply); the
keys in `NULLABLE` are written as null when None, every other None is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssvae_edge.records import Record


@dataclass(frozen=True)
class Sensor:
    """A sensor bundle's stream fields, which the manifest keeps at its top level (`channels`,
    `sample_rate_hz`, `window`, `hop`): what cutting a stream into windows needs."""

    channels: tuple[str, ...]
    sample_rate_hz: float | None
    window: int
    hop: int


@dataclass(frozen=True)
class ThresholdCalibration(Record):
    """How an anomaly threshold was placed: the validation rows' quantile it sits at, and (sensor bundles) the
    alert operating point it came from."""

    quantile: float | None = None
    n_val: int | None = None
    false_alarm_rate: float | None = None
    source: str | None = None
    graph: str | None = None
    method: str | None = None
    expected_false_alerts_per_hour: float | None = None
    window_detection_rate: float | None = None

    def left_out_when_none(self) -> frozenset[str]:
        if self.method is not None:  # placed by the alert operating point: its rates are written, null or not
            return super().left_out_when_none() - {"expected_false_alerts_per_hour", "window_detection_rate"}
        return super().left_out_when_none()


@dataclass(frozen=True)
class GraphEntry(Record):
    """One graph file of the bundle and its sha256; int8 graphs add their size, what was quantized and (the
    anomaly graph) their own threshold."""

    file: str
    sha256: str
    bytes: int | None = None
    quantized: str | None = None
    threshold: float | None = None
    threshold_calibration: ThresholdCalibration | None = None


@dataclass(frozen=True)
class AlertCandidate(Record):
    """One debounce tried while fitting the alert operating point, and what it did on the calibration streams."""

    NULLABLE = frozenset({"segment_recall", "median_delay_s", "window_detection_rate"})

    k: int
    m: int
    threshold: float | None = None
    false_alerts_per_hour: float | None = None
    segment_recall: float | None = None
    median_delay_s: float | None = None
    window_detection_rate: float | None = None


@dataclass(frozen=True)
class AlertGate(Record):
    """The alert point only windows of the gate's classes can raise (`ssvae_edge.alert_gate`), on the
    wearer-adjusted score with its own prior weight: the classes (of those that received at least `min_share` of
    the held-out activity's windows in the training people's recordings, `held_out_share`, the nested set whose
    point caught the most, `sets_tried`), then the debounce and threshold fitted with the gate on the validation
    people's recordings, what they did there, and what the ungated point did on the same (`ungated`)."""

    classes: tuple[str, ...]
    prior_windows: int
    k: int
    m: int
    clear_k: int
    threshold: float
    threshold_int8: float | None = None
    target_false_alerts_per_hour: float | None = None
    false_alerts_per_hour: float | None = None
    false_alerts_per_hour_upper95: float | None = None
    detected: int | None = None
    held_out_segments: int | None = None
    median_delay_s: float | None = None
    unlabelled_raises: int | None = None
    ungated: Mapping[str, Any] | None = None
    held_out_share: Mapping[str, float] | None = None
    min_share: float | None = None
    rule: str | None = None
    warnings: tuple[str, ...] | None = None
    sets_tried: tuple[Mapping[str, Any], ...] | None = None  # each candidate set's point (bundles since AA)
    cross_check: Mapping[str, Any] | None = None  # the point fitted on half the validation people, counted on the rest
    target_median_delay_s: float | None = None  # ssvae-export --alert-max-delay: the median delay asked of the point


@dataclass(frozen=True)
class WearerBaselineSection(Record):
    """The alert operating point on the wearer-adjusted score (`ssvae_edge.wearer_baseline`): each class's prior
    score and how many windows it counts as, then the debounce and threshold fitted on the adjusted scores of the
    validation people's recordings, what they did there, and what the plain score's point did on the same."""

    prior: Mapping[str, float]
    prior_windows: int
    k: int
    m: int
    clear_k: int
    threshold: float
    threshold_int8: float | None = None
    target_false_alerts_per_hour: float | None = None
    false_alerts_per_hour: float | None = None
    detected: int | None = None
    held_out_segments: int | None = None
    median_delay_s: float | None = None
    unlabelled_raises: int | None = None
    plain_score: Mapping[str, Any] | None = None
    candidates: tuple[Mapping[str, Any], ...] | None = None
    fitted_on: Mapping[str, Any] | None = None
    rule: str | None = None
    warnings: tuple[str, ...] | None = None
    memory_windows: int | None = None  # after this many windows of a class, an exponential average
    false_alerts_per_hour_upper95: float | None = None  # what the validation time can show: the rate's bound
    gate: AlertGate | None = None  # the point only windows of some classes can raise, preferred when present
    cross_check: Mapping[str, Any] | None = None  # as the gate's, for this point when it is the one streamed
    debounce_choice: Mapping[str, Any] | None = None  # --alert-debounce cross-checked: every debounce out of sample
    target_median_delay_s: float | None = None  # ssvae-export --alert-max-delay: the median delay asked of the point


@dataclass(frozen=True)
class Alert(Record):
    """The alert operating point: raise when `k` of the last `m` windows score above `threshold`, clear when
    fewer than `clear_k` do; fitted for `target_false_alerts_per_hour` on calibration streams (never test)."""

    NULLABLE = frozenset({"segment_recall", "median_delay_s", "window_detection_rate", "window_false_alarm_rate"})

    k: int
    m: int
    clear_k: int | None = None
    threshold: float | None = None
    target_false_alerts_per_hour: float | None = None
    false_alerts_per_hour: float | None = None
    window_detection_rate: float | None = None
    window_false_alarm_rate: float | None = None
    segment_recall: float | None = None
    detected: int | None = None
    held_out_segments: int | None = None
    median_delay_s: float | None = None
    normal_hours: float | None = None
    hop: int | None = None
    streams: Mapping[str, Any] | None = None
    rule: str | None = None
    expected_false_alerts_per_hour: float | None = None
    measured_on: str | None = None
    candidates: tuple[AlertCandidate, ...] | None = None
    unlabelled_raises: int | None = None
    unlabelled_hours: float | None = None
    warnings: tuple[str, ...] | None = None
    recalibrated: Mapping[str, Any] | None = None  # `ssvae_edge.recalibrate`: re-fitted on whose recordings
    wearer_baseline: WearerBaselineSection | None = None  # the point on the wearer-adjusted score, when it won
    false_alerts_per_hour_upper95: float | None = None  # what the calibration time can show: the rate's bound
    target_median_delay_s: float | None = None  # ssvae-export --alert-max-delay: the median delay asked of the point


@dataclass(frozen=True)
class Score(Record):
    """What anomaly.onnx computes: the method, its parts and the constants fitted for them."""

    NULLABLE = frozenset({"standardised_on", "loc", "spread", "class_gaussians", "class_counts", "default_for_kind",
                          "auto"})

    method: str
    parts: tuple[str, ...] | None = None
    standardised_on: str | None = None
    loc: tuple[float, ...] | None = None
    spread: tuple[float, ...] | None = None
    class_gaussians: tuple[str, ...] | None = None
    class_counts: tuple[int, ...] | None = None
    default_for_kind: bool | None = None
    how_default_was_chosen: str | None = None
    chosen_by: str | None = None
    auto: Mapping[str, Any] | None = None

    def left_out_when_none(self) -> frozenset[str]:
        if self.method == "vae":  # a plain VAE's one score has no constants: method, parts, default_for_kind
            return frozenset(self.keys()) - {"default_for_kind"}
        return super().left_out_when_none()


@dataclass(frozen=True)
class LatentPrior(Record):
    """What decoder.onnx does with its z: `standard` (z as it is) or `class-gaussian` (each class's Gaussian)."""

    kind: str
    counts: tuple[int, ...] | None = None
    what: str | None = None


@dataclass(frozen=True)
class Producer(Record):
    """What made the bundle: versions, the exporter, the run and its checkpoint, the data and training
    settings, and the test metrics measured at export."""

    NULLABLE = frozenset({"excluded_class", "excluded_class_name"})

    ssvae: str | None = None
    torch: str | None = None
    onnx: str | None = None
    onnxruntime: str | None = None
    exporter: str | None = None
    exporter_call: str | None = None
    exporter_reason: str | None = None
    run: str | None = None
    checkpoint_sha256: str | None = None
    dataset: str | None = None
    labels: str | None = None
    n_labelled: int | None = None
    seed: int | None = None
    split_seed: int | None = None  # `ssvae-train fit --split-seed`, only when it differs from `seed`
    val_fraction: float | None = None
    val_split: str | None = None
    arch: str | None = None
    model: str | None = None
    objective: str | None = None
    latent_dim: int | None = None
    hidden: int | None = None
    epochs: int | None = None
    weights: str | None = None
    weights_epoch: int | None = None
    weight_ema: float | None = None  # `ssvae-train fit --weight-ema`, only when the weights are an average
    excluded_class: int | None = None
    excluded_class_name: str | None = None
    held_out_windows: str | None = None  # `ssvae-train fit --held-out-windows`, with a held-out class (since Z)
    transitions: bool | None = None  # `ssvae-train fit --transitions`, only when on
    data_counts: Mapping[str, Any] | None = None
    metrics: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Validation(Record):
    """What each graph was checked against right after export, on how many samples, within which tolerance."""

    NULLABLE = frozenset({"other_window_length"})

    checker: str | None = None
    samples: int | None = None
    reference_samples: int | None = None
    export_batch: int | None = None
    other_window_length: int | None = None
    tolerance: Mapping[str, Any] | None = None
    relative_diff: str | None = None
    graphs: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Quantization(Record):
    """How the int8 graphs were made (onnxruntime's static quantization settings) and what they measure
    beside the fp32 graphs."""

    method: str | None = None
    format: str | None = None
    weight_type: str | None = None
    per_channel: bool | None = None
    activation_type: str | None = None
    calibration_method: str | None = None
    calibration_percentile: float | None = None
    calibration: Mapping[str, Any] | None = None
    quantized_ops: tuple[str, ...] | None = None
    min_weights: int | None = None
    float32_kept: str | None = None
    skipped: Mapping[str, Any] | None = None
    batch_independent: bool | None = None
    batch_max_abs_diff: Mapping[str, Any] | None = None
    note: str | None = None
    fp32: Mapping[str, Any] | None = None
    int8: Mapping[str, Any] | None = None
    deltas: Mapping[str, Any] | None = None
    requantized: Mapping[str, Any] | None = None  # `ssvae-export --requantize`: redone from the fp32 graphs, by what


@dataclass(frozen=True)
class Smoothing(Record):
    """Class smoothing: stream events report the class of the mean probabilities of the last `windows` windows."""

    windows: int = 1
    validation_accuracy: Mapping[str, Any] | None = None
    validation_windows: int | None = None
    chosen_on: str | None = None
    rule: str | None = None
    hop: int | None = None


@dataclass(frozen=True)
class Sequence(Record):
    """Sequence decoding: the causal forward filter `ssvae_edge.sequence` runs over the (smoothed) window
    probabilities: which class follows which (`transition`, row i: the next window's class after class i) and
    the training class frequencies (`class_prior`), learnt from the training people's recordings; `unseen`, the
    weight of a move never seen in training, chosen on the validation people's recordings."""

    transition: tuple[tuple[float, ...], ...]
    class_prior: tuple[float, ...]
    unseen: float | None = None
    validation_accuracy: Mapping[str, Any] | None = None
    validation_windows: int | None = None
    chosen_on: str | None = None
    learnt_from: str | None = None
    rule: str | None = None
    hop: int | None = None


@dataclass(frozen=True)
class Mounting(Record):
    """Which way round the phone is clipped: the linear model of a window's features (`ssvae_edge.mounting`)
    whose output is the log-odds that the phone is turned around (`flip`: the sign each channel takes then),
    the clip of one window's log-odds and the evidence needed first (`prior`), chosen on validation people."""

    flip: tuple[float, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    clip: float
    prior: float
    turned: str | None = None
    fitted_on: str | None = None
    validation: Mapping[str, Any] | None = None
    chosen_on: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Posture(Record):
    """The second opinion between two still postures (`ssvae_edge.posture`): the two classes, the accelerometer's
    three channels, the linear model of a window's features whose output is the log-odds of the second class,
    and how it was chosen on validation people."""

    classes: tuple[str, ...]
    accelerometer: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    fitted_on: str | None = None
    validation: Mapping[str, Any] | None = None
    chosen_on: str | None = None
    rule: str | None = None
    still_classes: tuple[str, ...] | None = None  # with max_motion_sd: the postures a moving body cannot be in
    max_motion_sd: float | None = None  # g: a window whose |acc| varies more is not still
    features: str | None = None  # posture.FEATURE_SETS; absent: "window+gravity" (the bundles made before it)
    min_sd: tuple[float, ...] | None = None  # per channel: a window with a flatter channel is not decided
    gyroscope: tuple[str, ...] | None = None  # with features "long-axis+sway": its three channels, axes in order
    context_windows: int | None = None  # with a "+context" features set: how many windows its running mean spans


@dataclass(frozen=True)
class Refit(Record):
    """A bundle of a run trained on every training row (no validation rows), exported with the choices its
    validated sibling's bundle made (`ssvae_train.export.refit`): where they came from and what that means."""

    choices_from: str
    choices_from_sha256: str | None = None  # of the sibling's manifest.json, as read at export
    sibling_run: str | None = None
    sibling_val_fraction: float | None = None
    sibling_validation_people: tuple[str, ...] | None = None
    taken_verbatim: tuple[str, ...] | None = None
    what: str | None = None


@dataclass(frozen=True)
class Composition(Record):
    """An M1+M2 bundle: how its graphs chain M1 (a plain VAE on raw samples) and M2 (on M1's latent means)."""

    kind: str
    m1_run: str | None = None
    m1_latent_dim: int | None = None
    m1_hidden: int | None = None
    m1_arch: str | None = None  # M1's trunk (convlstm for sensor windows); producer.arch is M2's (dense)
    active_units: tuple[int, ...] | None = None
    what: str | None = None


@dataclass(frozen=True)
class EnsembleMember(Record):
    """One run of an ensemble bundle: where it came from and which of its weights the graphs hold."""

    run: str
    checkpoint_sha256: str | None = None
    seed: int | None = None
    split_seed: int | None = None  # the seed its split and labels came from (`--split-seed`, else `seed`)
    weights: str | None = None  # last | best
    weights_epoch: int | None = None


@dataclass(frozen=True)
class Ensemble(Record):
    """An ensemble bundle (`ssvae-export --member`): runs of one recipe on the same rows from other initialisations,
    whose class probabilities and anomaly scores the classifier and anomaly graphs average. A runtime needs none of
    it: the graphs keep the contract's signatures."""

    members: tuple[EnsembleMember, ...]  # the first is RUN, the run `producer` describes
    what: str | None = None


CANONICAL_TURN = "canonical-turn"  # the one frame a bundle's graphs may turn their windows to (`Frame.name`)


@dataclass(frozen=True)
class Frame(Record):
    """A sensor bundle whose graphs turn each window before reading it (`ssvae-train fit --frame`): what a
    reader of the decoder's windows needs to know (they are drawn in that frame). A runtime needs none of it."""

    name: str  # canonical-turn
    by: tuple[str, ...]  # the accelerometer channels whose mean sets each window's angle
    turned: tuple[str, ...]  # every channel the turn changes (the y and z of each x/y/z triple)
    what: str | None = None
