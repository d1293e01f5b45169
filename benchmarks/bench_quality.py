"""The paper's claim at small scale: equal wall-clock training budget, then museval SDR.

On a synthetic MUSDB-layout set (44.1 kHz stereo), each model trains for the same number of
seconds (`train --time-budget`) with the cunet preset: M-U-Net with UW, DWA and EBW P1, the
dedicated set and the C-U-Net; and, for the full-band preset's issue, M-U-Net at `fullband`.
Every run is scored by museval (BSS Eval v4, median over frames then tracks) beside the oracle
ideal ratio mask and the mixture/K floor. The first M-U-Net is also scored with the separator's
speed options (`SPEED_OPTIONS`: patch overlap 0.5 and 0, bfloat16 network, fast FFT
lengths), to show what they cost. Synthetic stems are far simpler than music: compare
models with each other, not with MUSDB18 numbers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

CONFIGS = [
    ("cunet", "munet", "uw"),
    ("cunet", "munet", "dwa"),
    ("cunet", "munet", "ebw-p1"),
    ("cunet", "dedicated", "uw"),
    ("cunet", "cunet", "uw"),
    ("fullband", "munet", "uw"),
]

SPEED_OPTIONS = [("overlap 0.5", {"overlap": 0.5}), ("overlap 0", {"overlap": 0.0}),
                 ("bfloat16", {"precision": "bfloat16"}), ("fast FFT", {"fast_fft": True})]


SEED = 0
"""Every model's seed (one run per model), stored with the results."""


def run(quick: bool = False, budget: float | None = None) -> dict:
    from tf_munet.data.synthetic import write_synthetic_musdb
    from tf_munet.evaluation import evaluate, reference_spec, run_spec
    from tf_munet.training.loop import run_training
    from tf_munet.training.options import TrainOptions

    budget = budget or (15.0 if quick else 150.0)
    configs = [c for c in CONFIGS if c[0] == "cunet"][:2] if quick else CONFIGS
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = write_synthetic_musdb(tmp / "synth", train=3 if quick else 8, test=2 if quick else 3,
                                     seconds=8.0 if quick else 20.0, seed=1)
        specs = []
        for preset, model, weighting in configs:
            label = f"{preset}-{model}-{weighting}"
            run_dir = tmp / "runs" / label
            options = TrainOptions(
                preset=preset, model=model, weighting=weighting, data=str(root),
                cache=str(tmp / "cache" / preset), run_dir=str(run_dir), epochs=1000,
                steps_per_epoch=20, validation_steps=4, time_budget=budget, excerpt_every=0,
                verbose=0, early_stopping_patience=0, seed=SEED,
            ).validate()
            run_training(options)
            history = json.loads((run_dir / "history.json").read_text())
            config = json.loads((run_dir / "config.json").read_text())
            steps = history["epochs"][-1]["iterations"]
            rows.append({"label": label, "preset": preset, "model": model, "weighting": weighting,
                         "epochs": len(history["epochs"]), "steps": steps,
                         "batch_size": config.get("batch_size"),
                         "params": config.get("params")})
            specs.append(run_spec(run_dir, label=label))
            print(rows[-1], flush=True)
        first = specs[0]
        variants = [(name, run_spec(first.run_dir, options, label=f"{first.label} {name}"))
                    for name, options in SPEED_OPTIONS]
        specs += [spec for _, spec in variants]
        cunet_cfg = json.loads((tmp / "runs" / specs[0].label / "config.json").read_text())
        sources = tuple(cunet_cfg["sources"])
        refs = [reference_spec(k, cunet_cfg["preset"], sources) for k in ("oracle", "mixture")]
        summary = evaluate(specs + refs, root, tmp / "eval", protocols=("museval",), jobs=2,
                           progress=False)
    table = summary["results"]["museval"]
    for row in rows:
        row["sdr"] = {src: table[row["label"]][src]["SDR"]["median"] for src in (*sources, "all")}
    ref_rows = {k.label: {src: table[k.label][src]["SDR"]["median"] for src in (*sources, "all")}
                for k in refs}
    for name, spec in variants:
        rows.append({**rows[0], "label": spec.label, "option": name,
                     "sdr": {src: table[spec.label][src]["SDR"]["median"] for src in (*sources, "all")}})
    return {"budget_s": budget, "seed": SEED, "rows": rows, "references": ref_rows,
            "markdown": render(budget, rows, ref_rows, sources)}


def _fmt(x):
    return "–" if x is None else f"{x:.2f}"


def render(budget, rows, refs, sources) -> str:
    out = [f"Each model trained for {budget:.0f} s of wall time on the same synthetic set, "
           "then museval v4 median SDR (dB) on its test tracks.", "",
           "| model | preset | steps × batch in budget | " + " | ".join(sources) + " | all |",
           "|---|---|---|" + "---|" * (len(sources) + 1)]
    for r in rows:
        name = f"{r['model']} {r['weighting'].upper()}" + (f", separated with {r['option']}"
                                                          if r.get("option") else "")
        steps = "same run" if r.get("option") else f"{r['steps']} × {r['batch_size']}"
        out.append(f"| {name} | {r['preset']} | {steps} | "
                   + " | ".join(_fmt(r["sdr"][s]) for s in (*sources, "all")) + " |")
    for label, sdr in refs.items():
        out.append(f"| {label} (reference, cunet grid) | – | – | "
                   + " | ".join(_fmt(sdr[s]) for s in (*sources, "all")) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--budget", type=float)
    args = p.parse_args()
    print(run(args.quick, args.budget)["markdown"])
