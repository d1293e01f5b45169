"""Finding, loading and checking MUSDB18 tracks (STEMS .stem.mp4 and HQ/WAV folders).

The layout, stem ids and the official validation list are musdb's own (`musdb/configs/mus.yaml`);
STEMS files are decoded with stempeg as musdb does. Tracks are listed here rather than through
`musdb.DB` because `musdb.DB` probes every file with ffprobe while listing (minutes on MUSDB18)
and fails on the first bad file with an error that does not name the track; every check below
names the track and the file instead.

Layouts (root from an argument or the MUSDB_PATH environment variable):
- HQ:    <root>/{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav
- STEMS: <root>/{train,test}/<track>.stem.mp4 (streams: mixture, drums, bass, other, vocals)
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_munet.data.audio_io import read_audio
from tf_munet.errors import Notice, UserError, atomic_path
from tf_munet.presets import STEMS

FORMATS = ("auto", "hq", "stems")
MIXTURE_WARN_DB = {"hq": -40.0, "stems": -10.0}
"""A mixture that differs from the sum of its stems by more than this (RMS error relative to the sum, dB)
gets a warning. STEMS files are AAC-coded stream by stream, so their sums are only close
(noise-like drums decode with a waveform error of about -18 dB at 256 kbit/s)."""


@functools.lru_cache(maxsize=1)
def musdb_setup() -> dict:
    """musdb's setup (stem ids, validation track names), read from the installed package."""
    import importlib.util

    import yaml

    spec = importlib.util.find_spec("musdb")
    path = Path(spec.origin).parent / "configs" / "mus.yaml"
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def official_validation_tracks() -> tuple[str, ...]:
    """MUSDB18's official validation tracks (a subset of its train tracks)."""
    return tuple(musdb_setup()["validation_tracks"])


@dataclass(frozen=True)
class TrackRef:
    """Where one track lives.

    Attributes:
        name: track name (folder name, or file name without .stem.mp4).
        subset: "train" or "test".
        format: "hq" (folder of WAVs) or "stems" (.stem.mp4).
        path: the track folder (hq) or the .stem.mp4 file (stems).
    """

    name: str
    subset: str
    format: str
    path: Path

    def files(self) -> dict[str, Path]:
        """{"mixture"|stem: file}; all the same file for STEMS."""
        if self.format == "stems":
            return {k: self.path for k in ("mixture", *STEMS)}
        return {k: self.path / f"{k}.wav" for k in ("mixture", *STEMS)}


def musdb_root(root: str | os.PathLike | None) -> Path:
    """The data root: `root`, or MUSDB_PATH when `root` is None; "musdb-sample" is the MUSDB18
    7-second sample, downloaded by musdb on first use (`tf_munet.data.musdb_sample`)."""
    root = root if root is not None else os.environ.get("MUSDB_PATH")
    if not root:
        raise UserError("no data root given: pass --root DIR or set MUSDB_PATH")
    from tf_munet.data.musdb_sample import is_musdb_sample, musdb_sample_root

    if is_musdb_sample(root):
        return musdb_sample_root()
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: data root is not a folder")
    return root


def detect_format(root: Path, subsets: tuple[str, ...] = ("train",)) -> str:
    """"hq" if the subsets hold track folders, "stems" if they hold .stem.mp4 files."""
    has_hq = any(p.is_dir() and not p.name.startswith(".") for s in subsets if (root / s).is_dir()
                 for p in (root / s).iterdir())
    if has_hq:
        return "hq"
    has_stems = any(any((root / s).glob("*.stem.mp4")) for s in subsets if (root / s).is_dir())
    if has_stems:
        return "stems"
    raise UserError(
        f"{root}: no MUSDB18 tracks found in {', '.join(str(root / s) for s in subsets)} "
        "(expected <subset>/<track>/mixture.wav ... or <subset>/<track>.stem.mp4)"
    )


