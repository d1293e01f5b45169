"""Audio files in and stems out: input checks, block-by-block reading, atomic stem files.

Files soundfile reads are streamed (memory bounded by a block); others go through the `decode`
function the caller supplies (tf_munet passes its ffmpeg reader; the edge runner has none).
Every stem file is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from tf_munet_core.errors import UserError, atomic_path, one_line, safe_child

FORMATS = {"wav": "WAV", "flac": "FLAC"}
"""Stem file formats: --format name -> soundfile format."""


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
    """Duration of a file soundfile reads (None for others: unknown until decoded)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - ffmpeg-only formats, broken files: checked later
        return None
    return info.frames / info.samplerate if info.samplerate else None


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
) -> dict[str, Path]:
    """Separate one audio file into `out_dir/<source>.<fmt>`, block by block.

    Args:
        separator: a `tf_munet_core.separator.MaskSeparator`.
        stems: sources to write (None: all).
        fmt: "wav" or "flac"; `float32` writes 32-bit float WAV (default 16-bit PCM, clipped).
        progress: `.update(seconds)` after every block.
        decode: reads a whole file soundfile cannot open -> (samples (n, C), rate).

    Returns:
        {source: path written}.
    """
    import soundfile as sf

    path = check_input_file(path)
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    picks = separator.stem_indices(stems)
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(sf.SoundFile(str(path)))
            rate, channels, total = handle.samplerate, handle.channels, handle.frames
            from tf_munet_core.streaming import ForwardReader

            stream: Callable[[int, int], np.ndarray] = ForwardReader(handle, channels)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            if decode is None:
                raise UserError(f"{path}: cannot read audio ({one_line(exc)})") from None
            handle = None
            data, rate = decode(path)
            channels, total = data.shape[1], len(data)
            stream = lambda a, b: data[a:b]  # noqa: E731
        if total == 0:
            raise UserError(f"{path}: no audio samples")
        if handle is not None:
            check_complete(path, handle)
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

        subtype = "FLOAT" if float32 and fmt == "wav" else "PCM_16"
        paths, writers = {}, []
        try:
            for k in picks:
                final = safe_child(Path(out_dir), f"{separator.sources[k]}.{fmt}")
                tmp = stack.enter_context(atomic_path(final, suffix=f".tmp.{fmt}"))
                writers.append(stack.enter_context(sf.SoundFile(
                    str(tmp), "w", samplerate=rate, channels=channels, format=FORMATS[fmt],
                    subtype=subtype,
                )))
                paths[separator.sources[k]] = final
            for start, block in separator.stream(read, length, channels, rate, progress=progress,
                                                 profiler=profiler):
                block = block[:, : max(0, total - start)]
                for w, k in zip(writers, picks):
                    y = block[k]
                    w.write(y if subtype == "FLOAT" else np.clip(y, -1.0, 1.0))
            for w in writers:  # close before the atomic rename
                w.close()
        except sf.LibsndfileError as exc:  # libsndfile says "System error." for a full disk
            raise UserError(f"{out_dir}: cannot write stems ({one_line(exc)} - disk full?)") from None
    return paths


def output_folders(inputs: list[str], out: str | os.PathLike) -> list[tuple[Path, Path]]:
    """(input, its output folder OUT/<input's stem>) pairs; refuses missing inputs, an OUT that
    is a file and two inputs that would write to the same folder."""
    from tf_munet_core.outputs import output_folder

    output_folder(out, "-o")
    pairs, seen = [], {}
    for name in inputs:
        path = check_input_file(name)
        target = safe_child(Path(out), path.stem)
        if target in seen:
            raise UserError(f"{path}: same output folder {target} as {seen[target]}; rename one")
        seen[target] = path
        pairs.append((path, target))
    return pairs


def clear_earlier_stems(pairs: list[tuple[Path, Path]], overwrite: bool) -> None:
    """Refuse (or, with --overwrite, remove) stems an earlier run left in an input's folder, so
    no folder ends up with stems of two runs or two --stems choices (nothing else is touched)."""
    from tf_munet_core.outputs import output_folder, replace_earlier

    for _, target in pairs:
        output_folder(target, "-o")
        if target.is_dir():
            earlier = [p for p in target.iterdir() if p.suffix.lstrip(".") in FORMATS]
            replace_earlier(target, earlier, overwrite=overwrite, what="stems of an earlier run",
                            flag="-o")
