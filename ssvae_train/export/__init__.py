"""ONNX export: cut a trained run into the classifier, anomaly and decoder graphs of the bundle contract
(DESIGN.md), validate them against PyTorch, and write them with their manifest (`ssvae-export`)."""

from ssvae_train.export.exporter import export_run
from ssvae_train.export.graphs import ExportError

__all__ = ["ExportError", "export_run"]
