"""ONNX export: cut a trained run into the classifier, anomaly and decoder graphs of the bundle contract
(docs/bundle-format.md), validate them against PyTorch, and write them with their manifest (`ssvae-export`).

`export_run` and `ExportError` are imported lazily, so `ssvae-export --help` does not wait for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssvae_train.export.exporter import export_run
    from ssvae_train.export.graphs import ExportError

__all__ = ["ExportError", "export_run"]


def __getattr__(name: str) -> Any:
    if name == "export_run":
        from ssvae_train.export.exporter import export_run

        return export_run
    if name == "ExportError":
        from ssvae_train.export.graphs import ExportError

        return ExportError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
