"""Data: reading MUSDB18 (STEMS and HQ), preparing caches, tf.data pipelines, synthetic sets.

Modules (TensorFlow is imported at module level only by `pipeline` and `augment`; `prepare`
imports it to write shards):
- audio_io: read/write/resample audio files (soundfile, ffmpeg, soxr).
- synthetic: procedurally generated MUSDB18-HQ-layout sets (and the exact-sum mix they share).
- composition, fluid, singing, render: rendered sets (composed GM songs or MIDI files, FluidSynth,
  sung vocals).
- musdb_sample: the MUSDB18 7-second sample, through musdb's download.
- musdb_io: finding and loading MUSDB tracks with their checks; the validation split.
- cache: the prepared cache's layout and metadata.
- prepare: decode + resample + chunk tracks into TFRecord shards, resumable and parallel.
- augment: tf.data augmentation steps (gain, channel swap, remix).
- pipeline: training/validation tf.data pipelines and source energies.
- tfio_backend: optional tensorflow-io decoding/resampling (own environment, TF 2.17).
"""
