"""Render benchmarks/results.json as docs/benchmarks.md and the README's generated blocks.

    python -m benchmarks.report           # rewrite docs/benchmarks.md and README.md's blocks
    python -m benchmarks.report --check   # exit status 1 when either differs from results.json

Every figure on both pages is a stored value or computed from stored values; the prose written
here carries no figures (a test checks it), so a rerun can never leave a stale number behind.
A section stored with a `markdown` field appears on the page without any code here; `TITLES`
only names it and places it, and `RENDERERS` re-renders a section from its raw numbers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

TITLES = {"pipeline": "Pipeline", "inference": "Inference", "deploy": "Deployment",
          "quality": "Quality", "paper_table": "The paper's table at small scale",
          "baselines": "The baselines at a longer budget",
          "paper_preset": "The paper preset's training path, at reduced width",
          "memory": "Memory", "distill": "Distillation", "web": "In the browser"}
"""Sections in page order and their headings; any other stored section with a `markdown` field
follows them, under its name."""

RENDERERS = {"paper_table": "benchmarks.bench_paper_table", "baselines": "benchmarks.bench_paper_table",
             "web": "benchmarks.bench_web"}
"""Sections rendered from their stored raw numbers by the module's `render(data)` (the function
the benchmark itself uses), not from the markdown stored when they ran."""

NOT_SECTIONS = {"machine", "cost"}
"""Top-level entries of results.json that are not rendered from a `markdown` field."""

NOTES = {
    "inference": (
        "Mask heads run in sub-pixel form at inference (the same masks to rounding): the strided "
        "transposed convolution with few output channels was the slowest layer per FLOP in both "
        "runtimes, and only heads with few filters were changed, since wider ones gained little or lost. "
        "With exhaustive normalisation the last stem is the mixture minus the others, so only K − 1 "
        "sources' masks are interpolated and mapped. The core's real FFTs go through ducc0, whose "
        "transforms are faster than scipy's at the input-rate STFT lengths (large prime factors). "
        "The inverse STFTs' overlap-add writes into the stems' own rows in rounds that share no samples, "
        "so any number of threads gives bit-identical stems. Blocks are pipelined: the next block's "
        "masks are computed in a second thread while this block's input-rate DSP runs."),
    "deploy": (
        "Keras, the SavedModel and the edge runner share one inference core, so only the network "
        "differs between them. Where the edge runner trails Keras, the network is the difference: on "
        "this CPU XNNPACK's float32 kernels are slower than oneDNN's, and TensorFlow runs the dedicated "
        "set's four backbones side by side while the runner calls its four files in turn. Fixed-batch "
        "signatures let XNNPACK take the whole network (a free batch dimension leaves the transposed "
        "convolutions' output shapes to run time); the dynamic-range variant keeps a free batch and "
        "stays slower. From the command line, `import tensorflow` dominates the Keras path's time to stems."),
    "quality": (
        "Synthetic stems are far simpler than music: compare rows with each other, not with MUSDB18 "
        "numbers."),
    "paper_table": (
        "The full-width preset at thousands of steps (`python -m benchmarks.bench_paper_table` without "
        "`--small`) needs a GPU or a long idle run and has not been run here."),
    "baselines": (
        "This is the comparison the README's opening rests on. The paper, training to convergence on "
        "MUSDB18, reports a small gap between the M-U-Net and the C-U-Net; this budget measures the "
        "iteration cost, not the converged gap. Only the seed stored here is reported."),
}
"""Prose shown after a section's tables: explanations only, no figures. What is true of one stored
run only (e.g. that it predates a fix) is stored with it instead, as its `caveat`, so that a
rerun drops it."""

INTRO = (
    "Sections were measured at different times on otherwise idle machines whose speed varies from day "
    "to day: compare figures within a section. Every compared figure is measured in the same run on "
    "the same machine.")

SPEED_NOTES = [
    "Tried and not kept (the A/B measurements behind these are not stored): both channels of a stereo "
    "input through one complex FFT; XNNPACK's flag-protected latest features; mapping each block's masks "
    "by Hz once in the mask thread; smaller or larger DSP frame batches; an FFT length padded to small "
    "prime factors (faster transforms, but a larger oracle SDR loss than `--fast-fft`); a DFT-matmul "
    "inverse in the waveform graphs (faster in LiteRT, slower in TensorFlow); space-to-depth encoder "
    "convolutions; folding batch norm into the float32 network (a slow rebuild at start-up).",
    "No zero-cost default was found for the DSP: power-of-two input STFTs cost oracle SDR, the "
    "FFT-friendly length (`--fast-fft`) costs less, and bfloat16 is not the default (a oneDNN fault on "
    "some shapes, results that would depend on the CPU, and emulated bfloat16 on CPUs without its "
    "instructions is several times slower).",
    "Train step and forward stay well below the matmul peak: oneDNN's blocked kernels starve on few "
    "channels or tiny feature maps (the mask head, the bottleneck); XLA was slower on these CPUs.",
]
"""Numberless notes on the speed work, shown under the targets."""


def _cost(c: dict) -> list[str]:
    out = ["### Parameters and FLOPs (per patch; C-U-Net separation = 4 passes)", "",
           "| preset | family | params | control generator | GFLOP / pass | GFLOP / 4-source separation "
           "| GFLOP per second of audio (4 sources) |",
           "|---|---|---|---|---|---|---|"]
    for r in c["params"]:
        out.append(
            f"| {r['preset']} | {r['family']} | {r['params'] / 1e6:.2f} M | "
            f"{r['control_params'] / 1e6:.2f} M | {r['flops_per_pass'] / 1e9:.2f} | "
            f"{r['flops_per_separation'] / 1e9:.2f} | {r['gflops_per_audio_second']:.2f} |"
        )
    e = c["epoch_cost"]
    out += ["", f"### Training cost (same {e['chunks']} chunks, batch 16)", "",
            (f"Optimizer steps per epoch to see every chunk under every target: M-U-Net "
             f"{e['munet_steps']}, dedicated {e['dedicated_steps']} (but {e['dedicated_network_passes']} "
             f"network passes, one per source), C-U-Net {e['cunet_steps']} (K + 2 = 6 conditions per "
             f"chunk: {e['cunet_steps'] / e['munet_steps']:.1f}× M-U-Net's)."), "",
            "| family | train step (b16) | examples/s | GFLOP/s train | % of matmul peak | forward (b16) "
            "| GFLOP/s forward | % of peak | network time per 4-source patch |",
            "|---|---|---|---|---|---|---|---|---|"]
    base = next(r for r in c["training"] if r["family"] == "munet")
    for r in c["training"]:
        ratio = r["separation_network_s_per_patch"] / base["separation_network_s_per_patch"]
        out.append(
            f"| {r['family']} | {r['train_step_s'] * 1e3:.0f} ms | {r['train_examples_per_s']:.0f} | "
            f"{r['train_gflops_per_s']:.0f} | {100 * r['train_fraction_of_peak']:.0f}% | "
            f"{r['forward_s'] * 1e3:.0f} ms | {r['forward_gflops_per_s']:.0f} | "
            f"{100 * r['forward_fraction_of_peak']:.0f}% | {r['separation_network_s_per_patch'] * 1e3:.1f} ms "
            f"({ratio:.2f}× M-U-Net) |"
        )
    out += ["", f"Matmul peak measured in the same run: {c['matmul_peak_gflops']:.0f} GFLOP/s (float32, 2048²)."]
    return out


def _machine(m: dict) -> str:
    return (f"{m.get('cpu', '?')} ({m.get('cores', '?')} cores"
            f"{', GPUs: ' + ', '.join(m['gpus']) if m.get('gpus') else ', no GPU'}), TensorFlow "
            f"{m.get('tensorflow', '?')}")


def title(name: str) -> str:
    """A section's heading: its TITLES entry, else its name in words."""
    return TITLES.get(name) or name.replace("_", " ").capitalize()


