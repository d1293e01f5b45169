"""`export_run`: a run folder -> SavedModel, TF-Lite files, manifest.json and report.json.

    OUT/
      savedmodel/                       separate_spectrogram + separate_waveform, any batch
      spectrogram-float32.tflite        magnitude patches -> masks (batches of 1, 2, 4, 8;
                                        the dynamic and int8 variants: any batch)
      waveform-float32.tflite           chunk -> stems (batch 1), STFT/iSTFT inside
      ...-float16 / -dynamic / -int8    the quantized variants
      <kind>-<variant>-<source>.tflite  dedicated U-Nets: one file per source (one file for
                                        all when masks mix the sources, as Spleeter's)
      grids.npz                         warp / unwarp matrices (presets with a frequency warp)
      manifest.json                     what the edge runner (tf-munet-edge) needs
      report.json                       sizes, ops, errors, SDR change, latency (report.py)
      index.html, web/                  with --web: the separation page (tf_munet.web.site)

Every file is checked before it is written: builtin ops only, finite outputs on the validation
excerpt, outputs compared with Keras.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError, atomic_path
from tf_munet.export import report as rpt
from tf_munet.export.excerpts import calibration_chunks, validation_excerpt
from tf_munet.export.tflite import QUANTIZE
from tf_munet.models.conditions import one_hot_conditions
from tf_munet.outputs import output_folder, replace_earlier
from tf_munet.run_dir import write_json
from tf_munet_core.masks import DEFAULT_OVERLAP
from tf_munet_core.spectra import EXTEND_TOP

FORMATS = ("savedmodel", "tflite")
KINDS = ("spectrogram", "waveform")
MANIFEST = "manifest.json"
REPORT = "report.json"
GRIDS = "grids.npz"
MANIFEST_FORMAT = "tf_munet-tflite/1"


def _conditions(graphs) -> list[np.ndarray | None]:
    """One-hot conditions of a C-U-Net (one pass per source), [None] otherwise."""
    return list(one_hot_conditions(len(graphs.sources))) if graphs.conditioned else [None]


def _feed(kind: str, x: np.ndarray, cond: np.ndarray | None) -> dict[str, np.ndarray]:
    feed = {"magnitude" if kind == "spectrogram" else "waveform": x}
    if cond is not None:
        feed["condition"] = np.broadcast_to(cond, (len(x), len(cond))).astype(np.float32)
    return feed


def _outputs(kind: str, out: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    """A graph's outputs as one array with the sources last."""
    if kind == "spectrogram":
        return np.asarray(out["masks"])
    return np.stack([np.asarray(out[n]) for n in names], axis=-1)


class _Evaluation:
    """Keras references on the excerpt, and the assembly of per-unit outputs into stems."""

    def __init__(self, graphs, excerpt):
        import tensorflow as tf

        from tf_munet.export.graphs import reference_masks, reference_waveform

        self.graphs = graphs
        self.excerpt = excerpt
        self.audio = graphs.audio
        self.conditions = _conditions(graphs)
        self.inputs = {
            "spectrogram": graphs.front.magnitude(tf.constant(excerpt.mixture)).numpy(),
            "waveform": excerpt.mixture,
        }
        self.reference: dict[tuple[str, str], list[np.ndarray]] = {}
        n = len(excerpt.mixture)
        for unit in graphs.units(split_dedicated=True):
            conds = [None if c is None else np.repeat(c[None], n, 0) for c in self.conditions]
            self.reference[("spectrogram", unit.suffix)] = [
                reference_masks(unit.network, self.audio, excerpt.mixture, c) for c in conds
            ]
            self.reference[("waveform", unit.suffix)] = [
                reference_waveform(unit.network, self.audio, excerpt.mixture, c,
                                   graphs.unit_normalization(unit))
                for c in conds
            ]
        self.keras_sdr = {kind: self._sdr(kind, self._all(kind, self.reference)) for kind in KINDS}

    def _all(self, kind: str, per_unit: dict) -> np.ndarray:
        """Concatenate units and conditions along the sources axis (the run's source order)."""
        parts = [a for unit in self.graphs.units(True) for a in per_unit[(kind, unit.suffix)]]
        return np.concatenate(parts, axis=-1)

    def _sdr(self, kind: str, outputs: np.ndarray) -> float:
        from tf_munet.export.graphs import reconstruct

        stems = outputs
        if kind == "spectrogram":
            stems = reconstruct(self.audio, self.excerpt.mixture, outputs, self.graphs.normalize)
        return float(np.mean(list(rpt.source_sdrs(self.excerpt.sources, stems, self.graphs.sources).values())))

    def score(self, kind: str, per_unit: dict) -> dict:
        """Errors against Keras and the SDR change of one variant's outputs."""
        value = self._all(kind, per_unit)
        ref = self._all(kind, self.reference)
        out = rpt.errors(ref, value)
        out["sdr_keras"] = self.keras_sdr[kind]
        out["sdr"] = self._sdr(kind, value)
        out["sdr_change"] = out["sdr"] - out["sdr_keras"]
        return out


