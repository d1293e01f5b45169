#!/usr/bin/env python3
"""Separate audio files with a tf_munet TF-Lite export: the edge runner `tf-munet-edge`.

    python export/run_tflite.py EXPORT_DIR song.wav [more.flac ...] -o OUT [--variant none|fp16|dynamic|int8]

The runner is `tf_munet_core.edge` (numpy + LiteRT, no TensorFlow); install it on its own with
`pip install ./edge` and call `tf-munet-edge`. This script runs it from a repository checkout.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's tf_munet_core
    from tf_munet_core.edge import main

    raise SystemExit(main())
