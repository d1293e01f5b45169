"""tf_munet: multi-source music separation U-Nets in TensorFlow / Keras 3.

M-U-Net (Kadandale et al. 2020), dedicated U-Nets and the Conditioned U-Net, with the paper's
multi-task loss weightings, MUSDB18 pipelines, museval evaluation and TF-Lite export.
TensorFlow is imported lazily by the submodules that need it, so `--help` stays fast.
"""

import os

if os.environ.get("TF_MUNET_DEBUG") != "1":  # see tf_munet.quiet
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
