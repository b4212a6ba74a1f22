"""The SSVAE family: one model class whose trunk and decoder come in dense, conv and LSTM flavours."""

from ssvae_train.models.ssvae import SSVAE, ModelConfig

__all__ = ["SSVAE", "ModelConfig"]
