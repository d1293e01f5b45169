"""Scoring separators on MUSDB-layout test sets: the field's protocol and the paper's.

Protocols (the field's and the paper's; README, "Evaluate"):
- "museval": BSS Eval v4 (museval) at the tracks' rate and channels (MUSDB18: 44.1 kHz stereo),
  1 s windows; per track the median over frames (NaN frames, silent references, skipped), then
  the median over tracks. SDR, SIR, SAR, ISR.
- "paper": the M-U-Net authors' own pipeline and metric (`tf_munet.paper_protocol`): mono at
  the model's rate, non-overlapping chunks separated with the raw masks, clipped to [-1, 1],
  mir_eval v3 `bss_eval_sources(compute_permutation=False)`, one value per full track; mean,
  std and median over tracks. SDR, SIR, SAR. Silent reference sources are left out of a
  track's call (NaN for them).
- "usdr": the SDR of the MDX challenges ("new SDR", utterance-level SDR):
  10 log10((sum s^2 + eps) / (sum (s - s_hat)^2 + eps)) over the whole track at the tracks' rate
  and channels, eps = 1e-7; no projection, so no filters to fit: instant. Mean ± std (median)
  over tracks. It is what recent systems (Demucs, the MDX leaderboards) report beside BSS Eval.
The "all" row pools every (track, source) value: median for museval, mean ± std (median) for
the paper protocol (the paper's "overall" mean is the mean of the per-source means).

Separators: a trained run, and two references included in every table (`references=False`
drops them): "oracle", the ideal ratio mask on the run's preset grid mapped onto the input like
the model's masks (the ceiling of a mask model with that preset), and "mixture", every stem = the
mixture / K (the floor).

Results are cached per track in OUT/tracks/<track>.json, keyed by a fingerprint of each
separator (config, model file, options) so an interrupted evaluation resumes and a finished one
is reused; tracks run in parallel processes (`jobs`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError, safe_child
from tf_munet.outputs import output_folder, replace_earlier
from tf_munet.presets import SOURCE_STEMS, get_preset
from tf_munet.run_dir import CONFIG, MODEL, write_json
from tf_munet.separation import DEFAULT_OVERLAP

PROTOCOLS = ("museval", "paper", "usdr")
REFERENCES = ("oracle", "mixture")
METRICS = {"museval": ("SDR", "SIR", "SAR", "ISR"), "paper": ("SDR", "SIR", "SAR"), "usdr": ("SDR",)}
USDR_EPS = 1e-7
MIN_SCORE_SAMPLES = 1024
"""Shortest track scored (at the rate a protocol scores at): BSS Eval fits 512-tap distortion
filters, and shorter signals give meaningless (even infinite) values."""


# ----------------------------------------------------------------------------- separator specs


@dataclass(frozen=True)
class SeparatorSpec:
    """A picklable description of a separator (worker processes build their own from it).

    Attributes:
        label: name in tables.
        kind: "run", "oracle" or "mixture".
        sources: source names.
        preset: preset dict (oracle: its grid; run: from config.json).
        run_dir: the run folder (kind "run").
        options: `MaskSeparator` options (wiener, block_seconds, batch_size, ...).
        key: fingerprint of everything that changes its scores.
    """

    label: str
    kind: str
    sources: tuple[str, ...]
    preset: dict
    run_dir: str | None = None
    options: dict = field(default_factory=dict)
    key: str = ""

    @property
    def model_rate(self) -> int:
        return int(self.preset["audio"]["sample_rate"])

    def describe(self) -> str:
        a = self.preset["audio"]
        if self.kind == "oracle":
            return (f"ideal ratio mask on the {self.preset['name']} grid ({a['sample_rate']} Hz, "
                    f"n_fft {a['n_fft']}, hop {a['hop']}), mapped onto the input")
        if self.kind == "mixture":
            return f"mixture / {len(self.sources)} for every source"
        opts = ", ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"run {self.run_dir} ({self.preset['name']}, {a['sample_rate']} Hz){'; ' + opts if opts else ''}"


SCORING_VERSION = 2
"""Part of every cache key: raised when a protocol's pipeline changes (2: the paper protocol
separates raw-mask chunks at the model's rate), so older cached scores are recomputed."""