def section_names(results: dict) -> list[str]:
    """The rendered sections, in page order: TITLES' first, then any other stored section that
    has a `markdown` field or a renderer, in results.json's order."""
    known = [n for n in TITLES if n in results]
    rest = [n for n, d in results.items() if n not in TITLES and n not in NOT_SECTIONS
            and isinstance(d, dict) and (d.get("markdown") or n in RENDERERS)]
    return known + rest


def section_markdown(name: str, data: dict) -> str:
    """A section's body: re-rendered from its raw numbers where a renderer exists, else as stored."""
    if name in RENDERERS:
        return importlib.import_module(RENDERERS[name]).render(data)
    return data.get("markdown") or ""


def _generic(name: str, data: dict, header: dict) -> list[str]:
    md = section_markdown(name, data)
    if not md:
        return []
    m = data.get("machine")
    if m and (m.get("cpu"), m.get("cores"), m.get("gpus")) != (
            header.get("cpu"), header.get("cores"), header.get("gpus")):
        md = (f"*This section was measured on another machine: {_machine(m)} (rerun alone); "
              f"compare its figures with each other, not with other sections'.*\n\n{md}")
    seed = f"Seed {data['seed']} for every model (one run each)." if "seed" in data and name not in RENDERERS else None
    notes = [text for text in (seed, NOTES.get(name), data.get("caveat")) if text]
    return [f"### {title(name)}", "", md, *[line for text in notes for line in ("", text)]]


