"""Spleeter's released models (Deezer, MIT licence) as tf_munet networks.

Spleeter separates with one U-Net per source (`models.backbones.spleeter_unet`) on 44.1 kHz
stereo magnitudes (STFT 4096/1024, the first 1024 or 1536 bins, patches of 512 frames),
ratio masks with exponent 2 (`layers.RatioMasks`) and, in every released model, zero masks
above the modelled band. The models differ in their U-Nets' activations (2stems LeakyReLU(0.2)
and ReLU, 4stems and 5stems ELU) and masks (5stems: one softmax across the instruments instead
of a sigmoid per U-Net): `RELEASES` holds each one's configuration, the converted network
and its run folder's config.json follow it. Its TF1 checkpoints name layers by creation order (`conv2d_7/kernel`),
U-Net after U-Net in `instrument_list` order; `checkpoint_variables` lists them.

`separate_like_spleeter` is Spleeter's own separation procedure (zero-padded STFT framing,
non-overlapping patches, its mask extension and iSTFT scaling): with it a converted network
gives Spleeter's stems to float32 round-off. `python -m tf_munet.separate` runs the same network
through this project's separator (centred STFTs, overlapping patches, masks extended above the
band), which gives close but not identical stems.

This module imports only numpy at load time: the reference script runs it under Spleeter's
own environment.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError
from tf_munet.presets import Preset, get_preset
from tf_munet_core.names import resolve_name, suggestion

RELEASE_URL = "https://github.com/deezer/spleeter/releases/download/v1.4.0"
"""Where Spleeter's own model provider downloads `<name>.tar.gz` and `checksum.json`."""

RELEASES = {
    "2stems": {"instrument_list": ("vocals", "accompaniment"),
               "model": {"type": "unet.unet", "params": {}}},
    "4stems": {"instrument_list": ("vocals", "drums", "bass", "other"),
               "model": {"type": "unet.unet",
                         "params": {"conv_activation": "ELU", "deconv_activation": "ELU"}}},
    "5stems": {"instrument_list": ("vocals", "piano", "drums", "bass", "other"),
               "model": {"type": "unet.softmax_unet",
                         "params": {"conv_activation": "ELU", "deconv_activation": "ELU"}}},
}
"""What shapes the network in Spleeter 2.4.2's `spleeter/resources/<name>.json`, in its own
words (the `-16kHz` files differ only in `F`; every file has T 512, STFT 4096/1024, 2 channels,
separation_exponent 2, mask_extension "zeros": the spleeter presets). tests/test_hub.py checks
this table against copies of Spleeter's files."""

WIDE_BAND_BINS = 1536
"""`F` of the `-16kHz` models (the others model 1024 bins, 11 kHz)."""

EPSILON = 1e-10
WINDOW_COMPENSATION = 2.0 / 3.0
"""Spleeter's iSTFT scaling (1 / the overlap-added squared Hann window at hop n_fft / 4)."""


def conv_activation(params: dict) -> str:
    """Spleeter's `_get_conv_activation_layer` as a `presets.ACTIVATIONS` name."""
    return {"ReLU": "relu", "ELU": "elu"}.get(str(params.get("conv_activation")), "leaky_relu")


def deconv_activation(params: dict) -> str:
    """Spleeter's `_get_deconv_activation_layer` as a `presets.ACTIVATIONS` name."""
    return {"LeakyReLU": "leaky_relu", "ELU": "elu"}.get(str(params.get("deconv_activation")), "relu")


MASK_HEADS = {"unet.unet": "sigmoid", "unet.softmax_unet": "softmax"}
"""Spleeter's U-Net model types and their masks: a sigmoid per U-Net, or the U-Nets' logits
through one softmax across the instruments (`softmax_unet`)."""


@dataclass(frozen=True)
class SpleeterModel:
    """One of Spleeter's released models, as its configuration (`RELEASES`) builds it.

    Attributes:
        name: release name, e.g. "4stems" or "2stems-16kHz" (the archive is `<name>.tar.gz`).
        instruments: sources in the checkpoint's order.
        freq_bins: modelled bins (`F`).
        mask_extension: "zeros" (every released model) or "average", above `freq_bins`.
        conv_activation, deconv_activation: the U-Nets' activations (`presets.ACTIVATIONS`).
        mask_activation: "sigmoid" per U-Net or "softmax" across the instruments.
    """

    name: str
    instruments: tuple[str, ...]
    freq_bins: int
    mask_extension: str = "zeros"
    conv_activation: str = "leaky_relu"
    deconv_activation: str = "relu"
    mask_activation: str = "sigmoid"

    @property
    def preset(self) -> Preset:
        """The `spleeter` or `spleeter-16kHz` preset with this model's activations and masks."""
        base = get_preset("spleeter" if self.freq_bins == 1024 else "spleeter-16kHz")
        return base.replace(
            name=f"spleeter-{self.name}",
            description=f"Spleeter {self.name} ({', '.join(self.instruments)}), converted: "
            f"{base.description}",
            backbone={"conv_activation": self.conv_activation,
                      "deconv_activation": self.deconv_activation,
                      "mask_activation": self.mask_activation},
        )


