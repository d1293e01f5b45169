"""Model families: shapes for every preset, serialization, FiLM/control options, cost counters."""

import copy
import json

import keras
import numpy as np
import pytest

from tf_munet.cli.models import main as models_main
from tf_munet.models import build_model, count_flops, count_params
from tf_munet.presets import PRESETS, get_preset, resolve_sources
from tf_munet.registry import FAMILIES

FOUR = resolve_sources("4stems")


def narrow(preset_name: str):
    """The preset's real audio shapes with 2-filter widths, so any preset builds in a second."""
    preset = get_preset(preset_name)
    return preset.replace(backbone={"widths": (2,) * len(preset.backbone.widths)},
                          film={"control_widths": (4, 4)})


def inputs_for(model, preset, batch=2, seed=0):
    a = preset.audio
    rng = np.random.default_rng(seed)
    mag = rng.random((batch, a.model_bins, a.frames, a.channels)).astype("float32")
    if len(model.inputs) == 2:
        cond = np.eye(len(FOUR), dtype="float32")[np.arange(batch) % len(FOUR)]
        return {"magnitude": mag, "condition": cond}
    return mag


@pytest.mark.parametrize("preset_name", sorted(PRESETS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_shapes_and_dtypes_for_every_preset(preset_name, family):
    preset = narrow(preset_name) if preset_name != "tiny" else get_preset("tiny")
    model = build_model(preset, family, FOUR)
    out = model(inputs_for(model, preset))
    a = preset.audio
    k = 4 // FAMILIES[family].passes_per_separation(4)  # masks per call
    assert tuple(out.shape) == (2, a.model_bins, a.frames, a.channels, k)
    assert out.dtype == "float32"
    out = np.asarray(out)
    assert np.isfinite(out).all()
    if preset.backbone.mask_activation == "sigmoid":
        assert out.min() >= 0 and out.max() <= 1
    else:
        assert out.min() >= 0


@pytest.mark.parametrize("sources", ["2stems", "vocals,drums,bass"])
def test_source_sets(sources):
    names = resolve_sources(sources)
    model = build_model(get_preset("tiny"), "munet", names)
    assert model.output.shape[-1] == len(names)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_serialization_round_trip_and_keras_file(tmp_path, family):
    preset = get_preset("tiny")
    model = build_model(preset, family, FOUR)
    config = model.get_config()
    clone = model.__class__.from_config(copy.deepcopy(config))
    assert json.dumps(clone.get_config(), sort_keys=True, default=str) == json.dumps(
        config, sort_keys=True, default=str
    )
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = inputs_for(model, preset)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))


def test_dedicated_is_k_single_source_networks():
    preset = get_preset("tiny")
    single = count_params(build_model(preset, "munet", ("vocals",)))
    assert count_params(build_model(preset, "dedicated", FOUR)) == 4 * single
    assert count_flops(build_model(preset, "dedicated", FOUR)) == 4 * count_flops(
        build_model(preset, "munet", ("vocals",))
    )


@pytest.mark.parametrize("film_type", ["simple", "complex"])
@pytest.mark.parametrize("control", ["dense", "cnn"])
def test_cunet_film_options_are_wired(film_type, control):
    preset = get_preset("tiny").replace(film={"film_type": film_type, "control": control})
    model = build_model(preset, "cunet", FOUR)
    gammas = [layer for layer in model.layers if layer.name.endswith("_gamma")]
    assert len(gammas) == len(preset.backbone.widths)
    expected = [1] * len(gammas) if film_type == "simple" else list(preset.backbone.widths)
    assert [g.units for g in gammas] == expected
    conv1d = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    assert bool(conv1d) == (control == "cnn")
    # The condition changes the output: the control path reaches the backbone.
    x = inputs_for(model, preset)
    other = dict(x, condition=np.roll(x["condition"], 1, axis=1))
    assert not np.allclose(np.asarray(model(x)), np.asarray(model(other)))


@pytest.mark.integration
def test_paper_preset_matches_the_papers_size():
    """The authors' U-Net has ~124 M parameters; built for real (~25 s, 1.4 GB)."""
    assert 123e6 < count_params(build_model(get_preset("paper"), "munet", FOUR)) < 125e6


