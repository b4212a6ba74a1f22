"""How a sensor bundle's stream turns window outputs into events, each part chosen in turn on the validation
people's continuous recordings: the class smoothing (`class_smoothing`), then the sequence filter on top of it
(`sequence_fit`), then the mounting estimate judged with both (`mounting_fit`), then the posture second opinion
judged with all three (`posture_fit`). Each is None where it does not apply or did not win; the exporter writes
what is not None to the manifest."""

from __future__ import annotations

from collections.abc import Callable

from ssvae_train.data.prepared import Prepared
from ssvae_train.export.class_smoothing import choose_smoothing
from ssvae_train.export.mounting_fit import choose_mounting
from ssvae_train.export.posture_fit import choose_posture
from ssvae_train.export.sequence_fit import choose_sequence
from ssvae_train.export.validation_windows import validation_probs


def choose_decoding(session, prep: Prepared, say: Callable[[str], None], posture_features: str,
                    posture_context: int) -> tuple[dict | None, dict | None, dict | None, dict | None]:
    """(smoothing, sequence, mounting, posture) manifest entries for the classifier graph `session`; `say` gets one line
    per choice with the validation figures it was made on. `posture_features`, `posture_context`: `ExportConfig`'s."""
    val = validation_probs(session, prep)
    smoothing = choose_smoothing(val)
    if smoothing is not None:
        say(f"class smoothing: {smoothing['windows']} window(s), chosen on the validation people's recordings "
            f"(window accuracy there {smoothing['validation_accuracy']})")
    k = smoothing["windows"] if smoothing else 1
    sequence = choose_sequence(val, prep, k)
    if sequence is not None:
        chosen = sequence["chosen"]
        say(f"sequence filter: {'on, unseen moves weighted ' + str(chosen['unseen']) if chosen else 'off'} "
            f"(validation window accuracy: {sequence['validation_accuracy']})")
        sequence = chosen
    mounting = choose_mounting(session, prep, val, k, sequence)
    if mounting is not None:
        chosen = mounting["chosen"]
        say(f"mounting estimate: {'on, prior ' + str(chosen['prior']) if chosen else 'off'} "
            f"(validation window accuracy as worn / turned around: {mounting['validation']})")
        mounting = chosen
    posture = choose_posture(session, prep, val, k, sequence, mounting, posture_features, posture_context)
    if posture is not None:
        chosen, v = posture["chosen"], posture["validation"]
        gate = " and its motion gate" if chosen and chosen.get("max_motion_sd") else ""
        sets = v.get("features")
        which = (f"; features {chosen['features']}" if chosen else "") + (
            " (each set without / with its gate: " + ", ".join(f"{f} {r['on']} / {r['on_with_motion_gate']}"
                                                              for f, r in sets.items()) + ")" if sets else "")
        say(f"posture model: {'on' + gate if chosen else 'off'} (validation window accuracy without / with it / "
            f"with its motion gate too: {v['off']} / {v['on']} / {v['on_with_motion_gate']}{which})")
        posture = posture["chosen"]
    return smoothing, sequence, mounting, posture
