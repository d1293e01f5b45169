"""The network as inference runs it: batch norm folded into convolutions, sub-pixel mask heads,
bfloat16 copies and the choice of precision by the CPU's flags."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from _tiny_run import FOUR

from tf_munet.errors import Notice
from tf_munet.layers import SubpixelConv2DTranspose
from tf_munet.models import all_source_masks, build_model
from tf_munet.models.folding import fold_batchnorm, foldable_pairs
from tf_munet.models.inference import checked_copy, inference_network, mask_gap, network_precision
from tf_munet.models.precision import (
    BFLOAT16_NO_LOSS,
    NO_LOSS_DB,
    choose_precision,
    cpu_has_bfloat16,
    resolve_precision,
)
from tf_munet.models.subpixel import subpixel_copy
from tf_munet.presets import get_preset
from tf_munet.registry import FAMILIES

TINY = get_preset("tiny")


def _trained_statistics(network: keras.Model, seed: int = 0) -> keras.Model:
    """Batch-norm statistics and affine weights away from their initial (identity) values, so
    a fold on the wrong axis or with the wrong sign changes the output."""
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for v in (layer.gamma, layer.beta, layer.moving_mean):
                v.assign(rng.uniform(-1, 1, v.shape).astype("float32") + 0.5)
            layer.moving_variance.assign(rng.uniform(0.2, 2.0, layer.moving_variance.shape))
    return network


def _patches(seed: int = 1) -> np.ndarray:
    a = TINY.audio
    return np.random.default_rng(seed).random((3, a.model_bins, a.frames, a.channels), "float32")


@pytest.mark.parametrize("kernel,strides", [(5, 2), (4, 2), (3, 2), (2, 2), (5, 3)])
@pytest.mark.parametrize("filters", [1, 4])
def test_subpixel_layer_equals_the_transposed_convolution(kernel, strides, filters):
    rng = np.random.default_rng(kernel * 10 + strides)
    x = rng.standard_normal((2, 7, 5, 6)).astype("float32")  # odd sizes: the phases must align
    transposed = keras.layers.Conv2DTranspose(filters, kernel, strides=strides, padding="same",
                                              activation="sigmoid")
    transposed(x)
    transposed.set_weights([rng.standard_normal(w.shape).astype("float32") for w in transposed.weights])
    sub = SubpixelConv2DTranspose.from_transposed(transposed)
    want = np.asarray(transposed(x))
    got = np.asarray(sub(x))
    assert got.shape == want.shape == (2, 7 * strides, 5 * strides, filters)
    assert want.std() > 0.1
    np.testing.assert_allclose(got, want, atol=2e-6)
    again = SubpixelConv2DTranspose.from_config(sub.get_config())  # serialisable
    again(x)
    again.set_weights(sub.get_weights())
    np.testing.assert_array_equal(np.asarray(again(x)), got)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_subpixel_copy_gives_the_same_masks_and_shares_the_rest(family):
    network = _trained_statistics(build_model(TINY, family, FOUR))
    copy = subpixel_copy(network)
    heads = [lay.name for lay in copy.layers if isinstance(lay, SubpixelConv2DTranspose)]
    assert heads and all(name.endswith(("mask_head", "dec2_deconv")) for name in heads)
    assert len([h for h in heads if h.endswith("mask_head")]) == len(FAMILIES[family].backbone_masks(len(FOUR)))
    shared = [lay for lay in copy.layers if not isinstance(lay, SubpixelConv2DTranspose)]
    assert all(lay is network.get_layer(lay.name) for lay in shared if lay.weights)
    x = _patches()
    want = np.asarray(all_source_masks(network, x))
    got = np.asarray(all_source_masks(copy, x))
    assert np.abs(want - 0.5).max() > 0.05
    np.testing.assert_allclose(got, want, atol=2e-6)
    head = next(name for name in heads if name.endswith("mask_head"))
    assert inference_network(network, "float32").get_layer(head).__class__ is SubpixelConv2DTranspose


@pytest.mark.parametrize("family", list(FAMILIES))
def test_folded_network_gives_the_same_masks(family):
    network = _trained_statistics(build_model(TINY, family, FOUR))
    folded = fold_batchnorm(network)
    norms = [lay for lay in network.layers if isinstance(lay, keras.layers.BatchNormalization)]
    left = [lay.name for lay in folded.layers if isinstance(lay, keras.layers.BatchNormalization)]
    # every batch norm after a convolution is gone; the C-U-Net's control generator keeps its
    # own (they follow ReLU layers, and run on a K-vector)
    assert norms and sorted(left) == sorted(lay.name for lay in norms if lay.name.startswith("control_"))
    assert folded.count_params() < network.count_params()
    x = _patches()
    want = np.asarray(all_source_masks(network, x))
    got = np.asarray(all_source_masks(folded, x))
    assert np.abs(want - 0.5).max() > 0.05  # masks far from a constant: the check means something
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_only_a_batch_norm_that_alone_reads_a_linear_convolution_folds():
    inp = keras.Input((8, 8, 2))
    shared = keras.layers.Conv2D(3, 3, padding="same", name="shared")(inp)
    a = keras.layers.BatchNormalization(name="bn_shared")(shared)
    relu = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="relu_conv")(inp)
    b = keras.layers.BatchNormalization(name="bn_after_relu")(relu)
    plain = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False,
                                         name="plain")(inp)
    c = keras.layers.BatchNormalization(name="bn_plain")(plain)
    out = keras.layers.Concatenate()([a, shared, b, keras.layers.MaxPooling2D()(c)])
    network = _trained_statistics(keras.Model(inp, out))
    assert foldable_pairs(network.get_config()) == {"bn_plain": "plain"}
    folded = fold_batchnorm(network)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(network(x)), atol=1e-5)
    assert folded.get_layer("plain").use_bias and "bn_shared" in [lay.name for lay in folded.layers]


def test_bfloat16_copy_holds_bfloat16_weights_and_keeps_float32_masks():
    network = _trained_statistics(build_model(TINY, "munet", FOUR))
    copy = inference_network(network, "bfloat16")
    conv = copy.get_layer("enc0_conv")
    assert conv.variable_dtype == "bfloat16" and conv.compute_dtype == "bfloat16"
    assert copy.get_layer("input_scaling").compute_dtype == "float32"
    x = _patches()
    half = np.asarray(copy(x))
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, np.asarray(network(x)), atol=0.03)
    head = copy.get_layer("mask_head")
    assert isinstance(head, SubpixelConv2DTranspose) and head.compute_dtype == "bfloat16"
    same = inference_network(network, "float32")  # float32: the trained layers, sub-pixel heads
    assert same.get_layer("enc0_conv") is network.get_layer("enc0_conv")
    assert not any(isinstance(lay, keras.layers.BatchNormalization) for lay in copy.layers)


def test_auto_precision_follows_the_cpu_flags_and_the_quality_benchmark(tmp_path):
    """auto: bfloat16 only on a CPU with bfloat16 instructions, and only for the preset and family
    the quality benchmark measured without loss (the preset as shipped), float32 elsewhere."""
    amx = tmp_path / "amx"
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n\n")
    plain = tmp_path / "plain"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert cpu_has_bfloat16(str(amx)) and not cpu_has_bfloat16(str(plain))
    assert not cpu_has_bfloat16(str(tmp_path / "missing"))
    cunet = get_preset("cunet")
    assert resolve_precision("auto", str(amx), cunet, "munet") == "bfloat16"
    precision, why = choose_precision("auto", cunet, "munet", str(amx))
    assert precision == "bfloat16" and "amx_bf16" in why and "\n" not in why
    assert resolve_precision("auto", str(plain), cunet, "munet") == "float32"
    assert resolve_precision("auto", str(amx), cunet, "dedicated") == "float32"  # not measured
    assert resolve_precision("auto", str(amx), TINY, "munet") == "float32"
    assert resolve_precision("auto", str(amx), cunet.replace(audio={"frames": 64}), "munet") == "float32"
    assert resolve_precision("auto", str(amx)) == "float32"  # no model: nothing measured
    assert resolve_precision("auto", preset=cunet, family="munet") == (
        "bfloat16" if cpu_has_bfloat16() and not tf.config.list_physical_devices("GPU") else "float32")
    assert resolve_precision("float32", str(amx)) == "float32"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a CPU with the instructions: no warning
        assert resolve_precision("bfloat16", str(amx)) == "bfloat16"
    with pytest.warns(Notice, match="no bfloat16 instructions"):  # kept, but warned
        assert resolve_precision("bfloat16", str(plain)) == "bfloat16"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("float16")


def test_auto_bfloat16_runs_are_those_the_quality_benchmark_measured_without_loss():
    """BFLOAT16_NO_LOSS is what benchmarks/results.json shows: the quality rows separated with
    bfloat16 whose every source is within NO_LOSS_DB of the same run in float32."""
    import json
    from pathlib import Path

    rows = json.loads((Path(__file__).parents[1] / "benchmarks" / "results.json").read_text())["quality"]["rows"]
    base = {r["label"]: r for r in rows if "option" not in r}
    lossless = set()
    for row in rows:
        if row.get("option") == "bfloat16":
            float32 = base[row["label"].removesuffix(" bfloat16")]
            if all(abs(row["sdr"][s] - float32["sdr"][s]) <= NO_LOSS_DB for s in float32["sdr"]):
                lossless.add((row["preset"], row["model"]))
    assert lossless == set(BFLOAT16_NO_LOSS) and lossless


def test_a_bfloat16_copy_whose_masks_stray_is_dropped_for_float32():
    """The check that guards against oneDNN's faulty bfloat16 kernels: a copy whose masks are
    wrong (here: a corrupted mask head) or not finite is replaced by the float32 network."""
    network = _trained_statistics(build_model(TINY, "munet", FOUR))
    copy = inference_network(network, "bfloat16")
    assert mask_gap(network, copy) < 0.05 and checked_copy(network, copy) is copy
    assert network_precision(copy) == "bfloat16" and network_precision(network) == "float32"
    broken = inference_network(network, "bfloat16")
    head = broken.get_layer("mask_head")
    head.bias.assign(-30 * np.ones(head.bias.shape))  # every mask ~0
    with pytest.warns(Notice, match="float32"):
        assert checked_copy(network, broken) is network
    head.bias.assign(np.full(head.bias.shape, np.nan))
    assert mask_gap(network, broken) == float("inf")
