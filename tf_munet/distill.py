"""Distillation data: plain audio files labelled with a teacher run's stems.

`python -m tf_munet.train --teacher RUN_DIR --data FOLDER` trains a student on any music, no
stems needed: every audio file under FOLDER (wav, flac, mp3, ogg) is separated once by the
teacher (its own run folder, its own separator) and written as a MUSDB18-HQ track
(`mixture.wav` + the four stem files) under the student's run folder. From there the student
trains exactly as on MUSDB: same pipeline, augmentation, silence filter, validation split, and
the EBW/Oh energies are measured on the teacher's stems.

A teacher's sources must add up to the mixture (4stems or 2stems): a source is written as the
last MUSDB stem it covers and the others of its group are silent (2stems: accompaniment goes to
`other.wav`, `drums.wav` and `bass.wav` are silence), so the pipeline's source sums give back
the teacher's stems. Each track is written to a temporary folder and renamed when complete;
reruns label only the files not labelled yet, and a folder labelled by another teacher is
refused, never mixed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError, atomic_path
from tf_munet.presets import SOURCE_STEMS, STEMS, is_exhaustive

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
TEACHER_FILE = "teacher.json"
TEACHER_STEMS = "teacher_stems"
"""The labelled root's folder inside the student's run folder."""


def audio_files(folder: str | os.PathLike) -> list[Path]:
    """Audio files under `folder` (recursively, sorted); a UserError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder of audio files (--data)")
    files = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise UserError(f"{folder}: no audio files ({', '.join(AUDIO_SUFFIXES)}) to distil on")
    return files


def stem_files(sources: tuple[str, ...], where: str) -> dict[str, str]:
    """{MUSDB stem: teacher source written to it}; stems not listed are silent."""
    if not all(SOURCE_STEMS.get(s) for s in sources) or not is_exhaustive(sources):
        raise UserError(f"{where}: a teacher's sources must add up to the mixture as MUSDB18 "
                        f"stems (4stems or 2stems); this one separates {', '.join(sources)}")
    return {SOURCE_STEMS[s][-1]: s for s in sources}


def track_name(path: Path, folder: Path) -> str:
    """A track folder name from a file's path under the data folder (unique per file)."""
    rel = path.relative_to(folder).with_suffix("")
    return " - ".join(rel.parts)


def _check_teacher(root: Path, teacher: Path, sources: tuple[str, ...]) -> None:
    record = {"teacher": str(teacher.resolve()), "sources": list(sources)}
    path = root / TEACHER_FILE
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved != record:
            raise UserError(f"{root}: labelled by another teacher ({saved.get('teacher')}); "
                            "use another run folder")
        return
    root.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1))


def label_with_teacher(
    teacher: str | os.PathLike, folder: str | os.PathLike, root: str | os.PathLike,
    progress: bool = True,
) -> Path:
    """Separate every audio file under `folder` with the teacher into a MUSDB-HQ root.

    Returns:
        `root`, holding `train/<track>/{mixture,vocals,drums,bass,other}.wav` (float32 WAV at
        each file's rate and channel count).
    """
    import soundfile as sf

    from tf_munet.data.audio_io import read_audio
    from tf_munet.run_dir import load_run_config
    from tf_munet.separation import Separator

    teacher, folder, root = Path(teacher), Path(folder), Path(root)
    config = load_run_config(teacher)
    mapping = stem_files(tuple(config.sources), str(teacher))
    files = audio_files(folder)
    _check_teacher(root, teacher, tuple(config.sources))
    todo = [(f, root / "train" / track_name(f, folder)) for f in files]
    todo = [(f, t) for f, t in todo if not t.is_dir()]
    if not todo:
        return root
    separator = Separator.load(teacher)
    for i, (path, track) in enumerate(todo):
        if progress:
            print(f"teacher {i + 1}/{len(todo)}: {path.name}", flush=True)
        tmp = track.parent / f".{track.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            stems = separator.separate_file(path, tmp, fmt="wav", float32=True)
            mix, rate = read_audio(path)
            sf.write(tmp / "mixture.wav", mix, rate, subtype="FLOAT")
            for stem in STEMS:
                if stem in mapping:
                    os.replace(stems[mapping[stem]], tmp / f"{stem}.wav")
                else:
                    sf.write(tmp / f"{stem}.wav", np.zeros_like(mix), rate, subtype="FLOAT")
            os.replace(tmp, track)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root
