#!/usr/bin/env python3
"""Rule O of results/hapt-bundles.md (twenty-sixth round): what the "+context" posture sets add on each bundle's own
validation people, read from the manifests the export wrote (`posture.validation.features`, streamed as the runtime
does), with the export's own pick (`pick_feature_set`) made without and with the context sets.

    python tools/posture_context_gain.py runs/hapt-bundles/full-norot-s{0,1,2,3,4}-ctx \
        runs/hapt-bundles/full-turn-s{0,1,2,3,4}-ctx --out results/posture-context-validation.md

Validation figures only; no test recording is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge.posture import per_window
from ssvae_train.export.posture_fit import pick_feature_set


def shipped(validation: dict, sets: list[str]) -> float:
    """The validation accuracy the export ships when it weighs `sets`: the picked set's better of `on` and
    `on_with_motion_gate` where its model alone beats `off`, else `off`."""
    figures = validation["features"]
    right = {("off", None): validation["off"],
             **{(k, f): figures[f][k] for f in sets for k in ("on", "on_with_motion_gate")}}
    f = pick_feature_set(right, sets)
    return max(right["on", f], right["on_with_motion_gate", f]) if right["on", f] > right["off", None] else \
        validation["off"]


def main(
    bundles: Annotated[list[Path], typer.Argument(help="Bundles exported with --posture-context.")],
    out: Annotated[Path, typer.Option(help="The Markdown table written.")] = Path(
        "results/posture-context-validation.md"),
) -> None:
    lines = ["# The posture model over the last windows, on each run's validation people (rule O)", "",
             "Made by `python tools/posture_context_gain.py` (its docstring has the command): the validation window "
             "accuracy each bundle's export ships without the `+context` feature sets and with them, from its "
             "manifest's `posture.validation.features`. Validation people only.", "",
             "| bundle | sets weighed | shipped set | without | with | gain (points) |", "|---|---|---|---:|---:|---:|"]
    gains = []
    for b in bundles:
        posture = json.loads((b / "manifest.json").read_text()).get("posture")
        if posture is None or "features" not in posture.get("validation", {}):
            raise typer.BadParameter(f"{b}: no posture model weighed over several feature sets")
        v = posture["validation"]
        weighed = list(v["features"])
        single = [f for f in weighed if per_window(f) == f]
        without, with_ = shipped(v, single), shipped(v, weighed)
        gains.append(100 * (with_ - without))
        lines.append(f"| `{b}` | {len(weighed)} | `{posture['features']}` | {100 * without:.2f} % | "
                     f"{100 * with_:.2f} % | {gains[-1]:+.2f} |")
    mean = sum(gains) / len(gains)
    lines += ["", f"Mean gain {mean:+.2f} points over {len(gains)} bundles; positive on {sum(g > 0 for g in gains)}."]
    typer.echo("\n".join(lines[-1:]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    typer.run(main)
