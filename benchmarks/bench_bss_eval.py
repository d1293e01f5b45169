"""What a vectorised BSS Eval (`fast_bss_eval`) buys over museval and mir_eval, on the same stems.

    python -m benchmarks.bench_bss_eval [--tracks 2] [--seconds 10]

Generated 44.1 kHz stereo tracks; estimates are the true stems with leakage from the other
sources and noise (SDRs in a realistic 3-15 dB range). Two comparisons, each timed in this run:

- the paper protocol's metric: mir_eval v3 `bss_eval_sources(compute_permutation=False)` on mono
  at 8192 Hz against `fast_bss_eval.bss_eval_sources` (same definition: 512-tap filters);
- museval v4 (1 s frames, median over frames) against `fast_bss_eval` on the same 1 s frames
  with the two channels laid end to end (it has no multichannel image model and no track-wide
  v4 filters), median over frames: an approximation, so the table gives the differences.

museval stays the reference numbers of `evaluate`; this measures whether a fast path could stand
in for it.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

CG = 30
"""fast_bss_eval's conjugate-gradient solver: its direct solver (0.1.4) fails under numpy 2
(`np.linalg.solve` broadcasting changed); 30 iterations match mir_eval to ~1e-3 dB."""


def _estimates(stems: np.ndarray, seed: int) -> np.ndarray:
    """Stems (K, n, C) with 15 % leakage of the others and white noise at -25 dB."""
    rng = np.random.default_rng(seed)
    total = stems.sum(0)
    est = 0.85 * stems + 0.15 * (total[None] - stems) / (len(stems) - 1)
    return est + 10 ** (-25 / 20) * stems.std() * rng.standard_normal(stems.shape)


def run(tracks: int = 2, seconds: float = 10.0) -> dict:
    import fast_bss_eval
    import museval
    from mir_eval.separation import bss_eval_sources

    from tf_munet.data.audio_io import resample
    from tf_munet.data.synthetic import synthetic_stems

    rate, model_rate, names = 44100, 8192, ("vocals", "drums", "bass", "other")
    timing = {"mir_eval": 0.0, "fast_paper": 0.0, "museval": 0.0, "fast_frames": 0.0}
    diffs = {"paper": [], "museval": []}
    for t in range(tracks):
        track = synthetic_stems(500 + t, seconds, rate=rate, channels=2)
        refs = np.stack([track[s] for s in names]).astype(np.float64)
        ests = _estimates(refs, t)

        mono = np.stack([resample(x.mean(1, keepdims=True).astype(np.float32), rate, model_rate)[:, 0]
                         for x in (*refs, *ests)]).astype(np.float64)
        r, e = mono[:4], mono[4:]
        t0 = time.perf_counter()
        ref_scores = np.array(bss_eval_sources(r, e, compute_permutation=False)[:3])
        timing["mir_eval"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        fast_scores = np.array(fast_bss_eval.bss_eval_sources(r, e, compute_permutation=False, use_cg_iter=CG)[:3])
        timing["fast_paper"] += time.perf_counter() - t0
        diffs["paper"].append(np.abs(ref_scores - fast_scores).max(axis=1).tolist())

        t0 = time.perf_counter()
        sdr, _, sir, sar = museval.evaluate(refs, ests, win=rate, hop=rate, mode="v4")
        timing["museval"] += time.perf_counter() - t0
        mus = np.array([np.nanmedian(m, axis=1) for m in (sdr, sir, sar)])
        t0 = time.perf_counter()
        frames = []
        for start in range(0, refs.shape[1] - rate + 1, rate):
            rf = refs[:, start:start + rate].transpose(0, 2, 1).reshape(4, -1)
            ef = ests[:, start:start + rate].transpose(0, 2, 1).reshape(4, -1)
            frames.append(fast_bss_eval.bss_eval_sources(rf, ef, compute_permutation=False, use_cg_iter=CG)[:3])
        timing["fast_frames"] += time.perf_counter() - t0
        fast = np.median(np.array(frames), axis=0)  # (3 metrics, K)
        diffs["museval"].append(np.abs(mus - fast).max(axis=1).tolist())
    return {
        "tracks": tracks, "seconds": seconds, "timing_s": {k: round(v, 3) for k, v in timing.items()},
        "speedup": {"paper": round(timing["mir_eval"] / timing["fast_paper"], 1),
                    "museval": round(timing["museval"] / timing["fast_frames"], 1)},
        "max_abs_diff_db": {k: dict(zip(("SDR", "SIR", "SAR"), np.max(v, axis=0).round(3).tolist()))
                            for k, v in diffs.items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_bss_eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--tracks", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    print(json.dumps(run(args.tracks, args.seconds), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