def spleeter_model(spec: str) -> SpleeterModel:
    """'spleeter:4stems', '4stems' or '5stems-16kHz' (any case) -> SpleeterModel; a clear error
    with the closest names otherwise."""
    known = [f"spleeter:{s}{band}" for s in RELEASES for band in ("", "-16kHz")]
    text = spec if spec.casefold().startswith("spleeter:") else f"spleeter:{spec}"
    try:
        name = resolve_name(text, known, "model").split(":", 1)[1]
    except UserError:
        shown = ", ".join(f"spleeter:{s}[-16kHz]" for s in RELEASES)
        close = suggestion(text.split(":", 1)[1], [k.split(":", 1)[1] for k in known])
        raise UserError(f"{spec!r}: unknown model{close} (choose one of {shown})") from None
    stems, _, band = name.partition("-")
    release = RELEASES[stems]
    model, params = release["model"], release["model"]["params"]
    return SpleeterModel(
        name, tuple(release["instrument_list"]), WIDE_BAND_BINS if band else 1024,
        conv_activation=conv_activation(params), deconv_activation=deconv_activation(params),
        mask_activation=MASK_HEADS[model["type"]],
    )


# ----------------------------------------------------------------------------- checkpoint layout


def _tf1_name(layer: str, index: int, first: int = 0) -> str:
    """Keras' TF1 layer naming: conv2d, conv2d_1, conv2d_2, ... (`first` + index)."""
    index += first
    return layer if index == 0 else f"{layer}_{index}"


def checkpoint_variables(
    instruments: tuple[str, ...], widths: tuple[int, ...] = (16, 32, 64, 128, 256, 512),
    channels: int = 2,
) -> list[tuple[str, str, str, tuple[int, ...]]]:
    """Every variable of a Spleeter U-Net set, in checkpoint naming and layout.

    Returns:
        [(checkpoint name, our layer name, our weight name, Spleeter's shape)]; our layer
        names are `spleeter_unet`'s with the source as prefix. Spleeter's unused last encoder
        BN (`batch6`) is listed with layer name None.
    """
    out = []
    levels = len(widths)
    dec_widths = [*reversed(widths[:-1]), 1]
    bn_names = ("gamma", "beta", "moving_mean", "moving_variance")
    for i, src in enumerate(instruments):
        # per U-Net: levels + 1 convolutions, levels transposed ones, 2 * levels batch norms
        conv = functools.partial(_tf1_name, "conv2d", first=(levels + 1) * i)
        deconv = functools.partial(_tf1_name, "conv2d_transpose", first=levels * i)
        bn = functools.partial(_tf1_name, "batch_normalization", first=2 * levels * i)
        for j, width in enumerate(widths):
            cin = channels if j == 0 else widths[j - 1]
            layer = f"{src}_enc{j}_conv"
            out += [(f"{conv(j)}/kernel", layer, "kernel", (5, 5, cin, width)),
                    (f"{conv(j)}/bias", layer, "bias", (width,))]
            bn_layer = f"{src}_enc{j}_bn" if j < levels - 1 else None
            out += [(f"{bn(j)}/{w}", bn_layer, w, (width,)) for w in bn_names]
        for j, width in enumerate(dec_widths):
            cin = widths[-1] if j == 0 else 2 * dec_widths[j - 1]
            layer = f"{src}_dec{j}_deconv"
            out += [(f"{deconv(j)}/kernel", layer, "kernel", (5, 5, width, cin)),
                    (f"{deconv(j)}/bias", layer, "bias", (width,))]
            out += [(f"{bn(levels + j)}/{w}", f"{src}_dec{j}_bn", w, (width,)) for w in bn_names]
        out += [(f"{conv(levels)}/kernel", f"{src}_mask_head", "kernel", (4, 4, 1, channels)),
                (f"{conv(levels)}/bias", f"{src}_mask_head", "bias", (channels,))]
    return out


def find_checkpoint(folder: str | Path) -> str:
    """The checkpoint prefix in an extracted model folder (its `checkpoint` file, else the one
    `.index` file, also in a subfolder); a UserError names the folder otherwise."""
    folder = Path(folder)
    state = folder / "checkpoint"
    if state.is_file():
        for line in state.read_text(errors="replace").splitlines():
            if line.startswith("model_checkpoint_path:"):
                name = line.split(":", 1)[1].strip().strip('"')
                if (folder / f"{Path(name).name}.index").is_file():
                    return str(folder / Path(name).name)
    indexes = sorted(folder.rglob("*.index"))
    if len(indexes) != 1:
        raise UserError(f"{folder}: no TF checkpoint found (expected one model.index)"
                        if not indexes else f"{folder}: several checkpoints, keep one")
    return str(indexes[0].with_suffix(""))


