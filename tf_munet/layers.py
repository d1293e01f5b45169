"""Custom Keras layers, registered for serialization (`.keras` files load with safe_mode)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_munet")
class InputScaling(keras.layers.Layer):
    """Brings a magnitude patch to the range the backbone expects.

    Args:
        mode: "log" (log(x + eps), the paper), "max" (x / max over the patch, per example and
            channel, the scale-free input of Jansson's U-Net) or "none".
        eps: floor that keeps silence finite.
    """

    def __init__(self, mode: str = "max", eps: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("log", "max", "none"):
            raise ValueError(f"InputScaling mode must be log, max or none. Received: mode={mode}")
        self.mode = mode
        self.eps = eps

    def call(self, x):
        if self.mode == "log":
            return ops.log(x + self.eps)
        if self.mode == "max":
            peak = ops.max(x, axis=(1, 2), keepdims=True)
            return x / (peak + self.eps)
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "eps": self.eps}


@keras.saving.register_keras_serializable(package="tf_munet")
class FiLM(keras.layers.Layer):
    """Feature-wise linear modulation x' = gamma * x + beta (Perez et al. 2018).

    Inputs: [x (batch, h, w, c), gamma (batch, 1 or c), beta (batch, 1 or c)]. A width-1
    gamma/beta is the C-U-Net's "simple" FiLM (one scalar per layer), width c the "complex" one.
    """

    def call(self, inputs):
        x, gamma, beta = inputs
        gamma = ops.expand_dims(ops.expand_dims(gamma, 1), 1)
        beta = ops.expand_dims(ops.expand_dims(beta, 1), 1)
        return x * gamma + beta


@keras.saving.register_keras_serializable(package="tf_munet")
class SourceMasks(keras.layers.Layer):
    """Reshapes (batch, bins, frames, channels * sources) to (batch, bins, frames, channels,
    sources): the layout every family returns, one mask per source and audio channel."""

    def __init__(self, channels: int, sources: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.sources = sources

    def call(self, x):
        shape = ops.shape(x)
        return ops.reshape(x, (shape[0], shape[1], shape[2], self.channels, self.sources))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], self.channels, self.sources)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "sources": self.sources}


@keras.saving.register_keras_serializable(package="tf_munet")
class RatioMasks(keras.layers.Layer):
    """Spleeter's ratio masks: m_k = ((s_k|X|)^p + eps/K) / (sum_j (s_j|X|)^p + eps).

    Inputs: [masks (batch, bins, frames, channels, K), magnitude (batch, bins, frames,
    channels)]. The network's sigmoid masks s_k become masks that sum to 1 over the sources;
    the formula, including where eps enters, is Spleeter's, so converted models give its masks.

    Args:
        exponent: p (Spleeter's `separation_exponent`, 2 in every released model).
        eps: Spleeter's EPSILON.
    """

    def __init__(self, exponent: float = 2.0, eps: float = 1e-10, **kwargs):
        super().__init__(**kwargs)
        self.exponent = exponent
        self.eps = eps

    def call(self, inputs):
        masks, magnitude = inputs
        k = ops.shape(masks)[-1]
        power = ops.power(masks * ops.expand_dims(magnitude, -1), self.exponent)
        total = ops.sum(power, axis=-1, keepdims=True) + self.eps
        return (power + self.eps / ops.cast(k, masks.dtype)) / total

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "exponent": self.exponent, "eps": self.eps}
