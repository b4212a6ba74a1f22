"""ssvae_train: data, the semi-supervised VAE family, training, evaluation and ONNX export."""

__version__ = "0.1.0"
