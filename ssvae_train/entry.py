"""The `ssvae-train` and `ssvae-export` scripts, torch-free until torch is known to be there.

`pip install .` (the edge runtime) installs these scripts too; without the `train` extra they would die
on `import torch` with a long traceback. Here they say, in one line, what to install, and exit 2.
"""

from __future__ import annotations

import importlib.util
import sys

NEEDS = ("torch", "onnx", "sklearn")  # what the training and export code imports beyond the edge runtime
INSTALL = "pip install 'ssvae[train]'"


def missing() -> list[str]:
    """The training dependencies that cannot be imported here."""
    return [m for m in NEEDS if importlib.util.find_spec(m) is None]


def _check(prog: str) -> None:
    gone = missing()
    if gone:
        from ssvae_edge.cliconv import error_line

        print(error_line(prog, f"{', '.join(gone)} not installed: {prog} needs the training extra, "
                               f"{INSTALL} (the edge runtime alone is ssvae-edge)"), file=sys.stderr)
        sys.exit(2)


def train() -> None:
    """`ssvae-train`."""
    _check("ssvae-train")
    from ssvae_train.cli import main

    main()


def export() -> None:
    """`ssvae-export`."""
    _check("ssvae-export")
    from ssvae_train.export.cli import main

    main()
