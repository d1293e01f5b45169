"""Side-by-side measurements the notebooks show: what each model family costs to run, how an
export's TF-Lite files compare with Keras, and small markdown tables of both.

- `model_costs`: parameters, FLOPs and separation time of M-U-Net, dedicated U-Nets and C-U-Net
  for one preset (the cost of a forward pass does not depend on the weights, so the networks
  may be untrained; pass run folders to time trained ones).
- `export_sizes`: one row per TF-Lite variant of an export report (size, error, latency).
- `keras_vs_litert`: runs exported .tflite files with LiteRT on real audio, chunk by chunk, next
  to the same computation in Keras/TF, and returns both outputs and their latencies.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tf_munet.errors import UserError
from tf_munet.registry import FAMILIES

if TYPE_CHECKING:
    from tf_munet.presets import Preset

PathLike = str | os.PathLike


def _best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of `fn` over `repeats` calls after one warm-up call (tracing, caches).

    The best, not the median: on a shared machine it is the number that repeats.
    """
    fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times))


def markdown_table(rows: Sequence[Mapping], columns: Mapping[str, str] | None = None, digits: int = 3) -> str:
    """Rows of dicts as a markdown table (floats rounded to `digits` significant digits).

    Args:
        columns: key -> header, in order (default: the first row's keys).
    """
    if not rows:
        return ""
    columns = dict(columns or {k: k for k in rows[0]})

    def cell(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
        if isinstance(value, int) and abs(value) >= 10_000:
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(k)) for k in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- model costs


def model_costs(
    preset: "str | Preset" = "cunet",
    sources: str | Sequence[str] = "4stems",
    families: Sequence[str] = tuple(FAMILIES),
    runs: Mapping[str, PathLike] | None = None,
    seconds: float = 30.0,
    rate: int = 44100,
    channels: int = 2,
    repeats: int = 3,
    seed: int = 0,
) -> list[dict]:
    """Cost of separating `seconds` of audio with each model family.

    Args:
        preset: preset name or `Preset` of the freshly built (untrained) networks.
        sources: source set of those networks.
        families: model families to build.
        runs: label -> trained run folder, measured instead of `families` when given.
        seconds, rate, channels: the audio separated (a synthetic mixture).
        repeats: timed separations per model (best reported, after one warm-up).

    Returns:
        One dict per model: label, family, params, passes (network calls per patch: K for
        C-U-Net, which runs once per source), gflops_per_patch (all passes), network_ms_per_patch
        (the network alone on one patch, all passes, batch 1), separation_s (the whole
        `Separator.separate`: resampling, STFTs, network, mask mapping), realtime_factor (audio
        seconds per second of separation), and the preset.
    """
    import tensorflow as tf

    from tf_munet.data.synthetic import synthetic_stems
    from tf_munet.models import all_source_masks, build_model, count_flops, count_params
    from tf_munet.presets import get_preset, resolve_sources
    from tf_munet.separation import Separator

    mixture = synthetic_stems(seed, seconds, rate, channels)["mixture"]
    if runs:
        separators = {label: Separator.load(path) for label, path in runs.items()}
    else:
        p = get_preset(preset) if isinstance(preset, str) else preset
        names = resolve_sources(sources)
        separators = {FAMILIES[f].label: Separator(build_model(p, f, names), p, names, f)
                      for f in families}
    rows = []
    for label, sep in separators.items():
        passes = FAMILIES[sep.family].passes_per_separation(len(sep.sources))
        elapsed = _best_seconds(lambda: sep.separate(mixture, rate), repeats)
        a = sep.preset.audio
        patch = tf.zeros((1, a.model_bins, a.frames, a.channels))
        forward = tf.function(functools.partial(all_source_masks, sep.network))
        network_s = _best_seconds(lambda: forward(patch), max(5, repeats))
        rows.append({
            "label": label, "family": sep.family, "preset": sep.preset.name,
            "params": int(count_params(sep.trained_network)), "passes": passes,
            "gflops_per_patch": passes * count_flops(sep.trained_network) / 1e9,
            "network_ms_per_patch": 1e3 * network_s,
            "separation_s": elapsed, "realtime_factor": seconds / elapsed,
        })
    return rows