def find_tracks(
    root: str | os.PathLike | None,
    subsets: tuple[str, ...] | list[str] | str = ("train",),
    format: str = "auto",
) -> list[TrackRef]:
    """List the tracks of `subsets` under `root`, sorted by subset then name.

    Args:
        root: data root (None: MUSDB_PATH).
        subsets: "train", "test" or both.
        format: "auto" (HQ folders if present, else STEMS), "hq" or "stems".
    """
    root = musdb_root(root)
    subsets = (subsets,) if isinstance(subsets, str) else tuple(subsets)
    bad = [s for s in subsets if s not in ("train", "test")]
    if bad:
        raise UserError(f"unknown subset(s) {bad}; use train and/or test")
    if format not in FORMATS:
        raise UserError(f"unknown format {format!r}; use one of {FORMATS}")
    if format == "auto":
        format = detect_format(root, subsets)
    tracks = []
    for subset in subsets:
        folder = root / subset
        if not folder.is_dir():
            raise UserError(f"{folder}: subset folder not found under the data root")
        if format == "hq":
            items = [(p.name, p) for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        else:
            items = [(p.name[: -len(".stem.mp4")], p) for p in folder.glob("*.stem.mp4")]
        tracks += [TrackRef(name, subset, format, path) for name, path in sorted(items)]
    if not tracks:
        raise UserError(f"{root}: no {format} tracks in subset(s) {', '.join(subsets)}")
    return tracks


def example_track() -> TrackRef:
    """The real MUSDB18 song that ships inside stempeg (6 s, STEMS: mixture and four stems).

    "The Easton Ellises - Falcon 69" from the MUSDB18 test set, research-only licence: it is read
    from the installed stempeg package, never copied.
    """
    import stempeg

    path = Path(stempeg.example_stem_path())
    return TrackRef(path.name[: -len(".stem.mp4")], "test", "stems", path)


@dataclass
class LoadedTrack:
    """A track's audio at its file rate.

    Attributes:
        ref: where it came from.
        stems: {stem: float32 (samples, channels)} in STEMS order.
        mixture: float32 (samples, channels), the file's mixture.
        rate: sample rate of the files.
        mixture_error_db: RMS of (mixture - sum of stems) relative to the sum of stems, in dB.
    """

    ref: TrackRef
    stems: dict[str, np.ndarray]
    mixture: np.ndarray
    rate: int
    mixture_error_db: float


def _track_error(ref: TrackRef, file: Path | None, problem: str) -> UserError:
    where = f" ({file})" if file is not None else ""
    return UserError(f"track {ref.name!r} [{ref.subset}]{where}: {problem}")


def load_track(ref: TrackRef, backend: str = "soundfile") -> LoadedTrack:
    """Decode a track and check it.

    Raises:
        UserError naming the track and the file for: a missing stem, a corrupt, empty or non-audio
        file, stems of different rates, lengths or channel counts, a zero-length track.
    Warns (UserWarning) when the mixture is not the sum of the stems (with the measured error).
    """
    if ref.format == "stems":
        audio, rate = _read_stems(ref)
    else:
        audio, rates = {}, {}
        for key, path in ref.files().items():
            if path.is_dir():
                raise _track_error(ref, path, f"{path.name} is a folder, not an audio file")
            if not path.is_file():
                raise _track_error(ref, path, f"missing stem file {path.name}")
            try:
                audio[key], rates[key] = read_audio(path, backend=backend)
            except UserError as exc:
                raise _track_error(ref, None, str(exc)) from None
        rate = rates["mixture"]
        for key, r in rates.items():
            if r != rate:
                raise _track_error(ref, ref.files()[key], f"sample rate {r} Hz differs from the mixture's {rate} Hz")
    files = ref.files()
    mix = audio["mixture"]
    for key, data in audio.items():
        if data.shape[1] != mix.shape[1]:
            raise _track_error(ref, files[key],
                               f"{key} has {data.shape[1]} channels but the mixture has {mix.shape[1]}")
        if len(data) != len(mix):
            raise _track_error(ref, files[key], f"{key} has {len(data)} samples but the mixture has "
                                                f"{len(mix)} (stems must have equal lengths)")
    if len(mix) == 0:
        raise _track_error(ref, files["mixture"], "zero-length track (no samples)")
    stems = {k: audio[k] for k in STEMS}
    total = sum(stems.values())
    err = mix - total
    ref_power = float(np.mean(total.astype(np.float64) ** 2))
    err_power = float(np.mean(err.astype(np.float64) ** 2))
    # a silent track whose mixture is silent too is exact, not "0 dB off"
    error_db = 10 * np.log10(max(err_power, 1e-20) / max(ref_power, 1e-20)) if err_power > 1e-20 else -200.0
    if error_db > MIXTURE_WARN_DB[ref.format]:
        warnings.warn(
            f"track {ref.name!r} [{ref.subset}] ({files['mixture']}): the mixture differs from the sum "
            f"of its stems by {error_db:.1f} dB (relative RMS error); training uses the sum of the stems",
            Notice, stacklevel=2,
        )
    return LoadedTrack(ref, stems, mix, rate, round(float(error_db), 2))


def _read_stems(ref: TrackRef) -> tuple[dict[str, np.ndarray], int]:
    """Decode a .stem.mp4 with stempeg, trimmed to the streams' stated duration.

    AAC decoders return the audio padded to whole 1024-sample frames (e.g. 752 extra samples);
    the padding is at the end, so trimming to the stated duration aligns the streams.
    """
    import stempeg

    path = ref.path
    if path.stat().st_size == 0:
        raise _track_error(ref, path, "empty file (0 bytes)")
    try:
        info = stempeg.Info(str(path))
    except Exception as exc:  # ffmpeg.Error, or a non-media file
        raise _track_error(ref, path, f"not a readable STEMS file ({_ffmpeg_reason(exc)})") from None
    streams = info.audio_streams
    ids = musdb_setup()["stem_ids"]
    if len(streams) < len(ids):
        names = [k for k, i in sorted(ids.items(), key=lambda kv: kv[1]) if i >= len(streams)]
        raise _track_error(ref, path, f"has {len(streams)} audio streams, missing stem(s) {', '.join(names)}")
    rates = [int(s["sample_rate"]) for s in streams]
    for key, i in ids.items():
        if rates[i] != rates[0]:
            raise _track_error(ref, path,
                               f"stream {i} ({key}) has rate {rates[i]} Hz but the mixture has {rates[0]} Hz")
    durations = [float(s.get("duration", "nan")) for s in streams]
    expected = [int(round(d * rates[0])) if np.isfinite(d) else None for d in durations]
    try:
        data, rate = stempeg.read_stems(str(path), info=info, dtype=np.float32, always_3d=True,
                                        multiprocess=False)
    except Exception as exc:
        raise _track_error(ref, path, f"cannot decode ({_ffmpeg_reason(exc)})") from None
    audio = {}
    for key, i in ids.items():
        x = np.ascontiguousarray(data[i], np.float32)
        if expected[i] is not None and 0 <= expected[i] < len(x):
            x = x[: expected[i]]
        audio[key] = x
    # stempeg silently shortens unequal streams, so compare the stated durations instead
    known = [e for e in expected[: len(ids)] if e is not None]
    if known and max(known) - min(known) > 1024:
        worst = int(np.argmax(np.abs(np.array(known) - known[0])))
        key = [k for k, i in ids.items() if i == worst][0]
        raise _track_error(ref, path, f"stream {worst} ({key}) lasts {known[worst]} samples but the mixture "
                                      f"lasts {known[0]} (stems must have equal lengths)")
    n = min(len(a) for a in audio.values())
    return {k: a[:n] for k, a in audio.items()}, int(rate)


def _ffmpeg_reason(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", None)
    if isinstance(stderr, bytes | bytearray):
        lines = stderr.decode(errors="replace").strip().splitlines()
        if lines:
            return lines[-1]
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def write_stems_file(path: str | os.PathLike, audio: dict[str, np.ndarray], rate: int) -> Path:
    """Write a MUSDB18 STEMS file (AAC streams mixture, drums, bass, other, vocals) atomically."""
    import stempeg

    path = Path(path)
    ids = musdb_setup()["stem_ids"]
    order = sorted(ids, key=ids.get)
    data = np.stack([np.asarray(audio[k], np.float32) for k in order])
    with atomic_path(path, suffix=".tmp.mp4") as tmp:
        writer = stempeg.StreamsWriter(codec="aac", bitrate=256000)  # MUSDB18's bit rate
        stempeg.write_stems(str(tmp), data, sample_rate=int(rate), writer=writer)
    return path


def validation_split(
    train_names: list[str] | tuple[str, ...], fraction: float = 0.2, seed: int = 0
) -> tuple[list[str], str]:
    """Pick the validation tracks among the train tracks.

    MUSDB18's official list when any train track carries a MUSDB18 name (musdb's `split='valid'`
    only works then); otherwise a seeded random `fraction` of the tracks (at least 1, and at
    least one track left for training when there are two or more; a single track is used for both).

    Returns:
        (validation track names sorted, "musdb18" or "seeded").
    """
    names = sorted(train_names)
    official = set(official_validation_tracks())
    if official & set(names):
        return sorted(official & set(names)), "musdb18"
    if len(names) < 2:
        return list(names), "seeded"
    k = min(len(names) - 1, max(1, int(round(fraction * len(names)))))
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(names, size=k, replace=False).tolist()), "seeded"
