"""Audio files in and stems out: input checks, block-by-block reading, atomic stem files.

Files soundfile reads are streamed (memory bounded by a block); others (m4a, mp4, MUSDB18's
.stem.mp4: its mixture) are decoded whole by ffmpeg (`tf_munet_core.ffmpeg`). Every stem file is
written to a temporary name and renamed when complete, in the format of
`tf_munet_core.encoding`; where they go is `tf_munet_core.layout`'s.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from tf_munet_core.encoding import FORMATS, Encoding  # noqa: F401 (FORMATS re-exported)
from tf_munet_core.errors import UserError, atomic_path, one_line, safe_child


def resample(data: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """(samples, channels) or (samples,) float32 from one rate to another (soxr "HQ")."""
    data = np.asarray(data, np.float32)
    if int(from_rate) == int(to_rate):
        return data
    import soxr

    squeeze = data.ndim == 1
    out = soxr.resample(data[:, None] if squeeze else data, int(from_rate), int(to_rate), quality="HQ")
    out = np.asarray(out, np.float32)
    return out[:, 0] if squeeze else out


def check_input_file(path: str | os.PathLike) -> Path:
    """`path` if it is a non-empty regular file, else a UserError saying what it is instead."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not an audio file")
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file (0 bytes)")
    return path


