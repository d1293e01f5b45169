"""Optional decoding/resampling backend on tensorflow-io (`pip install .[tfio]`).

tensorflow-io 0.37.1 (its latest) works only with TensorFlow 2.16/2.17: on newer TensorFlow it
imports but every audio op fails. It therefore lives in its own environment
(tensorflow==2.17.1 tensorflow-io==0.37.1 "numpy<2" keras==3.15.1; see .ci/tfio_check.sh) and is
selected explicitly with `backend="tfio"` (`python -m tf_munet.prepare --backend tfio`). Nothing on
the default path imports this module. STEMS (.stem.mp4) files are always decoded by stempeg.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError


def _tfio():
    try:
        import tensorflow as tf
        import tensorflow_io as tfio
    except ImportError as exc:
        raise UserError(
            f"the tfio backend needs tensorflow-io ({exc}); install it in an environment with "
            "tensorflow==2.17.1 tensorflow-io==0.37.1 'numpy<2' keras==3.15.1, or use --backend soundfile"
        ) from None
    major, minor = (int(v) for v in tf.__version__.split(".")[:2])
    if (major, minor) not in ((2, 16), (2, 17)):
        raise UserError(
            f"tensorflow-io's audio ops do not work with TensorFlow {tf.__version__} (needs 2.16 or 2.17); "
            "use --backend soundfile"
        )
    return tf, tfio


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode with tfio.audio.AudioIOTensor: (float32 (samples, channels), rate)."""
    tf, tfio = _tfio()
    try:
        tensor = tfio.audio.AudioIOTensor(str(path))
        rate = int(tensor.rate.numpy())
        data = tensor.to_tensor().numpy()
    except (tf.errors.OpError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable audio file (tensorflow-io: {reason})") from None
    if data.dtype == np.int16:
        data = data.astype(np.float32) / 32768.0
    elif data.dtype == np.int32:
        data = data.astype(np.float32) / 2147483648.0
    elif data.dtype == np.uint8:
        data = (data.astype(np.float32) - 128.0) / 128.0
    data = np.asarray(data, np.float32)
    if data.ndim == 1:
        data = data[:, None]
    return np.ascontiguousarray(data), rate


@functools.lru_cache(maxsize=32)
def _delay(from_rate: int, to_rate: int) -> int:
    """tfio's resampler delays its output (about 32 output samples when downsampling, 64 when
    doubling the rate): measured once per rate pair from an impulse placed where input and output
    grids meet, so the result is aligned with soxr's to the nearest sample."""
    tf, tfio = _tfio()
    g = math.gcd(from_rate, to_rate)
    pos = from_rate // g
    while pos < 4096:
        pos *= 2
    x = np.zeros((pos * 2 + 8192, 1), np.float32)
    x[pos] = 1.0
    y = tfio.audio.resample(tf.constant(x), from_rate, to_rate).numpy()[:, 0]
    return int(np.argmax(np.abs(y))) - pos * to_rate // from_rate


def resample(data: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """tfio.audio.resample of (samples, channels), delay removed, round(samples * to / from) long."""
    tf, tfio = _tfio()
    from_rate, to_rate = int(from_rate), int(to_rate)
    data = np.asarray(data, np.float32)
    want = int(round(len(data) * to_rate / from_rate))
    delay = _delay(from_rate, to_rate)
    pad = int(np.ceil((delay + 2) * from_rate / to_rate))
    padded = np.concatenate([data, np.zeros((pad, data.shape[1]), np.float32)])
    out = tfio.audio.resample(tf.constant(padded), from_rate, to_rate).numpy()[delay : delay + want]
    if len(out) < want:
        out = np.concatenate([out, np.zeros((want - len(out), out.shape[1]), np.float32)])
    return np.asarray(out, np.float32)
