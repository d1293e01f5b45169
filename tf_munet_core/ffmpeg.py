"""Files libsndfile cannot open (mp3 on old libsndfiles, m4a, mp4, MUSDB18's .stem.mp4): decoded
whole through the `ffmpeg` program, first audio stream (a .stem.mp4's mixture).

Shared by `tf_munet.data.audio_io` (training data, evaluation) and the stem writers of
`separate` and the edge runner, which need no TensorFlow: only the ffmpeg/ffprobe programs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tf_munet_core.errors import UserError


def ffmpeg_tool(tool: str) -> str:
    """The path of `ffmpeg` or `ffprobe`; a UserError says how to install it."""
    exe = shutil.which(tool)
    if exe is None:
        raise UserError(f"{tool} is needed to decode this file but is not installed (apt-get install ffmpeg)")
    return exe


def probe_audio(path: str | os.PathLike) -> tuple[int, int, int]:
    """(rate, channels, number of audio streams) of the first audio stream, via ffprobe."""
    path = Path(path)
    cmd = [ffmpeg_tool("ffprobe"), "-v", "error", "-select_streams", "a", "-show_entries",
           "stream=sample_rate,channels", "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    try:
        streams = json.loads(proc.stdout or "{}").get("streams", [])
    except json.JSONDecodeError:
        streams = []
    if proc.returncode != 0 or not streams:
        reason = (proc.stderr.strip().splitlines() or ["no audio stream"])[-1]
        raise UserError(f"{path}: not a readable audio file ({reason})")
    first = streams[0]
    return int(first["sample_rate"]), int(first["channels"]), len(streams)


def probe_seconds(path: str | os.PathLike) -> float | None:
    """Duration of a file's first audio stream by ffprobe (None when unknown or no ffprobe)."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    cmd = [exe, "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=duration:format=duration",
           "-of", "json", str(path)]
    try:
        info = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout or "{}")
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        return None
    for entry in (*info.get("streams", []), info.get("format", {})):
        try:
            return float(entry["duration"])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def decode(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(samples (n, channels) float32, rate) of the first audio stream of any file ffmpeg reads."""
    path = Path(path)
    rate, channels, _ = probe_audio(path)
    cmd = [ffmpeg_tool("ffmpeg"), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
           "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        reason = (proc.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise UserError(f"{path}: cannot decode audio ({reason})")
    data = np.frombuffer(proc.stdout, np.float32)
    return data[: data.size // channels * channels].reshape(-1, channels).copy(), rate
