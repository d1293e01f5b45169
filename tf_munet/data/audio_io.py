"""Reading, writing and resampling audio files as (samples, channels) float32 arrays.

soundfile reads WAV/FLAC/OGG exactly; anything else (mp3, m4a, mp4 ...) goes through ffmpeg.
Every failure becomes a `UserError` that names the file, so a bad file in a data set of
hundreds is found from the message alone. Resampling uses soxr (the "HQ" recipe), a well-kept
resampler that is fast enough to resample all of MUSDB18 in minutes on two cores.

The optional tensorflow-io backend (`backend="tfio"`, see `tf_munet.data.tfio_backend`) needs its
own environment (tensorflow 2.17.1); nothing on the default path imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError, atomic_path, one_line
from tf_munet_core.ffmpeg import decode as decode_ffmpeg
from tf_munet_core.ffmpeg import probe_audio  # noqa: F401 (re-exported)
from tf_munet_core.files import check_complete, check_input_file  # noqa: F401 (re-exported)

BACKENDS = ("soundfile", "tfio")
"""Decoding/resampling backends: soundfile + ffmpeg + soxr (default), or tensorflow-io."""


def read_audio(path: str | os.PathLike, backend: str = "soundfile") -> tuple[np.ndarray, int]:
    """Decode an audio file.

    Args:
        path: any file soundfile or ffmpeg can decode (first audio stream).
        backend: "soundfile" (soundfile, ffmpeg fallback) or "tfio" (tensorflow-io).

    Returns:
        (data, rate): float32 array (samples, channels) in [-1, 1], and the sample rate.
        A valid file with no samples gives a (0, channels) array (callers decide if that is bad).

    Raises:
        UserError: missing, empty, corrupt or non-audio file, or non-finite samples.
    """
    path = check_input_file(path)
    if backend == "tfio":
        from tf_munet.data import tfio_backend

        data, rate = tfio_backend.read_audio(path)
    elif backend == "soundfile":
        data, rate = _read_soundfile(path)
        if data is None:
            data, rate = decode_ffmpeg(path)
    else:
        raise UserError(f"Unknown audio backend {backend!r}; use one of {BACKENDS}.")
    if data.size and not np.isfinite(data).all():
        raise UserError(f"{path}: audio contains NaN or infinite samples")
    return data, rate


def _read_soundfile(path: Path) -> tuple[np.ndarray | None, int]:
    """soundfile read, or (None, 0) when libsndfile does not know the format."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None, 0
    check_complete(path, info)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:  # a known format, damaged
        raise UserError(f"{path}: cannot decode audio ({one_line(exc)})") from None
    return np.ascontiguousarray(data), int(rate)


def write_audio(
    path: str | os.PathLike,
    data: np.ndarray,
    rate: int,
    format: str | None = None,
    subtype: str | None = None,
) -> Path:
    """Write (samples,) or (samples, channels) audio atomically (temp file, then rename).

    Args:
        path: destination; the format follows its suffix unless `format` is given.
        data: float (written as given, e.g. PCM_16 after clipping) or int16 samples (written
            bit-exactly, which keeps "mixture = sum of stems" exact in 16-bit files).
        rate: sample rate in Hz.
        format: soundfile format name ("WAV", "FLAC", ...); default from the suffix.
        subtype: soundfile subtype ("PCM_16", "FLOAT", ...); default: the format's default.
    """
    import soundfile as sf

    path = Path(path)
    if format is None:
        format = path.suffix.lstrip(".").upper() or "WAV"
    data = np.asarray(data)
    if data.dtype.kind == "f":
        data = np.clip(data, -1.0, 1.0)
    with atomic_path(path, suffix=path.suffix + ".tmp") as tmp:
        try:
            sf.write(str(tmp), data, int(rate), format=format, subtype=subtype)
        except sf.LibsndfileError as exc:  # libsndfile says "System error." for a full disk
            raise UserError(f"{path}: cannot write audio ({one_line(exc)} - disk full?)") from None
    return path


def resample(data: np.ndarray, from_rate: int, to_rate: int, backend: str = "soundfile") -> np.ndarray:
    """Resample (samples, channels) float32 audio with soxr ("HQ"); identity if rates match.

    The output has round(samples * to_rate / from_rate) samples. `backend="tfio"` uses
    tensorflow-io's resampler instead (optional environment).
    """
    data = np.asarray(data, np.float32)
    if int(from_rate) == int(to_rate):
        return data
    if backend == "tfio":
        from tf_munet.data import tfio_backend

        return tfio_backend.resample(data, from_rate, to_rate)
    from tf_munet_core.files import resample as soxr_resample

    return soxr_resample(data, from_rate, to_rate)


def to_channels(data: np.ndarray, channels: int) -> np.ndarray:
    """Downmix (mean of channels) to mono, or copy mono to every channel.

    Raises UserError for other conversions (e.g. 6 channels to stereo).
    """
    have = data.shape[1]
    if have == channels:
        return data
    if channels == 1:
        return data.mean(axis=1, keepdims=True).astype(np.float32)
    if have == 1:
        return np.repeat(data, channels, axis=1)
    raise UserError(f"cannot convert {have}-channel audio to {channels} channels")