def read_checkpoint(prefix: str, model: SpleeterModel) -> dict[str, np.ndarray]:
    """{checkpoint name: array} of every variable the model needs; names the file and the
    first missing or misshapen variable, and refuses data that fails TF's checksums."""
    import tensorflow as tf

    where = Path(prefix).parent
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as exc:
        raise UserError(f"{where}: unreadable checkpoint ({type(exc).__name__})") from None
    values = {}
    for name, _, _, shape in checkpoint_variables(model.instruments):
        if name not in shapes:
            raise UserError(f"{where}: not a Spleeter {model.name} checkpoint "
                            f"(no variable {name})")
        if tuple(shapes[name]) != shape:
            raise UserError(f"{where}: variable {name} has shape {tuple(shapes[name])}, "
                            f"expected {shape} for Spleeter {model.name}")
        try:
            values[name] = np.asarray(reader.get_tensor(name), np.float32)
        except tf.errors.OpError as exc:
            raise UserError(f"{where}: corrupt checkpoint data for {name} "
                            f"({type(exc).__name__})") from None
    return values


def convert(prefix: str, model: SpleeterModel):
    """A Spleeter checkpoint -> our dedicated-family Keras network with its weights."""
    from tf_munet.models import build_model

    values = read_checkpoint(prefix, model)
    network = build_model(model.preset, "dedicated", model.instruments)
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for name, layer, weight, _ in checkpoint_variables(model.instruments):
        if layer is not None:
            value = values[name]
            if weight == "kernel":  # Spleeter convolves (time, freq); we convolve (freq, time)
                value = value.transpose(1, 0, 2, 3)
            by_layer.setdefault(layer, {})[weight] = value
    for layer_name, weights in by_layer.items():
        layer = network.get_layer(layer_name)
        order = [w.path.split("/")[-1] for w in layer.weights]
        layer.set_weights([weights[w] for w in order])
    return network


# ----------------------------------------------------------------------------- separation


def separate_like_spleeter(
    network, model: SpleeterModel, waveform: np.ndarray, batch: int = 1
) -> dict[str, np.ndarray]:
    """Spleeter's separation of a 44.1 kHz waveform (samples, channels), step for step.

    Mono input is duplicated and only the first two channels are used (Spleeter's
    `to_stereo`). Returns {source: (samples, 2) float32}.
    """
    import tensorflow as tf

    audio = model.preset.audio
    x = np.asarray(waveform, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    x = np.repeat(x[:, :1], 2, axis=1) if x.shape[1] == 1 else x[:, :2]
    n = len(x)

    def window(length, dtype):
        return tf.signal.hann_window(length, periodic=True, dtype=dtype)

    padded = tf.concat([tf.zeros((audio.n_fft, 2)), tf.constant(x)], 0)
    spec = tf.signal.stft(tf.transpose(padded), audio.n_fft, audio.hop, window_fn=window,
                          pad_end=True)  # (2, frames, bins)
    frames = int(spec.shape[1])
    t, f = audio.frames, audio.freq_bins
    segments = -(-frames // t)
    mag = tf.abs(spec[:, :, :f])
    mag = tf.pad(mag, [[0, 0], [0, segments * t - frames], [0, 0]])
    # (2, segments * T, F) -> (segments, F, T, 2): our layout, frequency first
    patches = tf.transpose(tf.reshape(mag, (2, segments, t, f)), (1, 3, 2, 0))
    masks = np.concatenate([
        np.asarray(network(patches[i : i + batch], training=False))
        for i in range(0, segments, batch)
    ])  # (segments, F, T, 2, K)
    masks = np.transpose(masks, (4, 3, 0, 2, 1)).reshape(len(model.instruments), 2, -1, f)
    masks = masks[:, :, :frames]
    bins = audio.n_fft // 2 + 1
    if model.mask_extension == "average":
        top = np.broadcast_to(masks.mean(-1, keepdims=True), (*masks.shape[:-1], bins - f))
    else:
        top = np.zeros((*masks.shape[:-1], bins - f), np.float32)
    masks = np.concatenate([masks, top], -1)
    out = {}
    for k, src in enumerate(model.instruments):
        masked = tf.cast(masks[k], tf.complex64) * spec
        wave = tf.signal.inverse_stft(masked, audio.n_fft, audio.hop, window_fn=window)
        wave = np.asarray(wave).T * WINDOW_COMPENSATION
        out[src] = np.ascontiguousarray(wave[audio.n_fft : audio.n_fft + n], np.float32)
    return out


def run_extra(model: SpleeterModel, origin: str) -> dict:
    """What config.json records about a converted model (under the key "spleeter")."""
    return {"spleeter": {**dataclasses.asdict(model), "origin": origin}}
