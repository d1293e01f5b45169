"""Distillation at small scale: one M-U-Net learns a dedicated set from mixtures alone.

On a rendered MUSDB-layout set (composed GM songs, sung vocals; `tf_munet.data.render`), the
teacher is a dedicated set trained on the stems; the student is an M-U-Net trained with
`--teacher` on the training songs' mixtures only (no stems); a second M-U-Net trains on the stems
directly with the student's number of steps. Each is scored by museval on the held-out songs (median
over frames then tracks) beside the oracle and mixture/K, and timed on a held-out song (30 s): end to end
and the network stage (`tf_munet_core.profiler`). cunet preset. Budgets are training steps (the
student and the direct M-U-Net get the same number), so the result does not depend on what else
the machine runs; wall times are reported beside them.

    python -m benchmarks.run --only distill
    python -m benchmarks.bench_distill --teacher-steps 800 --steps 800
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path


def _time_separation(run_dir: Path, clip, repeats: int = 3) -> tuple[float, float]:
    """(end-to-end seconds, network-stage seconds) of the best of `repeats` separations."""
    from tf_munet.separation import Profiler, Separator

    sep = Separator.load(run_dir)
    sep.separate(clip[: 44100 * 2], 44100)  # warm-up (tf.function tracing)
    best = None
    for _ in range(repeats):
        profiler = Profiler()
        t0 = time.perf_counter()
        sep.separate(clip, 44100, profiler=profiler)
        total = time.perf_counter() - t0
        if best is None or total < best[0]:
            best = (total, profiler.seconds.get("network", 0.0))
    return best


SEED = 0
"""Every model's seed (one run per model), stored with the results."""


def run(quick: bool = False, teacher_steps: int | None = None, steps: int | None = None,
        train_songs: int | None = None, test_songs: int | None = None) -> dict:
    from tf_munet.data.render import write_rendered_musdb
    from tf_munet.evaluation import evaluate, reference_spec, run_spec
    from tf_munet.training.loop import run_training
    from tf_munet.training.options import TrainOptions

    teacher_steps = teacher_steps or (20 if quick else 800)
    steps = steps or (20 if quick else 800)
    per_epoch = 10 if quick else 50
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        root = write_rendered_musdb(tmp / "rendered", train=train_songs or (3 if quick else 8),
                                    test=test_songs or (1 if quick else 3), seconds=10.0 if quick else 30.0, seed=2)
        render_s = time.perf_counter() - t0
        mixes = tmp / "mixtures"
        mixes.mkdir()
        for track in sorted((root / "train").iterdir()):
            shutil.copy(track / "mixture.wav", mixes / f"{track.name}.wav")

        def train(label, model, total_steps, data, teacher=None):
            run_dir = tmp / "runs" / label
            options = TrainOptions(
                preset="cunet", model=model, weighting="uw", data=str(data), teacher=teacher,
                cache=str(tmp / "cache" / label), run_dir=str(run_dir),
                epochs=max(1, total_steps // per_epoch), steps_per_epoch=min(per_epoch, total_steps),
                validation_steps=4, excerpt_every=0,
                verbose=0, early_stopping_patience=0, seed=SEED,
            ).validate()
            t = time.perf_counter()
            run_training(options)
            wall = time.perf_counter() - t
            history = json.loads((run_dir / "history.json").read_text())
            return run_dir, {"label": label, "model": model,
                             "steps": history["epochs"][-1]["iterations"],  # cumulative
                             "wall_s": round(wall, 1)}

        teacher_dir, teacher = train("teacher (dedicated, stems)", "dedicated", teacher_steps, root)
        student_dir, student = train("student (M-U-Net, mixtures + teacher)", "munet", steps,
                                     mixes, teacher=str(teacher_dir))
        direct_dir, direct = train("M-U-Net on the stems", "munet", steps, root)
        rows = [teacher, student, direct]
        specs = [run_spec(d, label=r["label"]) for d, r in
                 zip((teacher_dir, student_dir, direct_dir), rows)]
        config = json.loads((teacher_dir / "config.json").read_text())
        sources = tuple(config["sources"])
        refs = [reference_spec(k, config["preset"], sources) for k in ("oracle", "mixture")]
        summary = evaluate(specs + refs, root, tmp / "eval", protocols=("museval",), jobs=2,
                           progress=False)
        import soundfile as sf

        test_track = min((root / "test").iterdir())
        clip, _ = sf.read(test_track / "mixture.wav", dtype="float32")
        for d, r in zip((teacher_dir, student_dir, direct_dir), rows):
            r["end_to_end_s"], r["network_s"] = _time_separation(d, clip)
            r["clip_s"] = len(clip) / 44100
    table = summary["results"]["museval"]
    for r in rows:
        r["sdr"] = {s: table[r["label"]][s]["SDR"]["median"] for s in (*sources, "all")}
    ref_rows = {k.label: {s: table[k.label][s]["SDR"]["median"] for s in (*sources, "all")}
                for k in refs}
    return {"rows": rows, "references": ref_rows, "render_s": round(render_s, 1), "seed": SEED,
            "markdown": render(rows, ref_rows, sources)}


def render(rows, refs, sources) -> str:
    clip = f"{rows[0]['clip_s']:.0f} s clip"
    head = ("| model | steps | training wall | " + " | ".join(sources)
            + f" | all | {clip}: end to end | network |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        sdr = " | ".join(f"{r['sdr'][s]:.2f}" for s in (*sources, "all"))
        wall = f"{r['wall_s']:.0f} s" + (" *" if r.get("wall_note") else "")
        out.append(f"| {r['label']} | {r['steps']} | {wall} | {sdr} | "
                   f"{r['end_to_end_s']:.2f} s | {r['network_s']:.2f} s |")
    for label, sdr in refs.items():
        out.append(f"| {label} | – | – | " + " | ".join(f"{sdr[s]:.2f}" for s in (*sources, "all"))
                   + " | – | – |")
    teacher, student = rows[0], rows[1]
    out += ["", (f"museval SDR (dB, median), rendered songs held out. Student − teacher: "
            f"{student['sdr']['all'] - teacher['sdr']['all']:+.2f} dB; student network time "
            f"{student['network_s'] / max(teacher['network_s'], 1e-9):.2f}× the teacher's "
            f"(end to end {student['end_to_end_s'] / max(teacher['end_to_end_s'], 1e-9):.2f}×).")]
    out += [f"\n\\* {r['label']}: {r['wall_note']}" for r in rows if r.get("wall_note")]
    return "\n".join(out)


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_distill", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--teacher-steps", type=int)
    p.add_argument("--steps", type=int, help="steps of the student and of the direct M-U-Net")
    p.add_argument("--train-songs", type=int)
    p.add_argument("--test-songs", type=int)
    args = p.parse_args()
    from benchmarks.common import save_results

    t0 = time.time()
    data = run(args.quick, args.teacher_steps, args.steps, args.train_songs, args.test_songs)
    data["wall_s"] = round(time.time() - t0, 1)
    if not args.quick:
        save_results("distill", data)
    print(data["markdown"])
