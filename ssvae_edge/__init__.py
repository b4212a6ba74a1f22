"""ssvae_edge: run an exported ssvae bundle (classifier, anomaly score, decoder) with onnxruntime only.

No torch here: a device installs numpy + onnxruntime (+ typer for the CLI) and nothing else.
"""

from ssvae_edge.alerts import AlertDebouncer
from ssvae_edge.bundle import Bundle
from ssvae_edge.contract import Manifest
from ssvae_edge.csvinput import Recording, read_recording
from ssvae_edge.errors import BundleError, EdgeError, InputError, ProviderError
from ssvae_edge.stream import StreamScorer
from ssvae_edge.windows import RingBuffer, cut_windows

__version__ = "0.1.0"

__all__ = [
    "AlertDebouncer",
    "Bundle",
    "BundleError",
    "EdgeError",
    "InputError",
    "Manifest",
    "ProviderError",
    "Recording",
    "RingBuffer",
    "StreamScorer",
    "cut_windows",
    "read_recording",
    "__version__",
]
