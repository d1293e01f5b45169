"""SavedModels of a run: written with Keras' `ExportArchive`, never `tf.saved_model.save`.

Why: converting a `tf.saved_model.save` directory of a Keras 3 model to TF-Lite "succeeds" but
every output is NaN (its resource variables are left uninitialised);
`ExportArchive` (what `model.export` uses) tracks the variables so conversion freezes them.
"""

from __future__ import annotations

import os
from pathlib import Path

from tf_munet.errors import atomic_path
from tf_munet.export.graphs import ExportGraphs, Unit
from tf_munet_core.separator import NetworkSeparator

SPECTROGRAM = "separate_spectrogram"
WAVEFORM = "separate_waveform"


PATCH_BATCHES = (1, 2, 4, 8)
"""Fixed batch sizes of a spectrogram .tflite file (one signature each, weights shared).

A free batch dimension makes every transposed convolution's output shape a runtime value
(SHAPE -> STRIDED_SLICE -> PACK), which LiteRT's XNNPACK delegate cannot take: the decoder then
runs on the reference kernels, about 3x slower per patch than fixed shapes. The runner covers
any number of patches with these sizes (`tf_munet_core.litert.batch_plan`). Float variants only:
the dynamic-range and int8 variants keep the free batch (their quantizers break weights shared
by several signatures)."""


def endpoint_name(kind: str, unit: Unit, batch: int | None = None) -> str:
    """Signature name of a unit's graph: separate_<kind>[_<source>][_batch<B>] (`batch`: one of
    several fixed batch sizes in one archive, see `write_archive`)."""
    base = SPECTROGRAM if kind == "spectrogram" else WAVEFORM
    name = f"{base}_{unit.suffix}" if unit.suffix else base
    return f"{name}_batch{batch}" if batch is not None else name


def write_archive(
    graphs: ExportGraphs,
    path: str | os.PathLike,
    batch: int | tuple[int, ...] | None,
    kinds: tuple[str, ...] = ("spectrogram", "waveform"),
    split_dedicated: bool = False,
    units: list[Unit] | None = None,
) -> dict[str, str]:
    """Write a SavedModel with one signature per (kind, unit), atomically.

    Args:
        graphs: the run's export graphs.
        path: output folder (replaced if it exists).
        batch: fixed batch size of the signatures (1 for TF-Lite) or None (any batch); or a
            tuple of them: one signature per entry, named by `endpoint_name(kind, unit, b)`
            (None in the tuple: the free-batch signature under the plain name).
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
        archive.track(unit.graph)
        for kind in kinds:
            fn = (graphs.spectrogram_function if kind == "spectrogram" else graphs.waveform_function)
            for b in batch if isinstance(batch, tuple) else (batch,):
                name = endpoint_name(kind, unit, b if isinstance(batch, tuple) else None)
                archive.add_endpoint(name, fn(unit, b))
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


class SavedModelSeparator(NetworkSeparator):
    """The inference core with an exported SavedModel's `separate_spectrogram` as its network:
    the same stems as the Keras `Separator` (and the edge runner) without the Keras model.

    Args:
        path: the SavedModel folder (EXPORT_DIR/savedmodel).
        audio, sources: the run's (see `load`).
        **options: `NetworkSeparator` options (overlap, batch_size, normalize, ...).
    """

    def __init__(self, path: str | os.PathLike, audio, sources, **options):
        import tensorflow as tf

        options.setdefault("name", Path(path).resolve().parent.name)
        super().__init__(audio, tuple(sources), self._masks, **options)
        self.loaded = tf.saved_model.load(str(path))  # owns the signature's variables
        self.signature = self.loaded.signatures[SPECTROGRAM]
        self.conditioned = "condition" in self.signature.structured_input_signature[1]

    @classmethod
    def load(cls, export_dir: str | os.PathLike, **options) -> "SavedModelSeparator":
        """EXPORT_DIR/savedmodel with the audio settings and sources of EXPORT_DIR/report.json."""
        import json

        from tf_munet_core.config import AudioConfig

        export_dir = Path(export_dir)
        report = json.loads((export_dir / "report.json").read_text())
        options.setdefault("normalize", report.get("normalize") or "partial")  # as the manifest's
        return cls(export_dir / "savedmodel", AudioConfig.from_dict(report["audio"]),
                   report["sources"], **options)

    def _masks(self, patches):
        import tensorflow as tf

        mag = tf.constant(patches)
        if not self.conditioned:
            return self.signature(magnitude=mag)["masks"].numpy()
        k = len(self.sources)
        eye = tf.eye(k, batch_shape=None)
        return tf.stack([
            self.signature(magnitude=mag, condition=tf.tile(eye[i : i + 1], [len(patches), 1]))
            ["masks"][..., 0] for i in range(k)], axis=-1).numpy()
