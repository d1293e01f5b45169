"""What an export is measured by, and the table it prints.

Per variant (input kind x quantization; a dedicated set's per-source files count as one variant):
- size: bytes of its .tflite files;
- ops: the distinct TF-Lite ops (builtins only, checked);
- max / mean absolute error against Keras on the validation excerpt, and the max error relative
  to the largest Keras value (masks for spectrogram-in files, stems for waveform-in files);
- SDR change: mean over sources of SDR(tflite stems) - SDR(Keras stems), both against the
  excerpt's true sources. SDR here is the simple signal-to-distortion ratio
  10 log10(sum s^2 / sum (s - s_hat)^2) over the excerpt (no BSS-Eval projections: it measures
  how much an export changes the separation, not the separation itself). Spectrogram-in masks
  become stems through the same reconstruction as Keras' (`graphs.reconstruct`);
- latency: median and best of `latency_repeats` timed interpreter calls on one chunk, per call
  and per chunk (= the calls needed for every source: C-U-Net one per source, dedicated one per
  file).
"""

from __future__ import annotations

import numpy as np


def sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-10) -> float:
    """Simple SDR in dB: 10 log10(|s|^2 / |s - s_hat|^2)."""
    reference = np.asarray(reference, np.float64)
    error = reference - np.asarray(estimate, np.float64)
    return float(10 * np.log10((np.sum(reference**2) + eps) / (np.sum(error**2) + eps)))


def source_sdrs(references: np.ndarray, estimates: np.ndarray, sources: tuple[str, ...]) -> dict:
    """{source: SDR} for (..., K) arrays whose last axis follows `sources` (sources whose
    reference is silence have no SDR and are left out)."""
    return {s: sdr(references[..., k], estimates[..., k]) for k, s in enumerate(sources)
            if np.any(references[..., k])}


def errors(reference: np.ndarray, value: np.ndarray) -> dict[str, float]:
    """Max and mean absolute error, and the max error relative to max |reference|."""
    diff = np.abs(np.asarray(value, np.float64) - np.asarray(reference, np.float64))
    scale = float(np.max(np.abs(reference))) or 1.0
    return {
        "max_abs_error": float(diff.max()),
        "mean_abs_error": float(diff.mean()),
        "max_rel_error": float(diff.max()) / scale,
    }


def format_table(report: dict) -> str:
    """The printed summary of report.json."""
    lines = [
        f"export of {report['run']} ({report['family']}, {', '.join(report['sources'])}; "
        f"preset {report['preset']}, {report['audio']['sample_rate']} Hz, "
        f"chunk {report['audio']['chunk_samples']} samples); excerpt: {report['excerpt']['origin']}",
    ]
    sm = report.get("savedmodel")
    if sm:
        errs = ", ".join(f"{k} max rel err {v['max_rel_error']:.1e}" for k, v in sm["signatures"].items())
        lines.append(f"SavedModel {sm['path']} ({sm['size_bytes'] / 1e6:.2f} MB): {errs}")
    variants = report.get("tflite", {})
    if variants:
        head = (f"{'variant':<22} {'files':>5} {'size MB':>8} {'ops':>4} {'max err':>9} "
                f"{'max rel':>9} {'mean err':>9} {'SDR keras':>9} {'SDR':>7} {'dSDR':>6} "
                f"{'ms/chunk':>8} {'best':>7}")
        lines += [head, "-" * len(head)]
        for name, v in variants.items():
            lines.append(
                f"{name:<22} {len(v['files']):>5} {v['size_bytes'] / 1e6:>8.3f} {len(v['ops']):>4} "
                f"{v['max_abs_error']:>9.2e} {v['max_rel_error']:>9.2e} {v['mean_abs_error']:>9.2e} "
                f"{v['sdr_keras']:>9.2f} {v['sdr']:>7.2f} {v['sdr_change']:>+6.2f} "
                f"{v['latency_ms_per_chunk']:>8.2f} {v['latency_best_ms_per_chunk']:>7.2f}"
            )
        lines.append(
            f"ms/chunk: LiteRT, {report['threads'] or 'default'} thread(s), median and best of "
            f"{report['latency_repeats']} calls; SDR: simple SDR in dB, mean over sources"
        )
    return "\n".join(lines)