def _fingerprint(data: dict) -> str:
    body = {**data, "scoring": SCORING_VERSION}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_spec(run_dir: str | os.PathLike, options: dict | None = None, label: str | None = None) -> SeparatorSpec:
    """Spec of a trained run folder (reads config.json only; the network loads in `build`)."""
    from tf_munet.run_dir import load_run_config

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    model = run_dir / MODEL
    if not model.is_file():
        raise UserError(f"{model}: model file not found")
    stat = model.stat()
    options = dict(options or {})
    keyed = dict(options)
    if keyed.get("overlap", DEFAULT_OVERLAP) != 0.5:  # results cached before 0.25 was the
        keyed["overlap"] = keyed.get("overlap", DEFAULT_OVERLAP)  # default keep their keys
    else:
        keyed.pop("overlap", None)
    key = _fingerprint({
        "kind": "run", "config": json.loads((run_dir / CONFIG).read_text()),
        "model": [stat.st_size, stat.st_mtime_ns], "options": keyed,
    })
    label = label or run_dir.resolve().name
    if label in REFERENCES:
        label = f"{label} (run)"
    return SeparatorSpec(label, "run", tuple(config.sources), config.preset.to_dict(),
                         str(run_dir), options, key)


def reference_spec(kind: str, preset: dict, sources: tuple[str, ...], options: dict | None = None) -> SeparatorSpec:
    """Spec of a built-in reference ("oracle" or "mixture") for a preset's grid and sources."""
    if kind not in REFERENCES:
        raise UserError(f"unknown reference separator {kind!r}; use one of {', '.join(REFERENCES)}")
    options = dict(options or {}) if kind == "oracle" else {}
    body = {"kind": kind, "sources": list(sources), "audio": preset["audio"], "options": options}
    return SeparatorSpec(kind, kind, tuple(sources), preset, None, options, _fingerprint(body))


def build(spec: SeparatorSpec):
    """The separator object of a spec (loads the network for runs)."""
    from tf_munet.presets import Preset
    from tf_munet.separation import MixtureSeparator, OracleSeparator, Separator

    if spec.kind == "mixture":
        return MixtureSeparator(spec.sources)
    if spec.kind == "oracle":
        return OracleSeparator(Preset.from_dict(spec.preset), spec.sources, **spec.options)
    return Separator.load(spec.run_dir, name=spec.label, **spec.options)


# ----------------------------------------------------------------------------- scoring


def _references(stems: dict[str, np.ndarray], sources) -> dict[str, np.ndarray]:
    missing = [s for s in sources if s not in SOURCE_STEMS]
    if missing:
        raise UserError(f"sources {', '.join(missing)}: no MUSDB18 stem holds them alone; "
                        "evaluate a run without them")
    return {s: sum(stems[stem] for stem in SOURCE_STEMS[s]) for s in sources}


def score_museval(refs: np.ndarray, ests: np.ndarray, rate: int) -> list[dict[str, float]]:
    """BSS Eval v4 of (K, samples, channels) arrays: per source the median over 1 s frames.

    All-silent reference sources are left out of the call (museval refuses them): NaN scores.
    """
    import museval

    nan = {"SDR": float("nan"), "SIR": float("nan"), "SAR": float("nan"), "ISR": float("nan")}
    out = [dict(nan) for _ in range(refs.shape[0])]
    live = [k for k in range(refs.shape[0]) if np.any(refs[k] != 0)]
    if not live:
        return out
    sdr, isr, sir, sar = museval.evaluate(refs[live], _audible(ests[live]), win=int(rate),
                                          hop=int(rate), mode="v4")
    for i, k in enumerate(live):
        for name, m in (("SDR", sdr), ("SIR", sir), ("SAR", sar), ("ISR", isr)):
            frames = np.asarray(m[i], np.float64)
            frames = frames[np.isfinite(frames)]
            out[k][name] = float(np.median(frames)) if frames.size else float("nan")
    return out


