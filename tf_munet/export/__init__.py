"""Export a trained run: SavedModel and TF-Lite files that run on edge devices and match Keras.

- `dsp`: STFT / inverse STFT with TF-Lite builtin ops only (RFFT or DFT matmul, no complex).
- `graphs`: the exportable graphs (spectrogram -> masks, waveform -> stems) and Keras references.
- `savedmodel`: SavedModels via Keras' ExportArchive (never `tf.saved_model.save`: NaN trap).
- `tflite`: conversion (float32, float16, dynamic-range int8, network-only full int8), LiteRT
  runner, builtin-op and finite-output checks.
- `excerpts`: calibration and validation audio from `tf_munet.data`.
- `report`: errors, SDR change, latency, the printed table.
- `exporter.export_run`: the whole export (its command: `tf_munet.cli.export`, `python -m tf_munet.export`).

The edge runner `tf-munet-edge` (`tf_munet_core.edge`; `pip install ./edge` installs it without
TensorFlow) separates files with the exported .tflite files through the same inference core as
`tf_munet.separation.Separator`; `savedmodel.SavedModelSeparator` does the same with the SavedModel.
"""

def export_run(*args, **kwargs):
    """See `tf_munet.export.exporter.export_run` (imported lazily: TensorFlow is heavy)."""
    from tf_munet.export.exporter import export_run as _export_run

    return _export_run(*args, **kwargs)


__all__ = ["export_run"]
