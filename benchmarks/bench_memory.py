"""Long-run check: does separating a 60-minute file keep memory bounded?

Writes a 60-minute 44.1 kHz stereo 16-bit WAV (~635 MB) block by block into a temporary folder,
then runs `python -m tf_munet.separate` on it in a child process with an M-U-Net of the cunet
preset (random weights: memory and speed do not depend on them), and reads the child's peak
resident set size (its VmHWM, reported by the child itself when the CLI returns). The same command
on a 1-minute file gives the baseline (TensorFlow, the model, one block); the headline is the
peak RSS of the long file against the file's size and against that baseline.

    python -m benchmarks.bench_memory [--quick] [--minutes 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RATE = 44100
SOURCES = ("vocals", "drums", "bass", "other")


def write_long_wav(path: Path, minutes: float, block_seconds: float = 30.0, seed: int = 0) -> int:
    """A `minutes`-long stereo PCM_16 WAV of synthetic music, written in blocks (memory stays
    at one block). Returns the number of samples."""
    import numpy as np
    import soundfile as sf

    from tf_munet.data.synthetic import synthetic_stems

    stems = synthetic_stems(seed, block_seconds, rate=RATE, channels=2)
    block = sum(stems[s] for s in SOURCES).astype(np.float32)
    block *= 0.8 / max(float(np.abs(block).max()), 1e-9)
    total = int(round(minutes * 60 * RATE))
    rng = np.random.default_rng(seed)
    written = 0
    with sf.SoundFile(path, "w", samplerate=RATE, channels=2, format="WAV", subtype="PCM_16") as f:
        while written < total:
            n = min(len(block), total - written)
            gain = rng.uniform(0.5, 1.0)  # not one block repeated exactly
            f.write(block[:n] * gain)
            written += n
    return written


def make_run(run_dir: Path, preset_name: str) -> Path:
    """A run folder (config.json + model.keras) with an untrained M-U-Net of the preset."""
    from tf_munet.models import build_model
    from tf_munet.presets import get_preset
    from tf_munet.run_dir import RunConfig, save_network, save_run_config

    preset = get_preset(preset_name)
    save_run_config(run_dir, RunConfig(preset, "munet", SOURCES))
    save_network(run_dir / "model.keras", build_model(preset, "munet", SOURCES))
    return run_dir


_REPORT_PEAK = """
import runpy, sys
report, module = sys.argv[1], sys.argv[2]
sys.argv = [module, *sys.argv[3:]]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    with open(report, "w") as out:
        out.write(peak)
"""


def peak_rss_of(cmd: list[str], env: dict | None = None) -> tuple[int, float]:
    """Run `python -m MODULE ARGS...` (cmd = [python, "-m", MODULE, *ARGS]); returns (peak RSS in
    bytes of that process, wall seconds).

    The peak is the child's own VmHWM: `ru_maxrss` of a child (wait4, RUSAGE_CHILDREN) starts
    from the parent's peak when the parent is large (Linux carries it across fork/vfork + exec),
    so it would report the benchmark process, not the separation.
    """
    assert cmd[1] == "-m", cmd
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "peak"
        t0 = time.perf_counter()
        proc = subprocess.run([cmd[0], "-c", _REPORT_PEAK, str(report), *cmd[2:]], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{proc.stderr.decode()[-2000:]}")
        return int(report.read_text()) * 1024, wall  # VmHWM is in kB


def run(quick: bool = False, minutes: float | None = None) -> dict:
    minutes = minutes or (2.0 if quick else 60.0)
    base_minutes = 0.5 if quick else 1.0
    preset = "tiny" if quick else "cunet"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    with tempfile.TemporaryDirectory(prefix="tf_munet_memory_") as tmp:
        tmp = Path(tmp)
        run_dir = make_run(tmp / "run", preset)
        rows = {}
        for label, length in (("baseline", base_minutes), ("long", minutes)):
            song = tmp / f"{label}.wav"
            t0 = time.perf_counter()
            samples = write_long_wav(song, length)
            t_write = time.perf_counter() - t0
            out = tmp / f"out_{label}"
            cmd = [sys.executable, "-m", "tf_munet.separate", str(run_dir), str(song), "-o", str(out),
                   "--no-progress"]
            rss, wall = peak_rss_of(cmd, env)
            stems = sorted((out / label).glob("*.wav"))
            assert len(stems) == len(SOURCES), stems
            rows[label] = {
                "minutes": length,
                "samples": samples,
                "file_bytes": song.stat().st_size,
                "write_s": round(t_write, 1),
                "peak_rss_bytes": rss,
                "separate_s": round(wall, 1),
                "realtime_factor": round(length * 60 / wall, 1),
                "stem_bytes": sum(p.stat().st_size for p in stems),
            }
            song.unlink()
            for p in stems:
                p.unlink()
    long, base = rows["long"], rows["baseline"]
    data = {
        "preset": preset,
        "model": "munet (untrained weights)",
        "block_seconds": 30.0,
        "baseline": base,
        "long": long,
        "rss_over_file": round(long["peak_rss_bytes"] / long["file_bytes"], 3),
        "rss_growth_bytes": long["peak_rss_bytes"] - base["peak_rss_bytes"],
    }
    mb = 1 / 2**20
    data["markdown"] = "\n".join([
        f"`python -m tf_munet.separate` (M-U-Net, {preset} preset, 30 s blocks) on 44.1 kHz stereo "
        f"16-bit WAV files, peak resident memory of the process (`VmHWM`):",
        "",
        "| input | file size | peak RSS | peak RSS / file size | wall time | × real time |",
        "|---|---|---|---|---|---|",
        *(f"| {r['minutes']:g} min | {r['file_bytes'] * mb:.0f} MiB | {r['peak_rss_bytes'] * mb:.0f} MiB | "
          f"{r['peak_rss_bytes'] / r['file_bytes']:.2f} | {r['separate_s']:.0f} s | {r['realtime_factor']:.0f}× |"
          for r in (base, long)),
        "",
        f"The {long['minutes']:g}-minute file needs {(long['peak_rss_bytes'] - base['peak_rss_bytes']) * mb:+.0f} MiB "
        f"more than the {base['minutes']:g}-minute one: memory is bounded by the block, not the file "
        f"(which is read and written block by block).",
    ])
    return data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_memory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny preset, 2-minute file (smoke run)")
    parser.add_argument("--minutes", type=float, default=None, help="length of the long file")
    args = parser.parse_args()
    t0 = time.time()
    print(json.dumps(run(args.quick, args.minutes), indent=1))
    print(f"{time.time() - t0:.1f} s")
