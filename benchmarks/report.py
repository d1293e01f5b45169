"""Render benchmarks/results.json as the README's benchmark section (markdown)."""

from __future__ import annotations


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


TITLES = {"pipeline": "Pipeline", "inference": "Inference", "deploy": "Deployment",
          "quality": "Quality", "paper_table": "The paper's table at small scale",
          "baselines": "The baselines at a longer budget",
          "paper_preset": "The paper preset's training path, at reduced width",
          "memory": "Memory", "distill": "Distillation"}
"""Sections rendered from their own markdown, in README order, and their headings."""


def _machine(m: dict) -> str:
    return (f"{m.get('cpu', '?')} ({m.get('cores', '?')} cores"
            f"{', GPUs: ' + ', '.join(m['gpus']) if m.get('gpus') else ', no GPU'}), TensorFlow "
            f"{m.get('tensorflow', '?')}")


def _generic(name: str, data: dict, header: dict) -> list[str]:
    md = data.get("markdown")
    if not md:
        return []
    m = data.get("machine")
    if m and (m.get("cpu"), m.get("cores"), m.get("gpus")) != (
            header.get("cpu"), header.get("cores"), header.get("gpus")):
        md = (f"*This section was measured on another machine: {_machine(m)} (rerun alone); "
              f"compare its figures with each other, not with other sections'.*\n\n{md}")
    return [f"### {name}", "", md]


def render(results: dict) -> str:
    m = results.get("machine", {})
    lines = [
        (f"Measured by `python -m benchmarks.run` on {_machine(m)}, unless a section says "
         f"otherwise. Raw numbers: `benchmarks/results.json`."),
        "",
    ]
    if "cost" in results:
        lines += _cost(results["cost"]) + [""]
    for name, title in TITLES.items():
        if name in results:
            lines += _generic(title, results[name], m) + [""]
    return "\n".join(lines)
