"""Native (C++) log lines that say nothing a user can act on, dropped from stderr.

TensorFlow and LiteRT write from C++ straight to file descriptor 2, past Python's `sys.stderr`:
`native_lines_dropped` captures the descriptor around a call and writes back every line but the
known chatter. `tf_munet.quiet` uses it for TensorFlow's import; the LiteRT loader for XNNPACK's
"Created delegate" line. `--debug` / TF_MUNET_DEBUG=1 keeps everything.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager

LITE_CHATTER = re.compile(
    r"^(fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, "
    r"output_inference_type: \w+"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)$"
)
"""Lines the TF-Lite converter's calibrator and LiteRT print on every model."""


@contextmanager
def native_lines_dropped(pattern: re.Pattern):
    """Capture file descriptor 2 (where C++ code writes); afterwards write back every captured
    line that does not match `pattern`. Does nothing under --debug / TF_MUNET_DEBUG=1."""
    if os.environ.get("TF_MUNET_DEBUG") == "1":
        yield
        return
    try:
        fd = sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 2
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(fd)
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            kept = [line for line in text.splitlines() if line and not pattern.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)
