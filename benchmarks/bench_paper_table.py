"""The paper's table at small scale: dedicated U-Nets, C-U-Net and M-U-Net UW / DWA / EBW P1 /
InstP1 / P2 on the same rendered songs, at equal optimizer steps and at equal wall-clock time.

Every model trains with the cunet preset (8192 Hz mono, 512 x 128 patches, batch 16) on one
rendered MUSDB-layout set (`tf_munet.data.render`: sampled instruments and sung vocals), and is
scored on its held-out songs in both protocols: museval (BSS Eval v4 on the normalised,
full-band pipeline; median over frames, then tracks) and the paper's (the authors' raw-mask
chunked pipeline, mir_eval v3 per track; mean ± std (median)), beside the oracle mask and
mixture / K.

Equal wall-clock: the dedicated set and the C-U-Net get the optimizer steps that fit in the
M-U-Net UW run's training time, from the per-step times measured in the same run (a ratio, so
a busy machine slows every family alike). Also reported: each family's effective iterations
(C-U-Net: K + 2 conditions per chunk), the spread of its epoch times, and the train step fed
by the input pipeline against the same step on constant tensors.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

CONFIGS = [("dedicated", "uw"), ("cunet", "uw"), ("munet", "uw"), ("munet", "dwa"),
           ("munet", "ebw-p1"), ("munet", "ebw-inst"), ("munet", "ebw-p2")]
NAMES = {"uw": "UW", "dwa": "DWA", "ebw-p1": "EBW P1", "ebw-inst": "EBW InstP1", "ebw-p2": "EBW P2"}


def _label(model: str, weighting: str) -> str:
    if model == "dedicated":
        return "dedicated ×4"
    if model == "cunet":
        return "C-U-Net"
    return f"M-U-Net {NAMES[weighting]}"


SEED = 0
"""The seed of every model trained here (and of the step-time probe's data): one seed per model,
stored with the results so that every table can say so."""

SMALL = {"backbone": {"widths": [8, 16, 32, 64, 128, 256]}, "audio": {"frames": 64}}
"""`--small`: the cunet preset with half the channels and 64-frame patches (about 8x cheaper per
step), for machines where the full preset does not fit the time at hand."""


VALIDATION_STEPS = 4
"""Validation batches (of 16 chunks) each training run scores per epoch."""


def _train(root: Path, work: Path, model: str, weighting: str, steps: int, per_epoch: int,
           overrides: dict | None = None, preset: str = "cunet", seed: int = SEED, tag: str = "") -> dict:
    """Train one configuration; `tag` names runs that differ only by `overrides`."""
    from tf_munet.training.loop import run_training
    from tf_munet.training.options import TrainOptions

    run_dir = work / "runs" / f"{preset}-{model}-{weighting}-{steps}-seed{seed}{tag}"
    options = TrainOptions(
        preset=preset, model=model, weighting=weighting, data=str(root), cache=str(work / "cache"),
        run_dir=str(run_dir), epochs=max(1, steps // per_epoch), steps_per_epoch=per_epoch,
        validation_steps=VALIDATION_STEPS, batch_size=16, excerpt_every=0, verbose=0, early_stopping_patience=0,
        seed=seed, preset_overrides=overrides or {},
    ).validate()
    run_training(options)
    history = json.loads((run_dir / "history.json").read_text())
    epochs = history["epochs"]
    times = [e["epoch_time_s"] for e in epochs]
    steady = times[1:] or times
    return {
        "label": _label(model, weighting), "model": model, "weighting": weighting,
        "run_dir": str(run_dir), "steps": epochs[-1]["iterations"],
        "effective_iterations": epochs[-1]["effective_iterations"],
        "best_epoch": history.get("best_epoch"), "train_s": round(sum(times), 1),
        "step_s": statistics.median(steady) / per_epoch,
        "epoch_s": {"min": min(times), "median": statistics.median(times), "max": max(times)},
        "val_curve": [[e["iterations"], e["val"]["sum"]] for e in epochs if "val" in e],
    }


def _step_times(root: Path, work: Path, repeat: int, overrides: dict | None = None) -> dict:
    """M-U-Net UW train step (batch 16, cunet preset) on constant tensors vs fed by the pipeline."""
    import keras

    from tf_munet.data.pipeline import prepare_if_needed, training_dataset
    from tf_munet.models import build_model
    from tf_munet.presets import get_preset, resolve_sources
    from tf_munet.training.trainer import SeparatorTrainer

    preset, sources = get_preset("cunet"), resolve_sources("4stems")
    if overrides:
        preset = preset.replace(**overrides)
    cache = prepare_if_needed(root, preset, cache=work / "cache")
    ds = training_dataset(cache, preset, sources, 16, seed=SEED, augment=True)
    trainer = SeparatorTrainer(build_model(preset, "munet", sources), sources)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    it = iter(ds)
    mix, targets = next(it)
    trainer.train_on_batch(mix, targets)  # trace

    def timed(fn) -> float:
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        return (time.perf_counter() - t0) / repeat

    constant = timed(lambda: trainer.train_on_batch(mix, targets))
    pipeline_only = timed(lambda: next(it))
    fed = timed(lambda: trainer.train_on_batch(*next(it)))
    return {"constant_s": constant, "pipeline_only_s": pipeline_only, "fed_s": fed}


def run(quick: bool = False, steps: int | None = None, root: str | None = None,
        per_epoch: int | None = None, max_tracks: int | None = None, small: bool = False,
        eval_root: str | None = None, configs: list[tuple[str, str]] | None = None) -> dict:
    """Train and score `configs` ((model, weighting) pairs; default: every row of CONFIGS)."""
    from tf_munet.evaluation import evaluate, reference_spec, run_spec
    from tf_munet.presets import resolve_sources

    steps = steps or (10 if quick else 300)
    overrides = SMALL if small else None
    per_epoch = per_epoch or (5 if quick else 50)
    configs = configs or (CONFIGS[:3] if quick else CONFIGS)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if root is None:
            from tf_munet.data.render import write_rendered_musdb

            t0 = time.time()
            root = write_rendered_musdb(work / "rendered", train=3 if quick else 12,
                                        test=1 if quick else 4, seconds=8.0 if quick else 30.0,
                                        seed=14)
            render_s = time.time() - t0
        else:
            render_s = None
        root = Path(root)
        rows = []
        for model, weighting in configs:
            rows.append({**_train(root, work, model, weighting, steps, per_epoch, overrides),
                         "budget": "steps"})
            print(rows[-1], flush=True)
        base = next(r for r in rows if r["model"] == "munet")
        for row in [r for r in rows if r["model"] != "munet"]:
            equal = equal_time_steps(steps, base["step_s"], row["step_s"], per_epoch)
            if equal is None:  # as fast per step as the M-U-Net: its step run is its time run
                rows.append({**row, "budget": "time"})
                continue
            timed_row = _train(root, work, row["model"], row["weighting"], equal, per_epoch,
                               overrides)
            rows.append({**timed_row, "budget": "time"})
            print(rows[-1], flush=True)
        step_times = _step_times(root, work, 3 if quick else 10, overrides)
        first, scored_as = score_labels(rows)
        specs = [run_spec(d, label=label) for d, label in first.items()]
        preset = json.loads((Path(rows[0]["run_dir"]) / "config.json").read_text())["preset"]
        refs = [reference_spec(k, preset, resolve_sources("4stems")) for k in ("oracle", "mixture")]
        from tf_munet.data.musdb_io import find_tracks

        scored = Path(eval_root) if eval_root else root
        tracks = find_tracks(scored, "test")[:max_tracks]
        names = [t.name for t in tracks]
        seconds = _track_seconds(tracks)
        summary = evaluate(specs + refs, scored, work / "eval", protocols=("museval", "paper"),
                           jobs=2, tracks=names, progress=False)
    scored_as.update({r.label: r.label for r in refs})
    results = {p: {label: summary["results"][p][scored] for label, scored in scored_as.items()}
               for p in ("museval", "paper")}
    data = {"steps": steps, "steps_per_epoch": per_epoch, "batch_size": 16, "seed": SEED,
            "preset": "cunet" + (" (small: widths 8-256, 64 frames)" if small else ""),
            "audio": preset["audio"], "tracks": summary["tracks"], "track_seconds": seconds,
            "render_s": render_s, "rows": rows, "step_times": step_times, "results": results}
    data["markdown"] = render(data)
    return data


def _track_seconds(tracks) -> float | None:
    """Length of the scored songs in seconds when they all have one (folders of WAVs), else None."""
    import soundfile

    if any(t.format != "hq" for t in tracks):
        return None
    lengths = {round(soundfile.info(str(t.files()["mixture"])).duration, 2) for t in tracks}
    return lengths.pop() if len(lengths) == 1 else None  # none, or songs of different lengths


def equal_time_steps(steps: int, base_step_s: float, step_s: float, per_epoch: int) -> int | None:
    """Whole epochs of a model whose steps take `step_s` in the time of `steps` M-U-Net steps of
    `base_step_s`; None when that is within 5 % of `steps` (step-time noise: reuse the run)."""
    equal = max(per_epoch, round(steps * base_step_s / step_s / per_epoch) * per_epoch)
    return None if abs(equal - steps) <= 0.05 * steps else equal


def score_labels(rows: list[dict]) -> tuple[dict[str, str], dict[str, str]]:
    """({run folder: label it is scored under}, {row label: label its scores are found under}):
    a run reused for two budgets is scored once, under its first row's label."""
    first: dict[str, str] = {}
    for r in rows:
        first.setdefault(r["run_dir"], f"{r['label']} [{r['budget']}]")
    return first, {f"{r['label']} [{r['budget']}]": first[r["run_dir"]] for r in rows}


SOURCES = ("vocals", "drums", "bass", "other")


def chunk_label(audio: dict | None) -> str:
    """The paper protocol's chunks as this run cut them: the training patch of the run's own preset
    (`paper_protocol.chunk`), in seconds and frames, at the model's rate."""
    if not audio:
        return "non-overlapping chunks of the training patch, mono at the model's rate"
    from tf_munet_core.config import AudioConfig

    a = AudioConfig.from_dict(audio)
    return (f"non-overlapping {a.chunk_samples / a.sample_rate:.2f} s chunks ({a.frames} frames), "
            f"mono {a.sample_rate} Hz")


def songs_label(data: dict) -> str:
    """"4 held-out rendered songs of 12 s": how much audio every score here rests on."""
    seconds = data.get("track_seconds")
    n = len(data["tracks"])
    return (f"{n} held-out rendered song{'s' if n != 1 else ''}"
            + (f" of {seconds:g} s" if seconds else ""))


def overall(data: dict, label: str, protocol: str) -> float:
    """A model's overall SDR: the paper protocol's mean over songs × sources, museval's median."""
    stats = data["results"][protocol][label]["all"]["SDR"]
    return stats["mean" if protocol == "paper" else "median"]


def spread(data: dict, *labels: str) -> float:
    """The larger of the models' standard deviations of paper-protocol SDR over songs × sources:
    a difference smaller than this is within the song-to-song spread."""
    return max(data["results"]["paper"][label]["all"]["SDR"]["std"] for label in labels)


def compare(data: dict, a: str, b: str) -> dict:
    """Model `a` against model `b` (score labels): differences in both protocols, the spread, and
    on how many sources `a` is ahead."""
    ahead = {p: sum(data["results"][p][a][s]["SDR"]["median" if p == "museval" else "mean"]
                    > data["results"][p][b][s]["SDR"]["median" if p == "museval" else "mean"]
                    for s in SOURCES) for p in ("paper", "museval")}
    return {"paper": overall(data, a, "paper") - overall(data, b, "paper"),
            "museval": overall(data, a, "museval") - overall(data, b, "museval"),
            "spread": spread(data, a, b), "ahead": ahead}


def within(difference: float, spread_db: float) -> str:
    """How strongly a difference of `difference` dB may be worded, given the spread."""
    if abs(difference) < spread_db:
        return f"within the spread (±{spread_db:.2f} dB)"
    return f"{'ahead' if difference > 0 else 'behind'} by more than the spread (±{spread_db:.2f} dB)"


def steps_to_reach(rows: list[dict]) -> tuple[dict | None, int | None, float | None, list[tuple[dict, int | None]]]:
    """(M-U-Net UW's row, the logged step nearest a quarter of its budget, its validation loss
    there, [(row, first logged step at or below that loss, or None)] for every curve of the
    equal-steps budget): the iteration cost of the paper's claim, measured."""
    runs = [r for r in rows if r["budget"] == "steps" and r.get("val_curve")]
    base = next((r for r in runs if r["model"] == "munet" and r["weighting"] == "uw"), None)
    if base is None:
        return None, None, None, []
    logged = [step for step, _ in base["val_curve"]]
    target_step = min(logged, key=lambda s: abs(s - base["steps"] / 4))
    target = min(base["val_curve"], key=lambda p: abs(p[0] - target_step))[1]
    reached = [(r, next((step for step, loss in r["val_curve"] if loss <= target), None)) for r in runs]
    return base, target_step, target, reached


def _curves(rows: list[dict]) -> list[str]:
    """Validation loss (L1 summed over sources, the validation songs of the training set) over
    training, and the steps each model needs to reach M-U-Net UW's loss at a quarter of its
    budget."""
    base, target_step, target, reached = steps_to_reach(rows)
    if base is None:
        return []
    logged = [step for step, _ in base["val_curve"]]

    def nearest(step):
        return min(logged, key=lambda s: abs(s - step))

    def at(curve, step):
        return min(curve, key=lambda p: abs(p[0] - step))[1]

    marks = sorted({nearest(base["steps"] * f) for f in (1 / 8, 1 / 4, 1 / 2, 1)})
    out = ["", (f"Validation loss during training (L1 summed over sources) at {', '.join(map(str, marks))} "
                f"steps, and the first step at which each model reaches M-U-Net UW's loss after "
                f"{target_step} steps ({target:.3f}):"), "",
           "| model | " + " | ".join(f"{m} steps" for m in marks) + " | steps to reach it |",
           "|---|" + "---|" * (len(marks) + 1)]
    for r, step in reached:
        out.append(f"| {r['label']} | " + " | ".join(f"{at(r['val_curve'], m):.3f}" for m in marks)
                   + f" | {step if step is not None else 'not within ' + str(r['steps'])} |")
    return out


def _range(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}"


def findings(data: dict) -> list[str]:
    """What the section's numbers say, each figure computed from them, worded no stronger than
    one seed and a few songs allow."""
    rows = {f"{r['label']} [{r['budget']}]": r for r in data["rows"]}
    k = len(SOURCES)

    def find(model: str, budget: str = "steps") -> list[str]:
        return [lb for lb, r in rows.items() if r["model"] == model and r["budget"] == budget]

    def score(label: str) -> str:
        return f"{overall(data, label, 'paper'):.2f} / {overall(data, label, 'museval'):.2f} dB"

    def against(a: str, b: str) -> str:
        c = compare(data, a, b)
        return (f"{rows[a]['label']} is {c['paper']:+.2f} dB from it in the paper protocol "
                f"({c['museval']:+.2f} in museval), {within(c['paper'], c['spread'])}, ahead on "
                f"{c['ahead']['paper']} of {k} sources ({c['ahead']['museval']} of {k} in museval)")

    munets, dedicated, cunets = find("munet"), find("dedicated"), find("cunet")
    out = [(f"One seed ({data['seed']}) per model; " if "seed" in data else "")
           + f"{songs_label(data)}; scores are paper protocol / museval overall SDR; ± is one standard "
           "deviation of the paper protocol's SDR over songs × sources, and a difference smaller than it "
           "is not significant here."]
    if not munets:
        return out
    uw = munets[0]
    if dedicated:
        d = dedicated[0]
        out.append(f"Cost: a dedicated ×4 step took {rows[d]['step_s'] / rows[uw]['step_s']:.1f}× an "
                   f"{rows[uw]['label']} step ({rows[d]['step_s'] * 1e3:.0f} against "
                   f"{rows[uw]['step_s'] * 1e3:.0f} ms).")
        if len(munets) == 1:
            out.append(f"At equal steps the dedicated set scores {score(d)}, {rows[uw]['label']} "
                       f"{score(uw)}: {against(uw, d)}.")
        else:
            ahead = [m for m in munets if compare(data, m, d)["paper"] > 0]
            widest = max((compare(data, m, d) for m in munets), key=lambda c: abs(c["paper"]))
            out.append(f"At equal steps the dedicated set scores {score(d)}; {len(ahead)} of {len(munets)} "
                       f"M-U-Nets are ahead of it in the paper protocol "
                       f"({_range([overall(data, m, 'paper') for m in munets])} dB; museval "
                       f"{_range([overall(data, m, 'museval') for m in munets])}), the largest difference "
                       f"({widest['paper']:+.2f} dB) is {within(widest['paper'], widest['spread'])}.")
    step_runs = {rows[lb]["run_dir"] for lb in rows if rows[lb]["budget"] == "steps"}
    pairs = [(rows[s], rows[t]) for s in rows for t in rows if rows[s]["budget"] == "steps"
             and rows[t]["budget"] == "time" and rows[s]["label"] == rows[t]["label"]
             and rows[t]["run_dir"] not in step_runs]
    if pairs:
        out.append("The same model's step time in its two runs: " + "; ".join(
            f"{x['label']} {x['step_s'] * 1e3:.0f} and {y['step_s'] * 1e3:.0f} ms "
            f"({max(x['step_s'], y['step_s']) / min(x['step_s'], y['step_s']):.2f}×)" for x, y in pairs)
            + ": equal-time budgets are only as exact as that.")
    for t in [lb for lb, r in rows.items() if r["budget"] == "time" and r["run_dir"] not in step_runs]:
        out.append(f"At equal training time ({rows[t]['steps']} steps) the {rows[t]['label']} scores "
                   f"{score(t)}; {against(uw, t)}.")
    if cunets:
        c, mix = cunets[0], overall(data, "mixture", "paper")
        below = overall(data, c, "paper") < mix
        out.append(f"The C-U-Net scores {score(c)}, {'below' if below else 'above'} mixture / {k} "
                   f"({score('mixture')})"
                   + (": at this budget it has not started to separate, so it is no fair baseline here."
                      if below else f"; {against(uw, c)}."))
    if len(munets) > 1:
        for protocol in ("paper", "museval"):
            ranked = sorted(munets, key=lambda m: -overall(data, m, protocol))
            width = overall(data, ranked[0], protocol) - overall(data, ranked[-1], protocol)
            out.append(f"Weightings, {'paper protocol' if protocol == 'paper' else 'museval'}: "
                       + ", ".join(f"{rows[m]['label'].removeprefix('M-U-Net ')} {overall(data, m, protocol):.2f}"
                                   for m in ranked)
                       + f" dB: a range of {width:.2f} dB"
                       + (f", {within(width, spread(data, *munets))}." if protocol == "paper" else "."))
    base, target_step, target, reached = steps_to_reach(data["rows"])
    if base is not None:
        parts = [(f"reached by the {r['label']} after {step} steps" if step is not None
                  else f"not reached by the {r['label']} within {r['steps']}") for r, step in reached if r is not base]
        out.append(f"Iterations: {base['label']}'s validation loss after {target_step} steps ({target:.3f}) was "
                   + "; ".join(parts) + ".")
    mixture = {src: data["results"]["museval"]["mixture"][src]["SDR"]["median"] for src in SOURCES}
    bass = mixture["bass"]
    if bass < 0 and bass == min(mixture.values()):
        out.append(f"museval's bass row is the lowest even for mixture / {k} ({bass:.2f} dB): bass drops out in "
                   "sections of the rendered songs, and BSS Eval's 1 s frames over near-silent references score "
                   "very low; the paper protocol (one value per song) does not have that problem.")
    return out


def render(data: dict) -> str:
    """The section's markdown from its stored raw numbers: `run` uses it, and so does
    `benchmarks.report`, so a label fixed here needs no rerun."""
    from tf_munet.evaluation import table_cell

    rows = {f"{r['label']} [{r['budget']}]": r for r in data["rows"]}
    base = next(r for r in data["rows"] if r["model"] == "munet")
    command = data.get("command") or data.get("note")
    out = [
        (f"Trained on rendered songs ({data.get('preset', 'cunet')} preset, batch {data['batch_size']}, "
         f"{data['steps_per_epoch']} steps per epoch"
         + (f", seed {data['seed']}" if "seed" in data else "") + f"), scored on {songs_label(data)}; "
         f"[steps]: {data['steps']} optimizer steps each; [time]: the steps that fit in M-U-Net UW's "
         f"training time ({base['train_s']:.0f} s), from per-step times measured in this run"
         + (f". Command: `{command}`." if command else ".")),
        "",
        *[f"- {line}" for line in findings(data)],
        "",
        "| model | budget | optimizer steps | effective iterations | step time | epoch time min / median / max |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        e = r["epoch_s"]
        out.append(f"| {r['label']} | {r['budget']} | {r['steps']} | {r['effective_iterations']} | "
                   f"{r['step_s'] * 1e3:.0f} ms | {e['min']:.0f} / {e['median']:.0f} / {e['max']:.0f} s |")
    out += _curves(data["rows"])
    st = data["step_times"]
    out += ["", (f"M-U-Net UW train step (batch 16): {st['constant_s'] * 1e3:.0f} ms on constant tensors, "
                 f"{st['fed_s'] * 1e3:.0f} ms fed by the tf.data pipeline (the pipeline alone: "
                 f"{st['pipeline_only_s'] * 1e3:.0f} ms per batch): the pipeline's threads compete with "
                 "the train step for the cores, so equal wall-clock budgets come from per-step times "
                 "measured in the same run, not from `--time-budget`.")]
    titles = {"museval": "museval v4 (normalised masks, full-band pipeline), median SDR (dB)",
              "paper": f"paper protocol (raw masks, {chunk_label(data.get('audio'))}, mir_eval v3), "
                       f"SDR mean ± std (median) in dB over {len(data['tracks'])} songs"}
    for protocol in ("museval", "paper"):
        out += ["", f"**{titles[protocol]}**", "",
                "| model | budget | " + " | ".join(SOURCES) + " | overall |",
                "|---|---|" + "---|" * (len(SOURCES) + 1)]
        for label, table in data["results"][protocol].items():
            budget = rows[label]["budget"] if label in rows else "reference"
            name = rows[label]["label"] if label in rows else label
            cells = " | ".join(table_cell(table[s]["SDR"], protocol) for s in (*SOURCES, "all"))
            out.append(f"| {name} | {budget} | {cells} |")
    return "\n".join(out)


def main(argv: list[str] | None = None, run_fn=None, prog: str = "python -m benchmarks.bench_paper_table",
         small_flag: bool = True) -> None:
    """Command line of this benchmark (and of `bench_baselines`, which passes its own `run_fn`
    and always runs the half-width preset: `small_flag=False` hides --small)."""
    import argparse

    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int)
    p.add_argument("--root", help="an existing rendered (or MUSDB-layout) set")
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--max-tracks", type=int, help="score only the first test tracks")
    if small_flag:
        p.add_argument("--small", action="store_true", help="half-width cunet preset, 64 frames")
    p.add_argument("--eval-root", help="score on this root's test songs (default: --root's)")
    p.add_argument("--out", help="write the results JSON here too")
    p.add_argument("--save", action="store_true",
                   help="store the result in benchmarks/results.json and regenerate the pages")
    args = p.parse_args(argv)
    from tf_munet.quiet import quiet_tensorflow

    quiet_tensorflow()
    options = {"small": args.small} if small_flag else {}
    result = (run_fn or run)(quick=args.quick, steps=args.steps, root=args.root,
                             per_epoch=args.steps_per_epoch, max_tracks=args.max_tracks,
                             eval_root=args.eval_root, **options)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    if args.save:
        from benchmarks.common import machine, save_results
        from benchmarks.report import write_pages

        result["machine"] = machine()
        write_pages(save_results(result.pop("section", "paper_table"), result))
    print(result["markdown"])


if __name__ == "__main__":
    main()