def test_cunet_preset_matches_the_cunet_size():
    """The C-U-Net backbone has ~9.8 M parameters."""
    rows = {r["family"]: r for r in __import__("tf_munet.cli.models", fromlist=["x"]).summarize("cunet")}
    assert 9.7e6 < rows["munet"]["params"] < 9.9e6
    assert rows["cunet"]["flops_per_separation"] == pytest.approx(4 * rows["cunet"]["flops_per_pass"])
    assert rows["munet"]["flops_per_pass"] == pytest.approx(1.59e9, rel=0.05)
    assert rows["dedicated"]["params"] > 3.9 * rows["munet"]["params"]
    assert rows["cunet"]["control_params"] > 0


def test_models_cli_prints_each_family(capsys):
    assert models_main(["--preset", "tiny"]) == 0
    out = capsys.readouterr().out
    for family in FAMILIES:
        assert family in out


def test_unknown_names_give_clear_errors():
    with pytest.raises(ValueError, match="Unknown preset"):
        get_preset("nope")
    with pytest.raises(ValueError, match="Unknown model family"):
        build_model(get_preset("tiny"), "transformer", FOUR)
    with pytest.raises(ValueError, match="Unknown sources"):
        resolve_sources("vocals,kazoo")


@pytest.mark.parametrize("preset_name", ["paper", "cunet"])
def test_mask_activation_is_the_presets(preset_name):
    """With a zero kernel the mask head outputs its bias b everywhere: masks are relu(b) on the
    paper preset (unbounded) and sigmoid(b) on the others."""
    preset = narrow(preset_name)
    model = build_model(preset, "munet", FOUR)
    head = model.get_layer("mask_head")
    kernel, bias = head.get_weights()
    expected = {"relu": lambda b: np.maximum(b, 0.0), "sigmoid": lambda b: 1 / (1 + np.exp(-b))}
    activation = expected[preset.backbone.mask_activation]
    for b in (3.0, -3.0):
        head.set_weights([np.zeros_like(kernel), np.full_like(bias, b)])
        out = np.asarray(model(inputs_for(model, preset), training=False))
        np.testing.assert_allclose(out, activation(b), rtol=1e-5, atol=1e-6)
    assert get_preset("paper").backbone.mask_activation == "relu"  # the authors' wrapper: unbounded masks


@pytest.mark.parametrize("kind", ["strided", "spleeter", "double_conv"])
def test_backbone_activations_are_the_presets(kind):
    """conv_activation and deconv_activation build what they name (Spleeter 4stems/5stems: ELU),
    and the defaults build the activations every earlier run was trained with."""
    base = get_preset("tiny").replace(backbone={"kind": kind})
    acts = {"leaky_relu": keras.layers.LeakyReLU, "relu": keras.layers.ReLU, "elu": keras.layers.ELU}

    def activations(preset):
        net = build_model(preset, "munet", FOUR)
        found = {side: {type(layer) for layer in net.layers if layer.name.startswith(side)
                        and "_act" in layer.name} for side in ("enc", "dec")}
        return net, found

    _, found = activations(base)
    assert found["enc"] == {keras.layers.LeakyReLU}
    assert found["dec"] == ({keras.layers.LeakyReLU} if kind == "double_conv" else {keras.layers.ReLU})
    elu = base.replace(backbone={"conv_activation": "elu", "deconv_activation": "leaky_relu"})
    net, found = activations(elu)
    assert found["enc"] == {acts["elu"]}
    # double_conv has no activation after its transposed convolutions: its decoder's convs
    # take the conv activation
    assert found["dec"] == {acts["elu"] if kind == "double_conv" else acts["leaky_relu"]}
    x = inputs_for(net, elu)
    assert np.isfinite(np.asarray(net(x))).all()
    with pytest.raises(ValueError, match="Unknown conv_activation 'gelu'"):
        base.replace(backbone={"conv_activation": "gelu"})