def _check_savedmodel(path: Path, graphs, excerpt, kinds) -> dict:
    """Load the SavedModel back (tf.saved_model.load), serve its signatures on the excerpt and
    compare with Keras."""
    import tensorflow as tf

    from tf_munet.export.graphs import reference_masks, reference_waveform
    from tf_munet.export.savedmodel import endpoint_name
    from tf_munet.export.tflite import ExportError

    loaded = tf.saved_model.load(str(path))
    unit = graphs.units(split_dedicated=False)[0]
    n = len(excerpt.mixture)
    result = {}
    for kind in kinds:
        name = endpoint_name(kind, unit)
        fn = loaded.signatures[name]
        x = graphs.front.magnitude(tf.constant(excerpt.mixture)).numpy() if kind == "spectrogram" else excerpt.mixture
        refs, outs = [], []
        for cond in _conditions(graphs):
            c = None if cond is None else np.repeat(cond[None], n, 0)
            feed = {k: tf.constant(v) for k, v in _feed(kind, x, cond).items()}
            outs.append(_outputs(kind, {k: v.numpy() for k, v in fn(**feed).items()}, unit.outputs))
            refs.append(
                reference_masks(unit.network, graphs.audio, excerpt.mixture, c) if kind == "spectrogram"
                else reference_waveform(unit.network, graphs.audio, excerpt.mixture, c,
                                        graphs.unit_normalization(unit))
            )
        value = np.concatenate(outs, -1)
        if not np.all(np.isfinite(value)):
            raise ExportError(f"{path}: signature {name} returns non-finite values")
        result[name] = rpt.errors(np.concatenate(refs, -1), value)
    return result


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _representative(graphs, kind: str, chunks: np.ndarray) -> Callable:
    """The int8 calibration samples of one kind (C-U-Net: conditions cycle over the sources)."""
    import tensorflow as tf

    xs = graphs.front.magnitude(tf.constant(chunks)).numpy() if kind == "spectrogram" else chunks
    conds = _conditions(graphs)

    def samples():
        for i in range(len(xs)):
            yield _feed(kind, xs[i : i + 1], conds[i % len(conds)])

    return samples


