"""TF-Lite conversion (builtin ops only), running with LiteRT, and the checks every file passes.

Quantization modes:
- "none": float32.
- "fp16": float16 weights (float32 compute on CPU, half the size).
- "dynamic": int8 weights, activations quantized on the fly. Uses the old dynamic-range
  quantizer: the new one makes TRANSPOSE_CONV many times slower.
- "int8": full-integer quantization of the network, calibrated on a representative dataset:
  every op inside the graphs' `network` name scope runs in int8 (weights and activations);
  the signal processing around it (STFT, warp, mask application, inverse STFT) stays float32,
  as do the model's inputs and outputs, so one runner serves every variant. Quantizing that
  too (the converter's default) puts the waveform and spectra on an 8-bit grid, which cost
  audible SDR where quantizing the network alone cost none (tried on a tiny model, not stored). The selection uses the
  converter's selective quantization (`QuantizationDebugger` with denylisted nodes).

Every converted file is loaded in LiteRT (`ai_edge_litert`), its op list checked for Flex or
custom ops, and its outputs checked to be finite: a NaN export raises `ExportError`.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError
from tf_munet_core.native_log import LITE_CHATTER, native_lines_dropped

QUANTIZE = {"none": "float32", "fp16": "float16", "dynamic": "dynamic", "int8": "int8"}
"""CLI name -> variant name (used in file names)."""


class ExportError(UserError):
    """An exported file that fails a check (non-finite outputs, Flex ops, conversion failure)."""


def convert(
    saved_model_dir: str | os.PathLike,
    signature: str | tuple[str, ...],
    quantize: str = "none",
    representative: Callable[[], Iterable[dict[str, np.ndarray]]] | None = None,
) -> bytes:
    """Convert signatures of a SavedModel written by `savedmodel.write_archive` into one file.

    Args:
        saved_model_dir: the SavedModel (from Keras' ExportArchive; see savedmodel.py).
        signature: the signature key to convert, or several (one file, weights stored once:
            `savedmodel.PATCH_BATCHES`) for "none" and "fp16" only: the dynamic-range and int8
            quantizers mishandle weights shared by several signatures (NaN outputs).
        quantize: "none", "fp16", "dynamic" or "int8".
        representative: for "int8": a callable returning an iterable of {input name: array}
            samples with the signature's shapes.

    Returns:
        The .tflite flatbuffer.
    """
    import tensorflow as tf

    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {sorted(QUANTIZE)}. Received: {quantize!r}")
    signatures = (signature,) if isinstance(signature, str) else tuple(signature)
    if len(signatures) > 1 and quantize in ("dynamic", "int8"):
        raise ValueError(f"{quantize} quantization takes one signature. Received: {signatures}")
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(saved_model_dir), signature_keys=list(signatures)
    )
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # never SELECT_TF_OPS: Flex can't run in LiteRT
    if quantize == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.experimental_new_dynamic_range_quantizer = False
    elif quantize == "int8":
        if representative is None:
            raise ValueError("int8 quantization needs a representative dataset")

        def dataset():
            for sample in representative():
                yield signatures[0], {k: np.asarray(v, np.float32) for k, v in sample.items()}

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.target_spec.supported_ops = ops
    try:
        with native_lines_dropped(LITE_CHATTER):
            if quantize == "int8":
                return _quantize_network_only(converter)
            return converter.convert()
    except Exception as exc:  # converter errors are long MLIR dumps: keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"TF-Lite conversion of {signatures[0]} ({quantize}) failed: {first}") from exc


def _quantize_network_only(converter) -> bytes:
    """Calibrate, then quantize only the ops of the network scope (see module docstring)."""
    import tensorflow as tf

    from tf_munet.export.graphs import NETWORK_SCOPE

    with warnings.catch_warnings():  # the debugger uses the deprecated tf.lite.Interpreter
        warnings.simplefilter("ignore", UserWarning)
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter)
    it = interpreter(debugger.calibrated_model, delegates=False)
    names = {d["index"]: d["name"] for d in it.get_tensor_details()}
    outside = sorted(
        {names[i] for op in it._get_ops_details() for i in op["outputs"]}
        - {n for n in names.values() if n.startswith(NETWORK_SCOPE + "/")}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if outside:
            debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=outside)
        return debugger.get_nondebug_quantized_model()


def interpreter(model: bytes | str | os.PathLike, threads: int | None = None, delegates=True):
    """A LiteRT interpreter for a flatbuffer or a .tflite path."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs = {"num_threads": threads}
    if not delegates:  # the op list as converted, not XNNPACK's fused DELEGATE nodes
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    with native_lines_dropped(LITE_CHATTER):  # XNNPACK announces itself on allocation
        it = Interpreter(**source, **kwargs)
        it.allocate_tensors()
    return it


def op_names(model: bytes | str | os.PathLike) -> list[str]:
    """Sorted distinct op names of a TF-Lite model (as converted, before delegation)."""
    it = interpreter(model, delegates=False)
    return sorted({d["op_name"] for d in it._get_ops_details()})


def check_builtin_only(ops: list[str], where: str = "model") -> None:
    """Raise ExportError if a Flex (SELECT_TF_OPS) or custom op is present."""
    bad = [op for op in ops if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE")]
    if bad:
        raise ExportError(f"{where}: non-builtin ops {bad} (LiteRT alone cannot run them)")


class Runner:
    """One signature of a .tflite model, called with named numpy inputs.

    Args:
        model: flatbuffer bytes or a .tflite path.
        threads: interpreter threads (None: LiteRT's default).
        signature: which signature (None: the model's only one).
    """

    def __init__(self, model: bytes | str | os.PathLike, threads: int | None = None,
                 signature: str | None = None):
        self.interpreter = interpreter(model, threads)
        signatures = self.interpreter.get_signature_list()
        if signature is None and len(signatures) != 1:
            raise ExportError(f"expected one signature, found {sorted(signatures)}")
        if signature is not None and signature not in signatures:
            raise ExportError(f"no signature {signature!r}, found {sorted(signatures)}")
        self.signature = signature or next(iter(signatures))
        self.inputs = list(signatures[self.signature]["inputs"])
        self.outputs = list(signatures[self.signature]["outputs"])
        self._run = self.interpreter.get_signature_runner(self.signature)

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        out = self._run(**{k: np.asarray(v, np.float32) for k, v in inputs.items()})
        return {k: np.array(v) for k, v in out.items()}

    def latency(self, inputs: dict[str, np.ndarray], repeats: int = 10) -> tuple[float, float]:
        """(median, best) seconds per call over `repeats` calls after one warm-up call.

        The best time is the stable number on a shared machine; the median includes whatever
        else the machine was doing.
        """
        self(**inputs)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            self(**inputs)
            times.append(time.perf_counter() - t0)
        return float(np.median(times)), float(np.min(times))


def verify(runner: Runner, feeds: list[dict[str, np.ndarray]], where: str) -> list[dict]:
    """Run every feed; raise ExportError on a non-finite output (the NaN-export trap)."""
    outs = []
    for feed in feeds:
        out = runner(**feed)
        for name, value in out.items():
            if not np.all(np.isfinite(value)):
                frac = float(np.mean(~np.isfinite(value)))
                raise ExportError(
                    f"{where}: output {name!r} is not finite ({frac:.0%} NaN/inf) - was the "
                    "SavedModel written with tf.saved_model.save?"
                )
        outs.append(out)
    return outs


def write_tflite(path: str | os.PathLike, model: bytes) -> Path:
    """Write a flatbuffer atomically."""
    from tf_munet.errors import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(model)
    return path