def _audible(ests: np.ndarray) -> np.ndarray:
    """BSS Eval refuses all-zero estimates: score them as near-silence (1e-9 white noise)."""
    silent = [k for k in range(len(ests)) if not np.any(ests[k] != 0)]
    if not silent:
        return ests
    ests = np.array(ests, np.float64)
    rng = np.random.default_rng(0)
    for k in silent:
        ests[k] = 1e-9 * rng.standard_normal(ests[k].shape)
    return ests


def score_paper(spec: SeparatorSpec, separator, track, refs: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """The paper protocol on one track (see `tf_munet.paper_protocol`), with the network the
    spec's separator already holds."""
    from tf_munet import paper_protocol as pp
    from tf_munet.presets import Preset

    audio = Preset.from_dict(spec.preset).audio
    rate = audio.sample_rate
    mix = pp.mono_at(track.mixture, track.rate, rate)
    r = np.stack([pp.mono_at(refs[s], track.rate, rate) for s in spec.sources])
    if spec.kind == "mixture":
        masks = pp.mixture_masks(len(spec.sources))
    elif spec.kind == "oracle":
        masks = pp.oracle_masks(r, audio)
    else:
        masks = pp.network_masks(separator.network, audio)
    return pp.score(r, pp.separate_chunks(mix, audio, masks))


def score_usdr(refs: np.ndarray, ests: np.ndarray) -> list[dict[str, float]]:
    """The MDX challenges' SDR of (K, samples, channels) arrays, one value per source (NaN for a
    silent reference, as the other protocols)."""
    n = min(refs.shape[1], ests.shape[1])
    r, e = refs[:, :n].astype(np.float64), ests[:, :n].astype(np.float64)
    out = []
    for k in range(len(r)):
        if not np.any(r[k] != 0):
            out.append({"SDR": float("nan")})
            continue
        num, den = np.sum(r[k] ** 2) + USDR_EPS, np.sum((r[k] - e[k]) ** 2) + USDR_EPS
        out.append({"SDR": float(10 * np.log10(num / den))})
    return out


SEPARATED = ("museval", "usdr")
"""Protocols that score the separator's stems at the track's rate (the paper's runs its own)."""


def track_steps(todo: dict[str, list[str]]) -> int:
    """Progress steps of one track: per separator, its separation and each protocol."""
    return sum(len(p) + any(x in SEPARATED for x in p) for p in todo.values())


def evaluate_track(ref, separators: list[tuple[SeparatorSpec, object]], todo: dict[str, list[str]],
                   step=None) -> dict:
    """Scores of one track for the (separator label -> protocols) in `todo`.

    `step(text)`, if given, is called after each separation and each protocol's scoring (a
    museval pass over a full track takes tens of seconds: progress shows which one runs).
    Returns {label: {"key": ..., protocol: {source: {metric: value}}}} for those entries.
    """
    step = step or (lambda text: None)
    from tf_munet.data.musdb_io import load_track

    track = load_track(ref)
    results: dict[str, dict] = {}
    for spec, separator in separators:
        protocols = todo.get(spec.label)
        if not protocols:
            continue
        need = math.ceil(MIN_SCORE_SAMPLES * max(1.0, track.rate / spec.model_rate))
        if len(track.mixture) < need:
            raise UserError(f"track {ref.name!r} [{ref.subset}] ({ref.files()['mixture']}): too short to "
                            f"score ({len(track.mixture)} samples; BSS Eval needs {need} at {track.rate} Hz)")
        refs = _references(track.stems, spec.sources)
        entry, stems = {"key": spec.key}, None
        for protocol in protocols:
            if protocol in SEPARATED:
                if stems is None:  # the separator's stems at the track's rate, once
                    kwargs = {"references": refs} if spec.kind == "oracle" else {}
                    est = separator.separate(track.mixture, track.rate, **kwargs)
                    stems = (np.stack([refs[s] for s in spec.sources]),
                             np.stack([est[s] for s in spec.sources]))
                    step(f"{spec.label}: separated")
                r, e = stems
                scores = score_museval(r, e, track.rate) if protocol == "museval" else score_usdr(r, e)
            else:
                scores = score_paper(spec, separator, track, refs)
            entry[protocol] = dict(zip(spec.sources, scores))
            step(f"{spec.label}: {protocol}")
        results[spec.label] = entry
    return {"track": ref.name, "subset": ref.subset, "rate": track.rate,
            "seconds": round(len(track.mixture) / track.rate, 3), "results": results}


# ----------------------------------------------------------------------------- cache and jobs


def _track_file(out: Path, name: str) -> Path:
    return safe_child(out / "tracks", f"{name}.json")


def _load_cached(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _missing(cached: dict, specs: list[SeparatorSpec], protocols) -> dict[str, list[str]]:
    """{label: protocols} still to compute for a track given its cached JSON."""
    todo = {}
    results = cached.get("results", {})
    for spec in specs:
        entry = results.get(spec.label, {})
        same = entry.get("key") == spec.key
        need = [p for p in protocols if not same or p not in entry]
        if need:
            todo[spec.label] = list(protocols) if not same else need
    return todo


def _merge(cached: dict, new: dict) -> dict:
    merged = dict(cached)
    merged.update({k: v for k, v in new.items() if k != "results"})
    results = dict(cached.get("results", {}))
    for label, entry in new["results"].items():
        old = results.get(label, {})
        results[label] = {**old, **entry} if old.get("key") == entry["key"] else entry
    merged["results"] = results
    return merged


_WORKER: dict = {}


def _claim(out: Path, specs: list[SeparatorSpec], root, subset: str, overwrite: bool) -> None:
    """Refuse to mix this evaluation with another one cached in `out` (see `evaluate`).

    It is the same evaluation when every trained run cached there is among `specs` with the same
    key, shared labels (references) have the same key, and the summary's root and subset match:
    then the cache resumes it. Reference rows cached for the same grid are reused by any run.
    """
    files = sorted((out / "tracks").glob("*.json")) if (out / "tracks").is_dir() else []
    summary = _load_cached(out / "summary.json")
    cached = dict((summary.get("separators") or {}).items())
    cached = {label: info.get("key") for label, info in cached.items()}
    for path in files:
        for label, entry in _load_cached(path).get("results", {}).items():
            cached.setdefault(label, entry.get("key"))
    keys = {s.label: s.key for s in specs}
    other = [label for label, key in cached.items()
             if keys.get(label, key if label in REFERENCES else None) != key]
    if summary.get("subset") not in (None, subset):
        other.append(f"the {summary['subset']} subset")
    if summary.get("root") and root and Path(summary["root"]).resolve() != Path(root).resolve():
        other.append(f"tracks of {summary['root']}")
    if other:
        earlier = [p for p in (out / "tracks", out / "summary.json", out / "summary.md") if p.exists()]
        replace_earlier(out, earlier, overwrite=overwrite,
                        what=f"another evaluation (of {', '.join(other)})")


def _init_worker(specs: list[SeparatorSpec], threads: int) -> None:
    """Worker process: limit TF threads to its share of the cores, then build the separators."""
    from tf_munet.quiet import quiet_tensorflow
    from tf_munet_core.cli import quiet_warnings

    quiet_tensorflow()
    quiet_warnings()  # as the command that started it (--debug: every warning)
    if any(s.kind != "mixture" for s in specs):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    _WORKER["separators"] = [(s, build(s)) for s in specs]


def _work(task):
    ref, todo = task
    return evaluate_track(ref, _WORKER["separators"], todo)


# ----------------------------------------------------------------------------- driver


def evaluate(
    specs: list[SeparatorSpec],
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    subset: str = "test",
    protocols: tuple[str, ...] = ("museval",),
    jobs: int = 1,
    tracks: list[str] | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Evaluate `specs` on a MUSDB-layout root; write OUT/tracks/*.json, summary.json, summary.md.

    An OUT that holds another evaluation (another model or options, data root or subset) is
    refused unless `overwrite`, which removes it first; the same evaluation resumes from it.
    Returns the summary dict, with "computed" = number of tracks that needed work this call.
    """
    from tqdm import tqdm

    from tf_munet.data.musdb_io import find_tracks

    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise UserError(f"--protocol {','.join(bad) or '(none)'}: use {', '.join(PROTOCOLS)}")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise UserError(f"separator labels must be unique, got {labels}")
    out = output_folder(out)
    refs = find_tracks(root, subset)
    if out.is_dir():
        _claim(out, specs, root, subset, overwrite)
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails before any work
    if tracks:
        unknown = sorted(set(tracks) - {r.name for r in refs})
        if unknown:
            raise UserError(f"--track {unknown[0]!r}: not in {root}/{subset}")
        refs = [r for r in refs if r.name in tracks]
    cached = {r.name: _load_cached(_track_file(out, r.name)) for r in refs}
    tasks = [(r, _missing(cached[r.name], specs, protocols)) for r in refs]
    tasks = [t for t in tasks if t[1]]
    if tasks:
        needed = sorted({label for _, todo in tasks for label in todo})
        active = [s for s in specs if s.label in needed]
        # a bar redrawn on a terminal; elsewhere (log files) one line per track
        terminal = sys.stderr.isatty()
        done = iter(range(1, len(tasks) + 1))

        def log(track: str) -> None:
            print(f"[{next(done)}/{len(tasks)}] {track}: evaluated", file=sys.stderr, flush=True)

        log = log if progress and not terminal else None
        bar = tqdm(total=sum(track_steps(todo) for _, todo in tasks), unit="step",
                   disable=not progress or not terminal, desc=f"evaluating {len(tasks)} tracks", dynamic_ncols=True,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                   "[{elapsed}<{remaining}] {postfix}")
        with bar:
            if jobs <= 1 or len(tasks) == 1:
                separators = [(s, build(s)) for s in active]

                def step(track: str):
                    def done(text: str) -> None:
                        bar.set_postfix_str(f"{track[:30]} · {text}", refresh=False)
                        bar.update()
                    return done

                results = (evaluate_track(r, separators, todo, step(r.name)) for r, todo in tasks)
                _collect(results, cached, out, None, log)
            else:
                import multiprocessing as mp

                workers = min(jobs, len(tasks))
                threads = max(1, (os.cpu_count() or 1) // workers)
                ctx = mp.get_context("spawn")
                with _thread_env(threads), ctx.Pool(
                    workers, initializer=_init_worker, initargs=(active, threads)
                ) as pool:
                    _collect(pool.imap_unordered(_work, tasks), cached, out, bar, log)
    summary = summarize(specs, [cached[r.name] for r in refs], protocols)
    summary.update({"root": str(root), "subset": subset, "computed": len(tasks)})
    write_summary(out, summary)
    return summary


@contextmanager
def _thread_env(threads: int):
    """Spawned workers inherit these: numpy/scipy BLAS (museval) gets its share of the cores."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({n: str(threads) for n in names})
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def _collect(results, cached: dict, out: Path, bar, log=None) -> None:
    """Merge and write each track's results; `bar` (parallel jobs) advances a track at a time,
    `log(name)` prints a line per track (progress outside a terminal)."""
    for result in results:
        name = result["track"]
        cached[name] = _merge(cached[name], result)
        write_json(_track_file(out, name), cached[name])
        if log is not None:
            log(name)
        if bar is not None:
            bar.set_postfix_str(name[:40], refresh=False)
            bar.update(track_steps({k: [p for p in v if p != "key"]
                                    for k, v in result["results"].items()}))


# ----------------------------------------------------------------------------- summaries


def _stats(values: list[float]) -> dict[str, float | None]:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], np.float64)
    if not v.size:
        return {"median": None, "mean": None, "std": None, "n": 0}
    return {"median": float(np.median(v)), "mean": float(np.mean(v)), "std": float(np.std(v)),
            "n": int(v.size)}


def summarize(specs: list[SeparatorSpec], track_results: list[dict], protocols) -> dict:
    """Aggregate per-track JSONs: per protocol, separator, source (and "all") and metric."""
    names = [t["track"] for t in track_results]
    per_track: dict = {}
    results: dict = {}
    for protocol in protocols:
        per_track[protocol], results[protocol] = {}, {}
        for spec in specs:
            table = {}
            for source in spec.sources:
                table[source] = {
                    m: [_nan_to_none(t["results"][spec.label][protocol][source][m])
                        for t in track_results]
                    for m in METRICS[protocol]
                }
            per_track[protocol][spec.label] = table
            agg = {src: {m: _stats(v) for m, v in metrics.items()} for src, metrics in table.items()}
            agg["all"] = {
                m: _stats([x for src in spec.sources for x in table[src][m]]) for m in METRICS[protocol]
            }
            results[protocol][spec.label] = agg
    return {
        "tracks": names,
        "protocols": list(protocols),
        "separators": {s.label: {"kind": s.kind, "key": s.key, "sources": list(s.sources),
                                 "model_rate": s.model_rate, "description": s.describe()}
                       for s in specs},
        "results": results,
        "per_track": per_track,
    }


def _nan_to_none(x):
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def protocol_title(protocol: str, summary: dict) -> str:
    rates = sorted({s["model_rate"] for s in summary["separators"].values()})
    if protocol == "museval":
        return ("museval: BSS Eval v4 at the tracks' rate and channels (MUSDB18: 44.1 kHz stereo), "
                "1 s frames; median over frames, then median over tracks")
    if protocol == "usdr":
        return ("usdr: the MDX challenges' SDR over each whole track at its rate and channels; "
                "mean ± std (median) over tracks")
    return (f"paper: the authors' pipeline (raw masks, non-overlapping chunks, mono at the model's rate "
            f"{', '.join(map(str, rates))} Hz, clipped) and mir_eval v3 bss_eval_sources, one value per "
            "track; mean ± std (median) over tracks")


def table_cell(stats: dict, protocol: str) -> str:
    """One table cell as each protocol reports it: museval the median over tracks, the others
    mean ± std (median)."""
    if stats["median"] is None:
        return "n/a"
    if protocol == "museval":
        return f"{stats['median']:.2f}"
    return f"{stats['mean']:.2f} ± {stats['std']:.2f} ({stats['median']:.2f})"


NOTES = (
    "How to read the tables: the **all** row pools every (track, source) value (its median for "
    "museval, its mean for the other protocols), so it is not the mean of the source rows above "
    "it. **mixture** / K is the floor: every estimate is the mixture scaled, which BSS Eval's "
    "projection onto the references reproduces exactly, so its SAR (no artefacts at all) is "
    "only floating-point noise, often above 100 dB; read its SDR and SIR. **oracle** is the "
    "ceiling of a mask model on the preset's grid."
)


def markdown(summary: dict) -> str:
    """The summary as markdown: one SDR/SIR/SAR(/ISR) table per protocol, rows per source."""
    lines = [f"# Evaluation: {summary.get('subset', '')} subset, {len(summary['tracks'])} tracks", ""]
    for label, info in summary["separators"].items():
        lines.append(f"- **{label}**: {info['description']}")
    lines += ["", NOTES]
    for protocol in summary["protocols"]:
        metrics = METRICS[protocol]
        lines += ["", f"## {protocol_title(protocol, summary)}", "",
                  "| separator | source | " + " | ".join(f"{m} (dB)" for m in metrics) + " |",
                  "|---|---|" + "---|" * len(metrics)]
        for label, table in summary["results"][protocol].items():
            for source, stats in table.items():
                cells = " | ".join(table_cell(stats[m], protocol) for m in metrics)
                lines.append(f"| {label} | {source} | {cells} |")
    return "\n".join(lines) + "\n"


def write_summary(out: Path, summary: dict) -> None:
    from tf_munet.errors import atomic_path

    write_json(out / "summary.json", summary)
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(markdown(summary))


# ----------------------------------------------------------------------------- comparison


def compare(dirs: list[str | os.PathLike], out: str | os.PathLike, protocol: str | None = None) -> str:
    """One table and one box plot (per-track SDR per source) across evaluation folders.

    Writes OUT/compare.md and OUT/compare.png; returns the markdown.
    """
    summaries = []
    for d in dirs:
        path = Path(d) / "summary.json"
        if not path.is_file():
            raise UserError(f"{path}: not found (run python -m tf_munet.evaluate ... --out {d} first)")
        try:
            summaries.append((Path(d), json.loads(path.read_text())))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: unreadable ({exc})") from None
    common = [p for p in PROTOCOLS if all(p in s["protocols"] for _, s in summaries)]
    if protocol is not None:
        if protocol not in common:
            raise UserError(f"--protocol {protocol}: not in every summary (common: {common or 'none'})")
        common = [protocol]
    if not common:
        raise UserError("the summaries share no protocol; evaluate them with the same --protocol")
    rows = []  # (label, info, results per protocol, per-track per protocol)
    keys: dict[str, str] = {}  # one row per distinct separator (references repeat across runs)
    for _, s in summaries:
        for label, info in s["separators"].items():
            keys.setdefault(info["key"], label)
    labels = list(keys.values())
    seen_keys = set()
    for d, s in summaries:
        for label, info in s["separators"].items():
            if info["key"] in seen_keys:
                continue
            seen_keys.add(info["key"])
            shown = label if labels.count(label) == 1 else f"{label} [{d.name}]"
            rows.append((shown, info, {p: s["results"][p][label] for p in common},
                         {p: s["per_track"][p][label] for p in common}))
    sources = list(dict.fromkeys(src for _, info, _, _ in rows for src in info["sources"]))
    lines = [f"# Comparison of {len(summaries)} evaluations", "",
             "SDR in dB per source (museval: median over tracks; paper: mean ± std (median)).", ""]
    for p in common:
        lines += [f"## {protocol_title(p, summaries[0][1])}", "",
                  "| separator | " + " | ".join(sources + ["all"]) + " | tracks |",
                  "|---|" + "---|" * (len(sources) + 2)]
        for label, info, res, _ in rows:
            cells = [table_cell(res[p][src]["SDR"], p) if src in res[p] else "" for src in sources + ["all"]]
            n = max((res[p][src]["SDR"]["n"] for src in info["sources"]), default=0)
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {n} |")
        lines.append("")
    text = "\n".join(lines)
    out = output_folder(out)
    from tf_munet.errors import atomic_path

    with atomic_path(out / "compare.md") as tmp:
        tmp.write_text(text)
    _box_plot(rows, sources, common[0], out / "compare.png")
    return text


def _box_plot(rows, sources, protocol: str, path: Path) -> None:
    """Per-track SDR per source, one box per separator. Boxes carry short tags (A, B, ...) and
    a key under the panels names them, so long run names never spill into the next panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tf_munet.errors import atomic_path

    tags = [_tag(i) for i in range(len(rows))]
    key = [f"{tag}: {label}" for tag, (label, *_) in zip(tags, rows)]
    fig, axes = plt.subplots(1, len(sources), figsize=(max(6.0, 2.6 * len(sources) + 1), 3.8 + 0.22 * len(key)),
                             sharey=True, squeeze=False)
    for ax, src in zip(axes[0], sources):
        data, names = [], []
        for tag, (_, _, _, per_track) in zip(tags, rows):
            values = per_track[protocol].get(src, {}).get("SDR")
            if values is None:
                continue
            data.append([v for v in values if v is not None])
            names.append(tag)
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set_title(src)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"SDR (dB), {protocol}, per track")
    fig.tight_layout(rect=(0, 0.22 * len(key) / fig.get_figheight(), 1, 1))
    fig.text(0.01, 0.01, "\n".join(key), fontsize=8, va="bottom", ha="left", family="monospace")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _tag(i: int) -> str:
    """A, B, ..., Z, AA, AB, ...: box tags of the comparison plot."""
    return (_tag(i // 26 - 1) if i >= 26 else "") + chr(65 + i % 26)


def default_preset(name: str) -> dict:
    """Preset dict for reference-only evaluations (`evaluate oracle --preset NAME`)."""
    return get_preset(name).to_dict()


__all__ = [
    "PROTOCOLS", "REFERENCES", "SeparatorSpec", "run_spec", "reference_spec", "build",
    "evaluate", "summarize", "markdown", "compare", "score_museval", "score_paper",
    "default_preset",
]