def check_complete(path: str | os.PathLike, info=None) -> None:
    """Refuse a WAV/AIFF whose audio data stops before its header says it ends.

    libsndfile reads such a file without complaint (as far as the data goes) and notes
    "data : <announced> (should be <present>)" in its chunk log; a cut download or a copy to a
    full disk looks like this. Streaming writers' placeholder sizes (0, 0xFFFFFFFF) are allowed.

    Args:
        path: the file.
        info: its `soundfile.info` or open `SoundFile` (read here when None).
    """
    import soundfile as sf

    if info is None:
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, TypeError):
            return
    match = re.search(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", info.extra_info or "", re.M)
    if not match:
        return
    announced, present = int(match[1]), int(match[2])
    if 0 < announced < 0xFFFFFFF0 and present + 8 < announced:
        rate = max(int(info.samplerate), 1)
        if info.frames > 0:
            whole = f"{announced / (present / info.frames) / rate:.2f} s"  # bytes per frame from the rest
        else:
            whole = f"{announced} bytes"
        raise UserError(f"{path}: truncated file (its header announces {whole} of audio, the file "
                        f"holds {info.frames / rate:.2f} s)")


def audio_seconds(path: str | os.PathLike) -> float | None:
    """Duration of an audio file: soundfile's, else ffprobe's (None when neither knows)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - ffmpeg-only formats, broken files: checked later
        from tf_munet_core.ffmpeg import probe_seconds

        return probe_seconds(path)
    return info.frames / info.samplerate if info.samplerate else None


COMPLEMENT = "no_{}"
"""--two-stems SOURCE's second stem: the mixture minus SOURCE (Demucs' name)."""


def stem_names(separator, stems: tuple[str, ...] | None = None, two_stems: str | None = None) -> tuple[str, ...]:
    """The stems a separation writes: `stems` (None: every source), or with `two_stems` that
    source and its complement; a UserError names a source the separator lacks."""
    if two_stems is not None:
        if stems:
            raise UserError("--two-stems and --stems: give one of them")
        (k,) = separator.stem_indices((two_stems,), "--two-stems")
        source = separator.sources[k]
        return source, COMPLEMENT.format(source)
    return tuple(separator.sources[k] for k in separator.stem_indices(stems))


def separate_file(
    separator,
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    stems: tuple[str, ...] | None = None,
    fmt: str = "wav",
    float32: bool = False,
    progress=None,
    profiler=None,
    decode: Callable[[Path], tuple[np.ndarray, int]] | None = None,
    encoding: Encoding | None = None,
    two_stems: str | None = None,
) -> dict[str, Path]:
    """Separate one audio file into `out_dir/<stem>.<ext>`, block by block.

    Args:
        separator: a `tf_munet_core.separator.MaskSeparator`.
        stems: sources to write (None: all).
        fmt: "wav", "flac" or "mp3"; `float32` writes 32-bit float WAV (default 16-bit PCM,
            clipped). `encoding` replaces both.
        two_stems: write this source and the mixture minus it (`COMPLEMENT`) instead.
        progress, profiler, decode: as `write_stems`.

    Returns:
        {stem: path written}.
    """
    encoding = encoding or Encoding(fmt, "32f" if float32 and fmt == "wav" else "16")
    names = stem_names(separator, stems, two_stems)
    files = {name: safe_child(Path(out_dir), f"{name}.{encoding.ext}") for name in names}
    return write_stems(separator, path, files, encoding=encoding, progress=progress,
                       profiler=profiler, decode=decode)


def write_stems(
    separator,
    path: str | os.PathLike,
    files: dict[str, Path],
    *,
    encoding: Encoding = Encoding(),
    progress=None,
    profiler=None,
    decode: Callable[[Path], tuple[np.ndarray, int]] | None = None,
) -> dict[str, Path]:
    """Separate one audio file into `files` ({stem: path}), block by block, each file written
    under a temporary name and renamed when complete.

    Args:
        separator: a `tf_munet_core.separator.MaskSeparator`.
        files: a path for each stem to write: sources of the separator, or one source and its
            complement (`COMPLEMENT`: the input minus that source, so the two sum to it exactly).
        encoding: the files' format.
        progress: `.update(seconds)` after every block.
        decode: reads a whole file soundfile cannot open -> (samples (n, C), rate); default
            ffmpeg (`tf_munet_core.ffmpeg.decode`).

    Returns:
        `files`.
    """
    import soundfile as sf

    from tf_munet_core.streaming import ForwardReader

    path = check_input_file(path)
    outputs = [_stem_output(separator, name) for name in files]  # (source index, complement?)
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(sf.SoundFile(str(path)))
            rate, channels, total = handle.samplerate, handle.channels, handle.frames
            stream: Callable[[int, int], np.ndarray] = ForwardReader(handle, channels)
            # the complements' mixture, read in step with the finished stems
            mixture = (ForwardReader(stack.enter_context(sf.SoundFile(str(path))), channels)
                       if any(c for _, c in outputs) else None)
        except (sf.LibsndfileError, RuntimeError, TypeError):
            if decode is None:
                from tf_munet_core.ffmpeg import decode
            handle = None
            data, rate = decode(path)
            channels, total = data.shape[1], len(data)
            stream = mixture = lambda a, b: data[a:b]  # noqa: E731
        if total == 0:
            raise UserError(f"{path}: no audio samples")
        if handle is not None:
            check_complete(path, handle)
        encoding.check(path, rate, channels)
        length = max(total, separator.min_samples(rate))  # reads past the end give zeros

        def read(a: int, b: int) -> np.ndarray:
            """Stream reads that name the file when its audio turns out bad mid-way."""
            try:
                x = stream(a, b)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise UserError(f"{path}: cannot decode audio near {a / rate:.1f} s "
                                f"({one_line(exc)})") from None
            if len(x) < b - a:
                x = np.pad(x, ((0, b - a - len(x)), (0, 0)))
            if not np.isfinite(x).all():
                raise UserError(f"{path}: audio contains NaN or infinite samples")
            return x

        writers = []
        try:
            for final in files.values():
                tmp = stack.enter_context(atomic_path(final, suffix=f".tmp.{encoding.ext}"))
                writers.append(stack.enter_context(encoding.open(tmp, rate, channels)))
            for start, block in separator.stream(read, length, channels, rate, progress=progress,
                                                 profiler=profiler):
                block = block[:, : max(0, total - start)]
                mix = mixture(start, start + block.shape[1]) if mixture is not None else None
                for w, (k, complement) in zip(writers, outputs):
                    y = mix - block[k] if complement else block[k]
                    w.write(encoding.prepare(y))
            for w in writers:  # close before the atomic rename
                w.close()
        except sf.LibsndfileError as exc:  # libsndfile says "System error." for a full disk
            raise UserError(f"{Path(next(iter(files.values()))).parent}: cannot write stems "
                            f"({one_line(exc)} - disk full?)") from None
    return dict(files)


def _stem_output(separator, name: str) -> tuple[int, bool]:
    """(index of the source, whether the stem is its complement) of a stem name."""
    if name in separator.sources:
        return separator.sources.index(name), False
    for source in separator.sources:
        if name == COMPLEMENT.format(source):
            return separator.sources.index(source), True
    raise UserError(f"{name}: not a source of this model ({', '.join(separator.sources)})")
