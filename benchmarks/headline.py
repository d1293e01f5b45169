"""The project's claim in a few lines, from the stored baselines section: the README's opening
paragraph and its benchmark summary. Every figure is read from `benchmarks/results.json`, and
every comparison is worded with its seeds, songs and spread (`bench_paper_table.within`)."""

from __future__ import annotations

from benchmarks import bench_paper_table as table

SECTION = "baselines"
"""The section the claim rests on: the three families at a budget where each of them separates."""

DOCS_LINK = "[docs/benchmarks.md](docs/benchmarks.md)"


def _labels(data: dict) -> dict[tuple[str, str], str]:
    """{(model, budget): score label} of the section's rows."""
    return {(r["model"], r["budget"]): f"{r['label']} [{r['budget']}]" for r in data["rows"]}


def setting(data: dict) -> str:
    """What every headline figure rests on: preset, budget, seeds, songs."""
    seed = f"seed {data['seed']}, one seed per model" if "seed" in data else "one run per model"
    name, _, details = data["preset"].partition(" (")
    preset = f"the {name} preset" + (f" ({details}" if details else "")
    return (f"rendered songs, {preset}, {data['steps']} optimizer steps of batch "
            f"{data['batch_size']} per model ({seed}), scored on {table.songs_label(data)}")


def opening(results: dict) -> str:
    """The README's opening numbers (between `<!-- summary:begin/end -->`)."""
    data = results.get(SECTION)
    if not data:
        return f"The measurements are in {DOCS_LINK}."
    labels = _labels(data)
    uw, ded = labels[("munet", "steps")], labels.get(("dedicated", "steps"))
    ded_time, cunet = labels.get(("dedicated", "time")), labels.get(("cunet", "steps"))
    k = len(table.SOURCES)

    def paper(label: str) -> str:
        return f"{table.overall(data, label, 'paper'):.2f}"

    def museval(label: str) -> str:
        return f"{table.overall(data, label, 'museval'):.2f}"

    rows = {f"{r['label']} [{r['budget']}]": r for r in data["rows"]}
    out = [f"Measured on this code at small scale ({setting(data)}):"]
    if ded:
        c = table.compare(data, uw, ded)
        out.append(
            f"the M-U-Net scores {paper(uw)} dB in the paper's protocol against the four dedicated U-Nets' "
            f"{paper(ded)} (museval {museval(uw)} against {museval(ded)}), a difference "
            f"{table.within(c['paper'], c['spread'])}, with a "
            f"{rows[ded]['step_s'] / rows[uw]['step_s']:.1f}× shorter training step"
            + (f"; at equal training time the dedicated set scores {paper(ded_time)} / {museval(ded_time)} dB"
               if ded_time else "") + ".")
    if cunet:
        c = table.compare(data, uw, cunet)
        line = (f"The C-U-Net scores {paper(cunet)} / {museval(cunet)} dB (mixture / {k}: {paper('mixture')} / "
                f"{museval('mixture')}), below the M-U-Net on {c['ahead']['paper']} of {k} sources, a difference "
                f"{table.within(c['paper'], c['spread'])}")
        base, target_step, _, reached = table.steps_to_reach(data["rows"])
        step = next((s for r, s in reached if r["model"] == "cunet"), "missing")
        if base is not None and step is None:
            line += (f"; it does not reach the validation loss the M-U-Net has after {target_step} steps "
                     f"within {data['steps']}")
        elif base is not None and step != "missing":
            line += f"; it reaches the M-U-Net's validation loss after {target_step} steps at step {step}"
        out.append(line + ".")
    out.append(f"One seed and {len(data['tracks'])} songs cannot separate differences this small; these are "
               f"small-scale numbers, not MUSDB18's: {DOCS_LINK} has every table.")
    return " ".join(out)


def summary(results: dict, targets: list[tuple[str, str, str, str]], link: bool = True) -> str:
    """The README's benchmark summary (between `<!-- benchmarks:begin/end -->`): the headline
    table with seeds, songs and spreads, the targets' tally and (`link`) the link to the full page."""
    data = results.get(SECTION)
    out = []
    if data:
        from tf_munet.evaluation import table_cell

        rows = {f"{r['label']} [{r['budget']}]": r for r in data["rows"]}
        uw = _labels(data)[("munet", "steps")]
        out += [f"The three families at a longer budget ({setting(data)}). Paper protocol: mean ± std over "
                "songs × sources (median); museval: median; the last column: M-U-Net UW's paper-protocol "
                "SDR minus the row's, against the larger spread of the two.", "",
                "| model | budget | optimizer steps | step time | paper protocol SDR (dB) | museval SDR (dB) "
                "| M-U-Net UW minus this |",
                "|---|---|---|---|---|---|---|"]
        for label in data["results"]["paper"]:
            r = rows.get(label)
            steps, step = (str(r["steps"]), f"{r['step_s'] * 1e3:.0f} ms") if r else ("–", "–")
            name, budget = (r["label"], r["budget"]) if r else (label, "reference")
            diff = "–"
            if r and label != uw:
                c = table.compare(data, uw, label)
                diff = f"{c['paper']:+.2f} dB, {table.within(c['paper'], c['spread'])}"
            out.append(f"| {name} | {budget} | {steps} | {step} | "
                       f"{table_cell(data['results']['paper'][label]['all']['SDR'], 'paper')} | "
                       f"{table_cell(data['results']['museval'][label]['all']['SDR'], 'museval')} | {diff} |")
    if targets:
        met = sum(verdict == "met" for *_, verdict in targets)
        out += ["", f"Speed, cost and memory targets: {met} of {len(targets)} fully met, the others met in part "
                "or missed." if met < len(targets) else f"Speed, cost and memory targets: all {met} met."]
    if link:
        out += ["", f"Every table, the targets, how each section was measured and what it shows: {DOCS_LINK}, "
                "generated from `benchmarks/results.json` by `python -m benchmarks.report`."]
    return "\n".join(out)