def export_run(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    formats: tuple[str, ...] = FORMATS,
    quantize: tuple[str, ...] = tuple(QUANTIZE),
    inputs: tuple[str, ...] = KINDS,
    data: str | os.PathLike | None = None,
    stft_mode: str = "auto",
    normalize: str | None = "auto",
    calibration: int = 16,
    excerpt_chunks: int = 4,
    threads: int | None = 1,
    latency_repeats: int = 10,
    log: Callable[[str], None] | None = None,
    overwrite: bool = False,
    web: bool = False,
) -> dict:
    """Export a trained run; returns the report (also written to OUT/report.json).

    Args:
        run_dir: a run folder (config.json + model.keras).
        out: output folder (created). An earlier export in it is refused unless `overwrite`.
        formats: "savedmodel" and/or "tflite".
        quantize: TF-Lite variants among "none", "fp16", "dynamic", "int8".
        inputs: "spectrogram" and/or "waveform" graphs.
        data: MUSDB root for calibration and the validation excerpt (None: synthetic audio).
        stft_mode: "auto", "fft" or "dft" (see `dsp`).
        normalize: mask normalisation of waveform graphs (see `graphs.ExportGraphs`).
        calibration: chunks in the int8 representative dataset.
        excerpt_chunks: chunks in the validation excerpt.
        threads: LiteRT threads for the latency measurement (None: LiteRT's default).
        latency_repeats: timed calls per file.
        log: progress messages (None: silent).
        overwrite: remove an earlier export's files from `out` first (never other files).
        web: also write the separation page beside the files (`tf_munet.web.site`); the
            quantized spectrogram variants then take a fixed batch of 1 (LiteRT.js runs no
            free batch dimension).
    """
    from tf_munet.export import savedmodel
    from tf_munet.export.graphs import ExportGraphs
    from tf_munet.run_dir import load_run

    say = log or (lambda msg: None)
    for name, values, allowed in (("formats", formats, FORMATS), ("quantize", quantize, QUANTIZE),
                                  ("inputs", inputs, KINDS)):
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise UserError(f"--{name} {','.join(values)}: choose from {', '.join(allowed)}")
    if web:
        from tf_munet.web.site import check_web_folder

        if "tflite" not in formats or "spectrogram" not in inputs:
            raise UserError("--web needs the spectrogram TF-Lite files (--formats tflite, --inputs spectrogram)")
        check_web_folder()  # before any work: a missing `npm ci` fails in a second, not after the export
    out = output_folder(out)
    config, network = load_run(run_dir)
    if out.is_dir():
        replace_earlier(out, earlier_export(out), overwrite=overwrite, what="an earlier export")
    out.mkdir(parents=True, exist_ok=True)
    audio = config.preset.audio
    graphs = ExportGraphs(network, audio, config.model, config.sources, stft_mode, normalize)
    _start_fresh(out)
    say(f"validation excerpt ({excerpt_chunks} chunks of {audio.chunk_samples} samples)")
    excerpt = validation_excerpt(audio, config.sources, data, excerpt_chunks)
    evaluation = _Evaluation(graphs, excerpt)
    report: dict = {
        "run": str(Path(run_dir).resolve().name),
        "run_dir": str(Path(run_dir).resolve()),
        "family": config.model,
        "sources": list(config.sources),
        "preset": config.preset.name,
        "audio": {**config.preset.to_dict()["audio"], "chunk_samples": audio.chunk_samples},
        "stft_mode": graphs.stft_mode,
        "normalize": graphs.normalize,
        "threads": threads,
        "latency_repeats": latency_repeats,
        "excerpt": {"origin": excerpt.origin, "chunks": len(excerpt.mixture),
                    "sdr_keras": evaluation.keras_sdr},
        "sdr_definition": "10*log10(sum(s**2)/sum((s-s_hat)**2)) per source over the excerpt, "
                          "mean over sources",
    }

    if "savedmodel" in formats:
        path = out / "savedmodel"
        say(f"SavedModel -> {path}")
        signatures = savedmodel.write_savedmodel(graphs, path, kinds=inputs)
        report["savedmodel"] = {
            "path": str(path), "size_bytes": _dir_size(path), "signatures":
            _check_savedmodel(path, graphs, excerpt, inputs), "endpoints": sorted(signatures),
        }

    if "tflite" in formats:
        manifest = {
            "format": MANIFEST_FORMAT, "family": config.model, "sources": list(config.sources),
            "audio": report["audio"], "normalize": graphs.normalize, "extend_top": EXTEND_TOP,
            "overlap": DEFAULT_OVERLAP, "grids": None, "variants": {},
        }
        if audio.warp_bins:
            with atomic_path(out / GRIDS, suffix=".tmp.npz") as tmp:
                np.savez(tmp, warp=graphs.front._warp, unwarp=graphs.front._unwarp)
            manifest["grids"] = GRIDS
        cal = calibration_chunks(audio, data, calibration) if "int8" in quantize else None
        report["tflite"] = {}
        units = graphs.units(split_dedicated=True)
        with tempfile.TemporaryDirectory(prefix="tf_munet_export_") as tmp:
            for kind in inputs:
                # One small SavedModel per graph: the converter loads it twice per conversion,
                # and loading every signature each time dominated the export time.
                archives = {}
                for unit in units:
                    archives[unit.suffix] = Path(tmp) / f"{kind}-{unit.suffix or 'all'}"
                    # patches go in fixed batches (savedmodel.PATCH_BATCHES says why), or any
                    # batch for the quantized variants
                    batch = (None, *savedmodel.PATCH_BATCHES) if kind == "spectrogram" else 1
                    savedmodel.write_archive(graphs, archives[unit.suffix], batch=batch, kinds=(kind,),
                                             units=[unit])
                rep = _representative(graphs, kind, cal) if cal is not None else None
                for q in quantize:
                    name = f"{kind}-{QUANTIZE[q]}"
                    say(f"TF-Lite {name}")
                    report["tflite"][name], manifest["variants"][name] = _tflite_variant(
                        graphs, evaluation, archives, out, kind, q, units, rep, threads,
                        latency_repeats, fixed_batch=web,
                    )
        write_json(out / MANIFEST, manifest)
    if web:
        from tf_munet.web.site import write_site

        say(f"web page -> {out / 'index.html'}")
        write_site(out)
    write_json(out / REPORT, report)
    return report