@pytest.mark.parametrize("family", ["munet", "dedicated"])
def test_softmax_mask_head_is_one_softmax_across_the_sources(family):
    """mask_activation "softmax" (Spleeter 5stems): with zero kernels every mask head outputs
    its bias, and the masks are the softmax of the sources' biases, not a sigmoid of each."""
    preset = get_preset("tiny").replace(backbone={"mask_activation": "softmax"})
    model = build_model(preset, family, FOUR)
    biases = np.array([1.0, -0.5, 0.25, 2.0], "float32")
    heads = ([model.get_layer("mask_head")] if family == "munet"
             else [model.get_layer(f"{s}_mask_head") for s in FOUR])
    for i, head in enumerate(heads):
        kernel, bias = head.get_weights()
        # munet: mask channel c * K + k is source k's (the tiny preset has one channel)
        b = biases if family == "munet" else np.full_like(bias, biases[i])
        head.set_weights([np.zeros_like(kernel), b.astype("float32")])
    out = np.asarray(model(inputs_for(model, preset), training=False))
    expected = np.exp(biases) / np.exp(biases).sum()
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=1e-5, atol=1e-6)
    from tf_munet.models import masks_per_source

    assert not masks_per_source(model)  # every mask needs every source's logits
    assert masks_per_source(build_model(get_preset("tiny"), family, FOUR))
    with pytest.raises(ValueError, match="one source's mask per pass"):
        build_model(preset, "cunet", FOUR)


def test_input_scaling_modes_compute_what_they_say():
    from tf_munet.layers import InputScaling

    x = np.array([[[[0.0], [1.0]], [[3.0], [4.0]]], [[[2.0], [0.5]], [[0.0], [1.0]]]], "float32")
    np.testing.assert_allclose(np.asarray(InputScaling("log", eps=1e-3)(x)), np.log(x + 1e-3), rtol=1e-6)
    peak = x.max(axis=(1, 2), keepdims=True)  # per example and channel
    np.testing.assert_allclose(np.asarray(InputScaling("max", eps=1e-3)(x)), x / (peak + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(InputScaling("none")(x)), x)


@pytest.mark.parametrize("preset_name, scale_free", [("cunet", True), ("paper", False)])
def test_models_use_the_presets_input_scaling(preset_name, scale_free):
    """"max" scaling makes a network blind to the input level; "log" (the paper) does not."""
    preset = narrow(preset_name)
    model = build_model(preset, "munet", FOUR)
    x = inputs_for(model, preset)
    loud, quiet = (np.asarray(model(v, training=False)) for v in (x, 10 * x))
    assert np.allclose(loud, quiet, rtol=1e-2, atol=1e-4) == scale_free


def _input_scaling_of(model, x):
    scaled = keras.Model(model.input, model.get_layer("input_scaling").output)
    return np.asarray(scaled(x, training=False), dtype=np.float64)


def test_paper_preset_takes_the_authors_log_floor():
    """The paper network's input is log(|X| + 2.2e-16), the authors' `dataloaders.py`: a silent
    bin enters as about -36, finite, as does the whole network's output on silence."""
    preset = get_preset("paper")
    assert preset.backbone.input_eps == 2.2e-16
    model = build_model(narrow("paper"), "munet", FOUR)
    assert model.get_layer("input_scaling").eps == 2.2e-16
    silence = np.zeros_like(inputs_for(model, preset))
    floor = _input_scaling_of(model, silence)
    np.testing.assert_allclose(floor, np.log(2.2e-16), rtol=1e-6)  # -36.05
    assert -37 < floor.max() < -35
    assert np.isfinite(np.asarray(model(silence, training=False))).all()
    # the other presets keep 1e-3, and a preset saved before the field existed reads as 1e-3
    assert get_preset("cunet").backbone.input_eps == 1e-3
    saved = preset.to_dict()
    del saved["backbone"]["input_eps"]
    assert type(preset).from_dict(saved).backbone.input_eps == 1e-3


def test_log_floor_survives_float16_and_the_keras_file(tmp_path):
    """2.2e-16 is 0 in float16: under a mixed-float16 policy the input scaling still computes in
    float32, so silence stays finite; a saved network keeps its floor."""
    preset = narrow("paper")
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(preset, "munet", FOUR)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    silence = np.zeros_like(inputs_for(model, preset))
    np.testing.assert_allclose(_input_scaling_of(model, silence), np.log(2.2e-16), rtol=1e-6)
    path = tmp_path / "paper.keras"
    build_model(preset, "munet", FOUR).save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("input_scaling").eps == 2.2e-16
