#!/usr/bin/env python3
"""Check what a bundle's decoder draws, with the bundle's own classifier (onnxruntime only).

    python tools/check_generation.py exported/har-lstm --data-dir ../shared/data/uci-har --n 30
    python tools/check_generation.py exported/mnist-dense --n 100

Writes `results/generation/<bundle>.json` (agreement per class; for sensors, per channel, how much
generated and real test windows move and their spectra's mean frequency) and, for sensors,
`results/figures/generation-<bundle>.png` (sensors: a real and a generated window per activity, channels
labelled; images: ten drawn images per class, the ones the classifier reads as another class in red).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import Bundle
from ssvae_train.data.load import load_dataset
from ssvae_train.export.generation_check import check_generation, draw_image_grid, draw_sensor_comparison
from ssvae_train.files import write_text_atomic

ROOT = Path(__file__).resolve().parent.parent


def main(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder (manifest.json + graphs).")],
    data_dir: Annotated[Path | None, typer.Option(help="The data set's folder: real test windows to compare "
                                                       "with (sensors); not needed for images.")] = None,
    n: Annotated[int, typer.Option(min=1, help="Samples drawn per class.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the codes z ~ N(0, I).")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for the JSON.")] = ROOT / "results" / "generation",
    figures: Annotated[Path, typer.Option(help="Folder for the figure.")] = ROOT / "results" / "figures",
) -> None:
    """Agreement of generated samples with the class asked, and (sensors) real vs generated windows."""
    b = Bundle.load(bundle, providers="cpu")
    x_real = y_real = None
    if b.channels is not None and data_dir is not None:
        ds = load_dataset(b.manifest.producer.dataset, data_dir)
        x_real, y_real = ds.x_test, ds.y_test
    report = check_generation(b, n, x_real, y_real, seed)
    report["bundle"] = str(bundle)
    report["command"] = "python tools/check_generation.py " + " ".join(sys.argv[1:])
    path = out / f"{bundle.name}.json"
    write_text_atomic(path, json.dumps(report, indent=2) + "\n")
    fig = figures / f"generation-{bundle.name}.png"
    if x_real is not None:
        draw_sensor_comparison(b, x_real, y_real, fig, seed)
        print(f"wrote {fig}")
    elif b.channels is None and len(b.sample_shape) == 2:  # images
        draw_image_grid(b, fig, seed=seed)
        print(f"wrote {fig}")
    per = ", ".join(f"{k} {v['agreement']:.2f}" for k, v in report["per_class"].items())
    print(f"{bundle.name}: agreement {report['agreement']:.3f} ({per}); wrote {path}")


if __name__ == "__main__":
    typer.run(main)
