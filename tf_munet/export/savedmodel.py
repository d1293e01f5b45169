"""SavedModels of a run: written with Keras' `ExportArchive`, never `tf.saved_model.save`.

Why: converting a `tf.saved_model.save` directory of a Keras 3 model to TF-Lite "succeeds" but
every output is NaN (its resource variables are left uninitialised, STACK.md pitfall 2);
`ExportArchive` (what `model.export` uses) tracks the variables so conversion freezes them.
"""

from __future__ import annotations

import os
from pathlib import Path

from tf_munet.errors import atomic_path
from tf_munet.export.graphs import ExportGraphs, Unit

SPECTROGRAM = "separate_spectrogram"
WAVEFORM = "separate_waveform"


def endpoint_name(kind: str, unit: Unit) -> str:
    """Signature name of a unit's graph: separate_<kind>[_<source>]."""
    base = SPECTROGRAM if kind == "spectrogram" else WAVEFORM
    return f"{base}_{unit.suffix}" if unit.suffix else base


def write_archive(
    graphs: ExportGraphs,
    path: str | os.PathLike,
    batch: int | None,
    kinds: tuple[str, ...] = ("spectrogram", "waveform"),
    split_dedicated: bool = False,
    units: list[Unit] | None = None,
) -> dict[str, str]:
    """Write a SavedModel with one signature per (kind, unit), atomically.

    Args:
        graphs: the run's export graphs.
        path: output folder (replaced if it exists).
        batch: fixed batch size of the signatures (1 for TF-Lite) or None (any batch).
        kinds: "spectrogram" and/or "waveform".
        split_dedicated: one signature per source for dedicated networks.
        units: export only these units (default: all of `graphs.units(split_dedicated)`).

    Returns:
        {endpoint name: kind}.
    """
    import keras

    archive = keras.export.ExportArchive()
    endpoints = {}
    for unit in units if units is not None else graphs.units(split_dedicated):
        archive.track(unit.network)
        for kind in kinds:
            name = endpoint_name(kind, unit)
            fn = (graphs.spectrogram_function if kind == "spectrogram" else graphs.waveform_function)
            archive.add_endpoint(name, fn(unit, batch))
            endpoints[name] = kind
    path = Path(path)
    if path.exists():
        import shutil

        shutil.rmtree(path)
    with atomic_path(path, suffix=".tmp") as tmp:
        tmp.unlink()
        archive.write_out(str(tmp), verbose=False)
    return endpoints


def write_savedmodel(
    graphs: ExportGraphs,
    path: str | os.PathLike,
    kinds: tuple[str, ...] = ("spectrogram", "waveform"),
) -> dict[str, str]:
    """The deliverable SavedModel: `separate_spectrogram` (magnitude -> masks) and
    `separate_waveform` (chunk -> stems), any batch size, all sources in one network."""
    return write_archive(graphs, path, batch=None, kinds=kinds, split_dedicated=False)
