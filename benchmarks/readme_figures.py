"""The figures the README quotes beside its own text (parameter counts, the C-U-Net's budget, the
export variants), rendered from stored sections of `benchmarks/results.json` and labelled with the
settings of the run that measured them, so that no figure in the README prose is typed by hand."""

from __future__ import annotations

from benchmarks import bench_paper_table as table

FAMILIES = (("munet", "M-U-Net"), ("dedicated", "dedicated (K U-Nets)"), ("cunet", "C-U-Net"))

EXPORT_VARIANTS = ("spectrogram-float32", "spectrogram-float16", "spectrogram-dynamic", "spectrogram-int8",
                   "waveform-float32", "waveform-int8")
"""The export variants the README's table shows (the docs page has every variant and family)."""


def rerun(section: str) -> str:
    """The command that measures `section` again."""
    return f"`python -m benchmarks.run --only {section}`"


def not_measured(section: str) -> str:
    """What a block says while its section is missing from results.json."""
    return f"(Not measured yet: {rerun(section)}.)"


def _count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 100_000 else f"{n / 1e3:.1f} k"


def params(results: dict) -> str:
    """Parameter counts per preset and family, 4 sources (the `cost` section)."""
    rows = results.get("cost", {}).get("params")
    if not rows:
        return not_measured("cost")
    by = {(r["preset"], r["family"]): r for r in rows}
    out = [f"| parameters, 4 sources ({rerun('cost')}) | " + " | ".join(name for _, name in FAMILIES) + " |",
           "|---|---|---|---|"]
    for preset in dict.fromkeys(r["preset"] for r in rows):
        cells = []
        for family, _ in FAMILIES:
            r = by.get((preset, family))
            cell = _count(r["params"]) if r else "–"
            if r and r["control_params"]:
                cell += f" ({_count(r['control_params'])} control generator)"
            cells.append(cell)
        out.append(f"| `{preset}` | " + " | ".join(cells) + " |")
    return "\n".join(out)


def cunet_budget(results: dict) -> str:
    """The C-U-Net's paper-protocol SDR after each stored training section's budget."""
    parts, settings = [], {}
    for name in ("paper_table", "baselines"):
        data = results.get(name)
        label = "C-U-Net [steps]"
        if not data or label not in data.get("results", {}).get("paper", {}):
            continue
        stats = data["results"]["paper"][label]["all"]["SDR"]
        parts.append(f"{stats['mean']:.2f} ± {stats['std']:.2f} dB after {data['steps']} steps")
        setting = (f"the {data['preset']} preset, batch {data['batch_size']}, seed {data['seed']}, "
                   f"{table.songs_label(data)}, {table.chunk_label(data.get('audio'))}")
        settings.setdefault(setting, []).append(f"{data['steps']} steps")
    if not parts:
        return "(Not measured yet: `python -m benchmarks.bench_paper_table`.)"
    labels = [text if len(settings) == 1 else f"{' and '.join(steps)}: {text}" for text, steps in settings.items()]
    return (f"C-U-Net, paper protocol, SDR mean ± std over songs × sources: {', '.join(parts)} "
            f"({'; '.join(labels)}).")


def exports(results: dict) -> str:
    """Size, error, SDR change and latency of the M-U-Net's export variants (the `deploy` section)."""
    data = results.get("deploy")
    entry = next((e for e in (data or {}).get("exports", []) if e["family"] == "munet"), None)
    if not entry:
        return not_measured("deploy")
    chunk = next((r["chunk_seconds"] for r in data.get("graph_vs_litert", [])
                  if r["family"] == "munet" and r["preset"] == entry["preset"]), None)
    out = ["| variant | size | max abs error vs Keras | SDR change | ms / chunk (best) |", "|---|---|---|---|---|"]
    for name in EXPORT_VARIANTS:
        v = entry["tflite"].get(name)
        if v:
            out.append(f"| {name.replace('-', ' ')} | {v['size_bytes'] / 1e6:.1f} MB | {v['max_abs_error']:.1e} | "
                       f"{v['sdr_change']:+.3f} dB | {v['latency_best_ms_per_chunk']:.0f} |")
    chunk_text = f"one {chunk:.2f} s chunk at the model's rate" if chunk else "one chunk at the model's rate"
    out += ["", (f"({entry['preset']} preset M-U-Net, 4 sources, untrained network (SDR change: simple SDR on "
                 f"the export's validation excerpt), {chunk_text}, LiteRT on {data['threads']} threads; "
                 f"{rerun('deploy')}.)")]
    return "\n".join(out)


BLOCKS = {"params": params, "cunet_budget": cunet_budget, "exports": exports}
"""README block name -> renderer(results)."""
