"""tf_munet_core: the numpy-only inference core shared by every tf_munet runtime.

Everything between a waveform and its stems except the network: the model-rate STFT and
frequency warp, patches and their overlap average, mask normalisation, the mapping of masks onto
each input channel's STFT at the input's own rate, inverse STFTs, block streaming and stem files.
A runtime supplies only a *mask function* (magnitude patches -> masks on the network's grid):
Keras (`tf_munet.separation.Separator`), a SavedModel signature
(`tf_munet.export.savedmodel.SavedModelSeparator`) or a LiteRT model (`tf_munet_core.litert`).

Also what every command shares (`cli`: one-line errors, names in any case) and the stem files'
formats, names and file loop (`encoding`, `layout`, `runner`). Nothing here imports TensorFlow,
Keras or tf_munet, so the core and the edge runner (`tf-munet-edge`, `tf_munet_core.edge`)
install on their own: `pip install ./edge` (plus the ffmpeg program for mp4/m4a inputs).
"""

__version__ = "0.1.0"