def render(results: dict) -> str:
    """Every section's tables (the results part of docs/benchmarks.md)."""
    m = results.get("machine", {})
    lines = [
        (f"Measured by `python -m benchmarks.run` on {_machine(m)}, unless a section says "
         f"otherwise. Raw numbers: `benchmarks/results.json`."),
        "",
    ]
    if "cost" in results:
        lines += _cost(results["cost"]) + [""]
    for name in section_names(results):
        lines += _generic(name, results[name], m) + [""]
    return "\n".join(lines)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def render_docs(results: dict) -> str:
    """docs/benchmarks.md: how to regenerate, the headline, the targets, then every section."""
    from benchmarks import headline, targets

    checked = targets.checked(results)
    headings = {n: title(n) for n in section_names(results)}
    out = [
        "# Benchmarks", "",
        "<!-- Generated from benchmarks/results.json by `python -m benchmarks.report`: edit "
        "benchmarks/report.py (or a section's bench module), not this page. -->", "",
        "Every figure on this page is a value stored in `benchmarks/results.json` or computed from stored "
        "values. Regenerate this page and the README's generated blocks from the stored results, without "
        "rerunning anything:", "",
        "```bash",
        "python -m benchmarks.report           # rewrite docs/benchmarks.md and README.md's generated blocks",
        "python -m benchmarks.report --check   # exit status 1 if either differs from results.json",
        "```", "",
        "Measure again with `python -m benchmarks.run` (every section; `--only SECTION` for one, `--quick` "
        "for a smoke run) or a training section's own command (stored with it, below): both store their "
        "results and regenerate the pages. " + INTRO, "",
        "Sections: " + ", ".join(f"[{h}](#{_anchor(h)})" for h in
                                 (["Parameters and FLOPs (per patch; C-U-Net separation = 4 passes)"]
                                  if "cost" in results else []) + list(headings.values())) + ".", "",
        "## The claim at small scale", "",
        headline.summary(results, checked, link=False), "",
    ]
    if checked:
        names = {"cost": "Training cost", **{n: title(n) for n in TITLES}}
        out += ["## Targets", "", "The benchmark issue's targets, checked against the stored sections:", "",
                *targets.render(results, names), "",
                "Notes on the speed work:", "", *[f"- {note}" for note in SPEED_NOTES], ""]
    out += ["## Results", "", render(results)]
    return "\n".join(out).rstrip() + "\n"


README_SECTIONS = ("web", "tests")
"""Sections the README also shows in full, each in its own generated block (named like the section)
beside the text it backs."""


def readme_blocks(results: dict) -> dict[str, str]:
    """{marker name: markdown} of the README's generated blocks."""
    from benchmarks import headline, readme_figures, targets

    blocks = {"summary": headline.opening(results),
              "benchmarks": headline.summary(results, targets.checked(results)),
              **{name: figure(results) for name, figure in readme_figures.BLOCKS.items()}}
    for name in README_SECTIONS:
        data = results.get(name)
        blocks[name] = (f"{section_markdown(name, data)}\n\n(Measured on {_machine(data['machine'])}: "
                        f"{readme_figures.rerun(name)}.)" if data else readme_figures.not_measured(name))
    return blocks


def render_readme(results: dict, text: str) -> str:
    """`text` (the README) with its generated blocks rendered from `results`."""
    from benchmarks.common import replace_block

    for name, markdown in readme_blocks(results).items():
        text = replace_block(text, name, markdown)
    return text


def pages(results: dict, readme: Path | None = None, docs: Path | None = None) -> dict[Path, str]:
    """{path: the text it should have} for the README and the docs page."""
    from benchmarks.common import DOCS, README

    readme, docs = readme or README, docs or DOCS
    return {readme: render_readme(results, readme.read_text()), docs: render_docs(results)}


def stale(results: dict, readme: Path | None = None, docs: Path | None = None) -> list[Path]:
    """The pages whose text differs from what `results` renders."""
    return [p for p, text in pages(results, readme, docs).items() if not p.exists() or p.read_text() != text]


def write_pages(results: dict, readme: Path | None = None, docs: Path | None = None) -> list[Path]:
    """Rewrite the pages that differ from what `results` renders; returns them."""
    from benchmarks.common import write_text_atomic

    changed = []
    for path, text in pages(results, readme, docs).items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit status 1 if a page differs from results.json")
    args = parser.parse_args(argv)
    from benchmarks.common import load_results

    results = load_results()
    if args.check:
        old = stale(results)
        for path in old:
            print(f"{path}: out of date with benchmarks/results.json; run python -m benchmarks.report",
                  file=sys.stderr)
        return 1 if old else 0
    for path in write_pages(results):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
