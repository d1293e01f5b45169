"""The paper preset's training path, shown to learn: a short run of the `paper` preset (the
paper's network with every width divided by `--width-divisor`; everything else as the preset:
10880 Hz mono, 6 s chunks warped to 256 x 256, log(|X| + 2.2e-16) input, ReLU masks, targets
clipped to [0, 10], SGD lr 0.01 momentum 0.9, batch 16) on rendered songs, trained and scored
as `bench_paper_table` trains and scores (`_train`, both protocols, beside oracle and
mixture / 4). The full-width network (124 M parameters) needs a GPU; this section checks the
path, not the paper's numbers.

    python -m benchmarks.bench_paper_preset --width-divisor 8 --steps 800 --variants "paper,sigmoid masks" --save
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from benchmarks import bench_paper_table

SECTION = "paper_preset"
"""The key of this section in benchmarks/results.json (and in `benchmarks.run`)."""
PRESET = "paper"
WIDTH_DIVISOR = 8
STEPS = 800
PER_EPOCH = 50
SONGS = {"train": 8, "test": 3, "seconds": 30.0, "seed": 14}
"""The rendered set: songs per subset, their length and the render seed."""
QUICK_SONGS = {"train": 3, "test": 1, "seconds": 8.0, "seed": 14}
SOURCES = ("vocals", "drums", "bass", "other")
VARIANTS = {"paper": {}, "sigmoid masks": {"backbone": {"mask_activation": "sigmoid"}}}
"""What each run changes in the reduced preset: "paper" nothing; "sigmoid masks" the mask head
only (the C-U-Net's bounded masks instead of the paper's ReLU): at this budget the paper's ReLU
masks of vocals and other sit at the all-zero-mask loss, and this variant shows whether a mask
that cannot die moves them off it."""


def reduced_widths(divisor: int) -> list[int]:
    """The paper preset's U-Net widths divided by `divisor` (at least 1 filter per level)."""
    from tf_munet.presets import get_preset

    return [max(1, w // divisor) for w in get_preset(PRESET).backbone.widths]


def model_label(data: dict, variant: str = "paper") -> str:
    """A run's name in every table: the preset, its width divisor and widths, what the variant
    changes and the seed."""
    w = data["widths"]
    name = f"M-U-Net UW, {data['preset']} preset, widths ÷{data['width_divisor']} ({w[0]}–{w[-1]})"
    return name if variant == "paper" else f"{name}, {variant}"


def _settings(divisor: int, steps: int, per_epoch: int, seeds: list[int], songs: dict,
              tracks: list[str], run_dir: Path) -> dict:
    """What the stored numbers were measured with, read from the run's saved config."""
    from tf_munet.presets import Preset

    config = json.loads((run_dir / "config.json").read_text())
    preset = Preset.from_dict(config["preset"])
    audio, backbone, train = preset.audio, preset.backbone, preset.train
    return {
        "preset": preset.name, "width_divisor": divisor, "widths": list(backbone.widths),
        "params": config["params"], "steps": steps, "steps_per_epoch": per_epoch,
        "batch_size": config["batch_size"], "seeds": seeds, "optimizer": config["optimizer"],
        "lr": config["lr"], "momentum": train.momentum, "target_clip": train.target_clip,
        "loss": train.loss, "input_scaling": backbone.input_scaling, "input_eps": backbone.input_eps,
        "mask_activation": backbone.mask_activation, "bn_momentum": backbone.bn_momentum,
        "sample_rate": audio.sample_rate, "chunk_seconds": audio.chunk_samples / audio.sample_rate,
        "model_grid": [audio.model_bins, audio.frames],
        "songs": songs, "tracks": tracks, "protocols": ["paper", "museval"],
    }


def rendered_set(folder: Path, songs: dict) -> tuple[Path, float | None]:
    """The rendered set of `songs` in `folder`: reused when its songs.json says it was rendered
    with these settings (render time None), else rendered there (a new or empty folder)."""
    from tf_munet.data.render import write_rendered_musdb

    manifest = folder / "songs.json"
    if manifest.is_file() and json.loads(manifest.read_text()) == songs:
        return folder, None
    t0 = time.time()
    write_rendered_musdb(folder, **songs)
    manifest.write_text(json.dumps(songs))
    return folder, round(time.time() - t0, 1)


def zero_mask_losses(root: Path, work: Path, preset: dict, batches: int) -> dict[str, float]:
    """Validation loss per source of all-zero masks (mean |target| over the batches the runs
    validate on): the level a collapsed mask sits at."""
    import numpy as np

    from tf_munet.data.pipeline import validation_dataset
    from tf_munet.presets import Preset

    p = Preset.from_dict(preset)
    clip = p.train.target_clip
    means = [np.abs(np.minimum(np.asarray(t), clip * np.asarray(m)[..., None])).mean(axis=(0, 1, 2, 3))
             for m, t in validation_dataset(root, p, SOURCES, 16, cache=work / "cache").take(batches)]
    return dict(zip(SOURCES, np.mean(means, axis=0).astype(float).round(4).tolist()))


def run(quick: bool = False, steps: int | None = None, root: str | None = None,
        per_epoch: int | None = None, max_tracks: int | None = None, eval_root: str | None = None,
        width_divisor: int = WIDTH_DIVISOR, seeds: tuple[int, ...] = (0,),
        keep_rendered: str | None = None, variants: tuple[str, ...] = ("paper",)) -> dict:
    """Train the reduced paper preset (one run per variant and seed) and score the runs with
    oracle and mixture / 4. `keep_rendered`: render the songs into this folder, or reuse it
    when it holds them."""
    from tf_munet.data.musdb_io import find_tracks
    from tf_munet.evaluation import evaluate, reference_spec, run_spec
    from tf_munet.presets import resolve_sources

    steps = steps or (10 if quick else STEPS)
    per_epoch = per_epoch or (5 if quick else PER_EPOCH)
    songs = QUICK_SONGS if quick else SONGS
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        render_s = None
        if root is None:
            root, render_s = rendered_set(Path(keep_rendered) if keep_rendered else work / "rendered", songs)
        else:
            songs = {"root": str(root)}
        root = Path(root)
        rows = []
        for variant in variants:
            changes = VARIANTS[variant]
            overrides = {**changes, "backbone": {**changes.get("backbone", {}),
                                                 "widths": reduced_widths(width_divisor)}}
            for seed in seeds:
                row = bench_paper_table._train(root, work, "munet", "uw", steps, per_epoch, overrides,
                                               preset=PRESET, seed=seed, tag="-" + variant.replace(" ", "-"))
                history = json.loads((Path(row["run_dir"]) / "history.json").read_text())
                row.update(variant=variant, seed=seed, val_curve_per_source=[
                    [e["iterations"], {s: e["val"][s] for s in SOURCES}] for e in history["epochs"]])
                rows.append(row)
        scored = Path(eval_root) if eval_root else root
        names = [t.name for t in find_tracks(scored, "test")][:max_tracks]
        run_dir = Path(next((r for r in rows if r["variant"] == "paper"), rows[0])["run_dir"])
        data = _settings(width_divisor, steps, per_epoch, list(seeds), songs, names, run_dir)
        for r in rows:
            r["label"] = f"{model_label(data, r['variant'])}, seed {r['seed']}"
        specs = [run_spec(r["run_dir"], label=r["label"]) for r in rows]
        preset = json.loads((run_dir / "config.json").read_text())["preset"]
        zero = zero_mask_losses(root, work, preset, bench_paper_table.VALIDATION_STEPS)
        refs = [reference_spec(k, preset, resolve_sources("4stems")) for k in ("oracle", "mixture")]
        summary = evaluate(specs + refs, scored, work / "eval", protocols=tuple(data["protocols"]),
                           jobs=2, tracks=names, progress=False)
    for r in rows:
        r.pop("run_dir")
    data.update({"render_s": render_s, "variants": list(variants),
                 "variant_changes": {v: VARIANTS[v] for v in variants}, "rows": rows,
                 "zero_mask_val_loss": zero,
                 "results": {p: summary["results"][p] for p in data["protocols"]},
                 "per_track": {p: {k: {s: v[s]["SDR"] for s in SOURCES} for k, v in summary["per_track"][p].items()}
                               for p in data["protocols"]}})
    data["markdown"] = render(data)
    return data


def gains_over_mixture(data: dict, protocol: str = "paper") -> dict[str, dict[str, float]]:
    """Per run, SDR mean minus mixture / 4's SDR mean (dB), per source and overall ("all")."""
    results = data["results"][protocol]
    floor = results["mixture"]
    return {label: {s: table[s]["SDR"]["mean"] - floor[s]["SDR"]["mean"] for s in (*SOURCES, "all")}
            for label, table in results.items() if label not in ("mixture", "oracle")}


def render(data: dict) -> str:
    """The section's markdown, every figure and label from `data`."""
    from tf_munet.evaluation import table_cell

    songs = data["songs"]
    trained_on = (f"{songs['train']} rendered songs of {songs['seconds']:g} s (render seed {songs['seed']})"
                  if "train" in songs else f"the songs in {songs['root']}")
    seeds = data["seeds"]
    changed = [f"{v}: {json.dumps(c)}" for v, c in data["variant_changes"].items() if c]
    out = [
        (f"**{model_label(data)}** ({data['params'] / 1e6:.2f} M parameters; the full preset's widths are "
         f"{data['width_divisor']}× wider): {data['steps']} optimizer steps of batch "
         f"{data['batch_size']} ({data['optimizer'].upper()} lr {data['lr']:g}, momentum "
         f"{data['momentum']:g}) on {trained_on}, {data['chunk_seconds']:g} s chunks at "
         f"{data['sample_rate']} Hz mono warped to {data['model_grid'][0]} × {data['model_grid'][1]}, "
         f"input log(|X| + {data['input_eps']:g}), {data['mask_activation']} masks, targets clipped to "
         f"[0, {data['target_clip']:g}]; seed{'s' if len(seeds) > 1 else ''} "
         f"{', '.join(map(str, seeds))}; scored on {len(data['tracks'])} held-out rendered songs"
         + (f". Variants change only: {'; '.join(changed)}." if changed else ".")),
        "",
        (f"Validation loss per source (L1, {bench_paper_table.VALIDATION_STEPS} batches of the validation "
         "songs) after the first and the last epoch, beside all-zero masks' (a collapsed mask's level):"),
        "",
        "| model | " + " | ".join(SOURCES) + " | step time |", "|---|" + "---|" * (len(SOURCES) + 1),
        "| all-zero masks | " + " | ".join(f"{data['zero_mask_val_loss'][s]:.3f}" for s in SOURCES) + " | |",
    ]
    for r in data["rows"]:
        (first_step, first), (last_step, last) = r["val_curve_per_source"][0], r["val_curve_per_source"][-1]
        out.append(f"| {r['label']} | " + " | ".join(f"{first[s]:.3f} → {last[s]:.3f}" for s in SOURCES)
                   + f" | {r['step_s'] * 1e3:.0f} ms |")
    out += ["", f"(after {first_step} → {last_step} steps)"]
    titles = {"paper": (f"paper protocol (raw masks, {data['chunk_seconds']:g} s chunks, mono "
                        f"{data['sample_rate']} Hz, mir_eval v3), SDR mean ± std (median) in dB"),
              "museval": "museval v4 (normalised masks, full-band pipeline), median SDR (dB)"}
    for protocol in data["protocols"]:
        out += ["", f"**{titles[protocol]}**", "",
                "| model | " + " | ".join(SOURCES) + " | overall |", "|---|" + "---|" * (len(SOURCES) + 1)]
        for label, table in data["results"][protocol].items():
            name = "mixture / 4" if label == "mixture" else label
            out.append(f"| {name} | " + " | ".join(table_cell(table[s]["SDR"], protocol)
                                                    for s in (*SOURCES, "all")) + " |")
    for label, gains in gains_over_mixture(data).items():
        beaten = [s for s in SOURCES if gains[s] > 0]
        out += ["", (f"{label} against mixture / 4 (paper protocol, mean SDR over "
                     f"{len(data['tracks'])} songs): " + ", ".join(f"{s} {gains[s]:+.2f} dB" for s in SOURCES)
                     + f", overall {gains['all']:+.2f} dB; above it on {len(beaten)} of {len(SOURCES)} sources.")]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_paper_preset")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int)
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--width-divisor", type=int, default=WIDTH_DIVISOR,
                   help="divide every width of the paper preset's U-Net by this")
    p.add_argument("--seeds", default="0", help="comma list of training seeds")
    p.add_argument("--variants", default="paper", help=f"comma list of {', '.join(VARIANTS)}")
    p.add_argument("--root", help="an existing rendered (or MUSDB-layout) set")
    p.add_argument("--keep-rendered", metavar="DIR",
                   help="render the songs into DIR and keep them, or reuse DIR if it holds them")
    p.add_argument("--eval-root", help="score on this root's test songs (default: --root's)")
    p.add_argument("--max-tracks", type=int, help="score only the first test tracks")
    p.add_argument("--out", help="write the results JSON here too")
    p.add_argument("--save", action="store_true", help="store the result in benchmarks/results.json")
    args = p.parse_args(argv)
    variants = tuple(v.strip() for v in args.variants.split(","))
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"--variants: {unknown[0]!r} is not one of {', '.join(VARIANTS)}")
    from tf_munet.quiet import quiet_tensorflow

    quiet_tensorflow()
    t0 = time.time()
    result = run(quick=args.quick, steps=args.steps, root=args.root, per_epoch=args.steps_per_epoch,
                 max_tracks=args.max_tracks, eval_root=args.eval_root, width_divisor=args.width_divisor,
                 seeds=tuple(int(s) for s in args.seeds.split(",")), keep_rendered=args.keep_rendered,
                 variants=variants)
    result["wall_s"] = round(time.time() - t0, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    if args.save:
        from benchmarks.common import machine, save_results

        result["machine"] = machine()
        save_results(SECTION, result)
    print(result["markdown"])


if __name__ == "__main__":
    main()
