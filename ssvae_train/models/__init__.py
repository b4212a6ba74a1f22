"""The SSVAE family: one model class whose trunk and decoder come in dense, conv and LSTM flavours."""

from ssvae_train.models.ssvae import KINDS, SSVAE, ModelConfig

__all__ = ["KINDS", "SSVAE", "ModelConfig"]