COST_COLUMNS = {
    "label": "model", "preset": "preset", "params": "parameters", "passes": "passes per patch",
    "gflops_per_patch": "GFLOP per patch", "network_ms_per_patch": "network ms per patch",
    "separation_s": "separation time (s)",
    "realtime_factor": "x real time",
}
"""Headers for `markdown_table(model_costs(...), COST_COLUMNS)`."""


# ----------------------------------------------------------------------------- evaluations


def sdr_rows(summary: Mapping, protocol: str | None = None) -> list[dict]:
    """One row per separator of an evaluation summary (`tf_munet.evaluation.evaluate`): its SDR
    per source and over all (track, source) pairs, in dB.

    museval rows hold medians over tracks (the field's convention), paper rows means (the
    paper's); `protocol` None takes the summary's first protocol.

    Returns:
        [{"separator": label, source: SDR or None, ..., "all": SDR}, ...]
    """
    protocol = protocol or summary["protocols"][0]
    if protocol not in summary["results"]:
        raise UserError(f"protocol {protocol!r} not in this evaluation ({', '.join(summary['protocols'])})")
    statistic = "median" if protocol == "museval" else "mean"
    rows = []
    for label, table in summary["results"][protocol].items():
        row = {"separator": label}
        row.update({source: stats["SDR"][statistic] for source, stats in table.items()})
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- exports


def export_sizes(report: Mapping, keras_ms: Mapping[str, float] | None = None) -> list[dict]:
    """One row per TF-Lite variant of an export report (`tf_munet.export.export_run`).

    Sizes are also given relative to the float32 file of the same input kind.

    Args:
        keras_ms: optional {input kind: Keras/TF ms per chunk} (from `keras_vs_litert`) to put
            next to LiteRT's latency.
    """
    variants = report.get("tflite") or {}
    float32 = {v["input"]: v["size_bytes"] for v in variants.values() if v["quantize"] == "float32"}
    rows = []
    for name, v in variants.items():
        base = float32.get(v["input"])
        rows.append({
            "variant": name, "input": v["input"], "quantize": v["quantize"],
            "files": len(v["files"]), "size_mb": v["size_bytes"] / 1e6,
            "size_vs_float32": v["size_bytes"] / base if base else None,
            "max_rel_error": v["max_rel_error"], "sdr_change_db": v["sdr_change"],
            "litert_ms_per_chunk": v.get("latency_best_ms_per_chunk", v["latency_ms_per_chunk"]),
            "keras_ms_per_chunk": (keras_ms or {}).get(v["input"]),
        })
    return rows


EXPORT_COLUMNS = {
    "variant": "variant", "size_mb": "size (MB)", "size_vs_float32": "x float32 size",
    "max_rel_error": "max rel. error vs Keras", "sdr_change_db": "SDR change (dB)",
    "litert_ms_per_chunk": "LiteRT ms/chunk", "keras_ms_per_chunk": "Keras ms/chunk",
}
"""Headers for `markdown_table(export_sizes(...), EXPORT_COLUMNS)`."""


@dataclass
class LiteRTComparison:
    """What `keras_vs_litert` measured.

    Attributes:
        rows: one dict per variant: variant, input, max_abs_error, max_rel_error (vs Keras, on
            the variant's outputs: masks or stems), litert_ms_per_chunk, keras_ms_per_chunk.
        rate: the model's sample rate (of every waveform below).
        mixture: (samples, C) the input at the model's rate and channels, whole chunks.
        keras: {source: (samples, C)} Keras stems.
        litert: {variant: {source: (samples, C)}} LiteRT stems.
    """

    rows: list[dict]
    rate: int
    mixture: np.ndarray
    keras: dict[str, np.ndarray]
    litert: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def keras_ms(self) -> dict[str, float]:
        """{input kind: Keras ms per chunk} for `export_sizes(report, keras_ms=...)`."""
        return {r["input"]: r["keras_ms_per_chunk"] for r in self.rows}


