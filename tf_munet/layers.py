"""Custom Keras layers, registered for serialization (`.keras` files load with safe_mode)."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_munet")
class InputScaling(keras.layers.Layer):
    """Brings a magnitude patch to the range the backbone expects.

    Args:
        mode: "log" (log(x + eps), the paper), "max" (x / max over the patch, per example and
            channel, the scale-free input of Jansson's U-Net) or "none".
        eps: floor that keeps silence finite (the paper preset: the authors' 2.2e-16).
    """

    def __init__(self, mode: str = "max", eps: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("log", "max", "none"):
            raise ValueError(f"InputScaling mode must be log, max or none. Received: mode={mode}")
        self.mode = mode
        self.eps = eps

    def call(self, x):
        if self.mode == "log":
            # log(x + eps) >= log(eps) already; the maximum keeps that floor where eps itself is
            # rounded to 0 (the paper's 2.2e-16 in float16 weights: TF-Lite's fp16 variant)
            return ops.maximum(ops.log(x + self.eps), math.log(self.eps))
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


@keras.saving.register_keras_serializable(package="tf_munet")
class SubpixelConv2DTranspose(keras.layers.Layer):
    """A stride-s transposed convolution ('same' padding) computed as a stride-1 convolution with
    s*s*filters outputs, one group of filters per output phase, then depth-to-space (the
    sub-pixel convolution of Shi et al. 2016). Same outputs as the transposed convolution it
    replaces (`from_transposed`); oneDNN and XNNPACK starve on transposed convolutions with few
    filters, such as the U-Nets' mask heads, and run this form 2-3x faster.

    Args:
        filters: output channels (of the transposed convolution).
        strides: s (the same along both axes).
        size: side of the stride-1 kernel (`subpixel_size`).
        activation: applied after depth-to-space, as the transposed convolution's.
        use_bias: whether there is a bias (one per filter, repeated per phase).
    """

    def __init__(self, filters: int, strides: int, size: int, activation=None,
                 use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides, self.size = filters, strides, size
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias

    def build(self, input_shape):
        phases = self.strides * self.strides * self.filters
        self.kernel = self.add_weight(name="kernel", shape=(self.size, self.size, input_shape[-1], phases),
                                      initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(phases,), initializer="zeros") if self.use_bias else None

    def call(self, x):
        y = ops.conv(x, self.kernel, strides=1, padding="same")
        if self.bias is not None:
            y = y + self.bias
        s, h, w = self.strides, y.shape[1], y.shape[2]
        y = ops.reshape(y, (-1, h, w, s, s, self.filters))
        y = ops.reshape(ops.transpose(y, (0, 1, 3, 2, 4, 5)), (-1, h * s, w * s, self.filters))
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        return (b, None if h is None else h * s, None if w is None else w * s, self.filters)

    @staticmethod
    def taps(kernel_size: int, strides: int) -> list[dict[int, int]]:
        """Per output phase a: {input offset d: kernel index} of a 'same' transposed convolution
        along one axis (output o = s*i + k - p, p = max(kernel - s, 0) // 2, so output s*m + a
        takes input m + d through kernel index a + p - s*d)."""
        pad = max(kernel_size - strides, 0) // 2
        return [{(a + pad - k) // strides: k for k in range(kernel_size) if (k - a - pad) % strides == 0}
                for a in range(strides)]

    @classmethod
    def subpixel_size(cls, kernel_size: int, strides: int) -> int:
        reach = max(abs(d) for phase in cls.taps(kernel_size, strides) for d in phase)
        return 2 * reach + 1

    @classmethod
    def subpixel_kernel(cls, kernel, strides: int):
        """A Conv2DTranspose kernel (k, k, filters, in) -> this layer's (size, size, in,
        s*s*filters): phase (a, b)'s filters take the transposed kernel's taps that reach it."""
        import numpy as np

        kernel = np.asarray(kernel)
        k, _, filters, channels = kernel.shape
        taps, size = cls.taps(k, strides), cls.subpixel_size(k, strides)
        reach = size // 2
        out = np.zeros((size, size, channels, strides * strides * filters), kernel.dtype)
        for a in range(strides):
            for b in range(strides):
                group = slice((a * strides + b) * filters, (a * strides + b + 1) * filters)
                for di, ki in taps[a].items():
                    for dj, kj in taps[b].items():
                        out[reach + di, reach + dj, :, group] = kernel[ki, kj].T
        return out

    @classmethod
    def from_transposed(cls, layer: keras.layers.Conv2DTranspose) -> "SubpixelConv2DTranspose":
        """The sub-pixel form of a built Conv2DTranspose (same name, dtype and input), weights set."""
        import numpy as np

        k, s = layer.kernel_size[0], layer.strides[0]
        sub = cls(layer.filters, s, cls.subpixel_size(k, s), layer.activation, layer.use_bias,
                  name=layer.name, dtype=layer.dtype_policy)
        sub.build((None, None, None, layer.kernel.shape[-1]))
        weights = [cls.subpixel_kernel(ops.convert_to_numpy(layer.kernel).astype(np.float32), s)]
        if layer.use_bias:
            weights.append(np.tile(ops.convert_to_numpy(layer.bias).astype(np.float32), s * s))
        sub.set_weights(weights)
        return sub

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides,
                "size": self.size, "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias}