def earlier_export(out: Path) -> list[Path]:
    """What an earlier export left in `out` (complete or killed): its files would otherwise sit
    beside the new ones, and a stale .tflite or SavedModel could be shipped with a new manifest."""
    from tf_munet.web.site import SITE_ENTRIES

    return [p for p in out.iterdir()
            if p.name in (MANIFEST, REPORT, GRIDS, "savedmodel", *SITE_ENTRIES) or p.suffix == ".tflite"]


def _start_fresh(out: Path) -> None:
    """Before the first write: drop an earlier export's manifest and report (written last, they
    vouch for a complete set of files, so a killed export must not inherit them) and the
    temporaries a killed export left (atomic writes use hidden `.<name>.*.tmp*` names)."""
    import shutil

    for name in (MANIFEST, REPORT):
        (out / name).unlink(missing_ok=True)
    for path in out.glob(".*"):
        if ".tmp" in path.name:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _tflite_variant(graphs, evaluation, archives, out, kind, q, units, rep, threads, repeats,
                    fixed_batch=False):
    """Convert, check, measure and write one variant (every unit); -> (report, manifest) entries.

    `fixed_batch`: quantized spectrogram variants take a fixed batch of 1 instead of a free one.
    """
    from tf_munet.export import tflite
    from tf_munet.export.savedmodel import PATCH_BATCHES, endpoint_name

    name = f"{kind}-{QUANTIZE[q]}"
    fixed = kind == "spectrogram" and q in ("none", "fp16")  # see PATCH_BATCHES
    batches = PATCH_BATCHES if fixed else (1,) if kind == "spectrogram" and fixed_batch else None
    outputs, files, models, ops = {}, [], [], set()
    size, latency, best, calls, seconds = 0, 0.0, 0.0, 0, 0.0
    for unit in units:
        t0 = time.perf_counter()
        signatures = ({b: endpoint_name(kind, unit, b) for b in batches} if batches
                      else {1: endpoint_name(kind, unit)})
        model = tflite.convert(archives[unit.suffix], tuple(signatures.values()), q, rep)
        seconds += time.perf_counter() - t0
        file = f"{name}-{unit.suffix}.tflite" if unit.suffix else f"{name}.tflite"
        unit_ops = tflite.op_names(model)
        tflite.check_builtin_only(unit_ops, file)
        runner = tflite.Runner(model, threads, signatures[1])
        per_cond = []
        for cond in evaluation.conditions:
            feeds = [_feed(kind, evaluation.inputs[kind][i : i + 1], cond)
                     for i in range(len(evaluation.excerpt.mixture))]
            results = tflite.verify(runner, feeds, file)
            per_cond.append(np.concatenate([_outputs(kind, r, unit.outputs) for r in results]))
        outputs[(kind, unit.suffix)] = per_cond
        median_one, best_one = runner.latency(feeds[0], repeats)
        latency += median_one * len(evaluation.conditions)
        best += best_one * len(evaluation.conditions)
        calls += len(evaluation.conditions)
        tflite.write_tflite(out / file, model)
        files.append(file)
        size += len(model)
        ops |= set(unit_ops)
        models.append({
            "file": file, "signature": runner.signature, "inputs": runner.inputs,
            **({"batches": {str(b): sig for b, sig in signatures.items()}} if batches else {}),
            "outputs": list(unit.outputs) if kind == "waveform" else ["masks"],
            "sources": [unit.suffix] if unit.suffix else list(graphs.sources),
            "conditioned": unit.conditioned,
            "normalized": graphs.unit_normalization(unit) if kind == "waveform" else None,
        })
    entry = {
        "input": kind, "quantize": QUANTIZE[q], "files": files, "size_bytes": size,
        "ops": sorted(ops), "conversion_s": round(seconds, 2),
        **evaluation.score(kind, outputs),
        "latency_ms_per_call": 1e3 * latency / calls, "latency_ms_per_chunk": 1e3 * latency,
        "latency_best_ms_per_chunk": 1e3 * best, "calls_per_chunk": calls,
    }
    return entry, {"input": kind, "quantize": QUANTIZE[q], "models": models}
