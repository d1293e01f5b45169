#!/usr/bin/env python3
"""Export a trained run: the same as `python -m tf_munet.export RUN_DIR --out DIR [options]`.

Needs the full tf_munet environment (TensorFlow). The files it writes run on a device with
export/run_tflite.py alone (numpy, soundfile, ai_edge_litert).
"""

from tf_munet.export import main

if __name__ == "__main__":
    raise SystemExit(main())