def _model_chunks(mixture: np.ndarray, rate: int, audio, max_chunks: int | None) -> np.ndarray:
    """(n, chunk_samples, C) chunks of the input at the model's rate (last one zero-padded)."""
    from tf_munet.data.audio_io import resample, to_channels

    x = np.asarray(mixture, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    x = np.asarray(resample(to_channels(x, audio.channels), rate, audio.sample_rate), np.float32)
    n = audio.chunk_samples
    count = max(1, -(-len(x) // n))
    if max_chunks:
        count = min(count, max_chunks)
    x = np.pad(x, ((0, max(0, count * n - len(x))), (0, 0)))[: count * n]
    return x.reshape(count, n, audio.channels)


def _stems(chunks: np.ndarray, sources) -> dict[str, np.ndarray]:
    """(n, L, C, K) chunk outputs -> {source: (n * L, C)}."""
    n, length, c, _ = chunks.shape
    return {s: chunks[..., k].reshape(n * length, c) for k, s in enumerate(sources)}


def keras_vs_litert(
    run_dir: PathLike,
    export_dir: PathLike,
    mixture: np.ndarray,
    rate: int,
    variants: Sequence[str] | None = None,
    max_chunks: int | None = 16,
    repeats: int = 10,
    threads: int | None = 1,
) -> LiteRTComparison:
    """Run an export's .tflite files with LiteRT on `mixture` and compare with Keras.

    The input is converted to the model's rate and channels and cut into chunks of the exported
    length; every chunk goes through each variant (batch 1, as exported) and through the same
    computation in Keras/TF (`tf_munet.export.graphs`): spectrogram-in files are compared on
    masks, waveform-in files on stems. Latency is the best of `repeats` calls on one chunk for
    both (the Keras side is the export's own tf.function, so both run the same graph).

    Args:
        run_dir: the exported run (config.json + model.keras).
        export_dir: `python -m tf_munet.export` output (manifest.json + .tflite files).
        mixture: (samples,) or (samples, channels) at `rate`.
        variants: manifest variant names such as "waveform-float32" (default: all).
        max_chunks: at most this many chunks from the start of the input.
        threads: LiteRT threads (1 matches the export report's latency).
    """
    import json

    import tensorflow as tf

    from tf_munet.export.graphs import ExportGraphs, reconstruct, reference_masks, reference_waveform
    from tf_munet.export.tflite import Runner
    from tf_munet.models import one_hot_conditions
    from tf_munet.run_dir import load_run

    export_dir = Path(export_dir)
    manifest_path = export_dir / "manifest.json"
    if not manifest_path.is_file():
        raise UserError(f"{manifest_path}: not found (export the run with --formats tflite first)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    names = list(manifest["variants"]) if variants is None else list(variants)
    unknown = [v for v in names if v not in manifest["variants"]]
    if unknown:
        raise UserError(f"{manifest_path}: no variant {unknown[0]!r} (has {', '.join(manifest['variants'])})")
    config, network = load_run(run_dir)
    audio, sources = config.preset.audio, tuple(config.sources)
    if tuple(manifest["sources"]) != sources:
        raise UserError(f"{export_dir}: exported sources {manifest['sources']} differ from "
                        f"{run_dir}'s {list(sources)}")
    normalize = manifest.get("normalize")
    graphs = ExportGraphs(network, audio, config.model, sources, normalize=normalize)
    units = {u.suffix: u for u in graphs.units(split_dedicated=True)}
    chunks = _model_chunks(mixture, rate, audio, max_chunks)
    magnitudes = graphs.front.magnitude(tf.constant(chunks)).numpy()
    eye = one_hot_conditions(len(sources))

    def unit_of(model: dict):
        return units[model["sources"][0] if len(units) > 1 else ""]

    def conditions(model: dict) -> list[np.ndarray | None]:
        return list(eye) if model["conditioned"] else [None]

    def keras_outputs(kind: str, model: dict) -> np.ndarray:
        """(n, ..., K') Keras outputs of one file's unit, conditions concatenated."""
        unit, outs = unit_of(model), []
        for cond in conditions(model):
            c = None if cond is None else np.repeat(cond[None], len(chunks), 0)
            if kind == "spectrogram":
                outs.append(reference_masks(unit.network, audio, chunks, c))
            else:
                outs.append(reference_waveform(unit.network, audio, chunks, c,
                                               graphs.unit_normalization(unit)))
        return np.concatenate(outs, -1)

    def keras_latency(kind: str, models: list[dict]) -> float:
        calls = []
        for model in models:
            unit = unit_of(model)
            fn = (graphs.spectrogram_function(unit, batch=1) if kind == "spectrogram"
                  else graphs.waveform_function(unit, batch=1))
            x = tf.constant(magnitudes[:1] if kind == "spectrogram" else chunks[:1])
            for cond in conditions(model):
                args = (x,) if cond is None else (x, tf.constant(cond[None]))
                calls.append(lambda fn=fn, args=args: fn(*args))
        return _best_seconds(lambda: [c() for c in calls], repeats)

    def litert_outputs(kind: str, model: dict) -> tuple[np.ndarray, float]:
        """(n, ..., K') LiteRT outputs of one file (conditions concatenated), seconds per chunk."""
        runner = Runner(export_dir / model["file"], threads, model["signature"])
        x = magnitudes if kind == "spectrogram" else chunks
        outs, seconds = [], 0.0
        for cond in conditions(model):
            feeds = [{"magnitude" if kind == "spectrogram" else "waveform": x[i : i + 1]}
                     for i in range(len(chunks))]
            if cond is not None:
                for feed in feeds:
                    feed["condition"] = cond[None]
            results = [runner(**feed) for feed in feeds]
            outs.append(np.concatenate([
                r["masks"] if kind == "spectrogram" else np.stack([r[o] for o in model["outputs"]], -1)
                for r in results
            ]))
            seconds += _best_seconds(lambda feed=feeds[0]: runner(**feed), repeats)
        return np.concatenate(outs, -1), seconds

    rows, litert_stems, keras_stems = [], {}, {}
    reference_cache: dict[tuple[str, str], np.ndarray] = {}
    keras_ms: dict[str, float] = {}
    for name in names:
        variant = manifest["variants"][name]
        kind, models = variant["input"], variant["models"]
        values, references, seconds = [], [], 0.0
        for model in models:
            value, s = litert_outputs(kind, model)
            values.append(value)
            seconds += s
            key = (kind, unit_of(model).suffix)
            if key not in reference_cache:
                reference_cache[key] = keras_outputs(kind, model)
            references.append(reference_cache[key])
        value, reference = np.concatenate(values, -1), np.concatenate(references, -1)
        if kind not in keras_ms:
            keras_ms[kind] = 1e3 * keras_latency(kind, models)
        diff = np.abs(value.astype(np.float64) - reference)
        scale = float(np.max(np.abs(reference))) or 1.0
        rows.append({
            "variant": name, "input": kind, "max_abs_error": float(diff.max()),
            "max_rel_error": float(diff.max()) / scale,
            "litert_ms_per_chunk": 1e3 * seconds, "keras_ms_per_chunk": keras_ms[kind],
        })
        if kind == "spectrogram":  # masks -> stems the way Keras' stems are made
            value = reconstruct(audio, chunks, value, normalize)
            reference = reconstruct(audio, chunks, reference, normalize)
        litert_stems[name] = _stems(value, sources)
        if not keras_stems or kind == "waveform":
            keras_stems = _stems(reference, sources)
    mix = chunks.reshape(-1, audio.channels)
    return LiteRTComparison(rows, audio.sample_rate, mix, keras_stems, litert_stems)


COMPARE_COLUMNS = {
    "variant": "variant", "max_abs_error": "max abs. error", "max_rel_error": "max rel. error",
    "litert_ms_per_chunk": "LiteRT ms/chunk", "keras_ms_per_chunk": "Keras ms/chunk",
}
"""Headers for `markdown_table(comparison.rows, COMPARE_COLUMNS)`."""


__all__ = [
    "markdown_table", "model_costs", "sdr_rows", "COST_COLUMNS", "export_sizes", "EXPORT_COLUMNS",
    "keras_vs_litert", "LiteRTComparison", "COMPARE_COLUMNS",
]
