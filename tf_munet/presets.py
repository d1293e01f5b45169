"""Presets: every setting that fixes a model's audio front end, network and optimiser.

A preset is data, not code: `Preset` dataclasses in one table (`PRESETS`). Everything else in
the package (pipelines, models, separation, export) reads its settings from a preset, so a new
configuration is a new row here, not a new function.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tf_munet.errors import UserError
from tf_munet_core.config import AudioConfig
from tf_munet_core.names import resolve_name, suggestion

STEMS: tuple[str, ...] = ("vocals", "drums", "bass", "other")
"""MUSDB18's four stems, in the order caches and pipelines store them; they sum to the mixture."""

SOURCE_STEMS: dict[str, tuple[str, ...]] = {
    **{stem: (stem,) for stem in STEMS},
    "accompaniment": ("drums", "bass", "other"),
}
"""Every source a run may train and evaluate on, as the MUSDB18 stems it is the sum of."""

PART_SOURCES: dict[str, str] = {"piano": "other"}
"""Sources no MUSDB18 stem holds alone, with the stem that holds them (Spleeter 5stems' piano
is part of `other`): runs with them separate and export, but cannot train or evaluate on MUSDB."""

SOURCE_SETS: dict[str, tuple[str, ...]] = {
    "4stems": STEMS,
    "2stems": ("vocals", "accompaniment"),
}
"""Named source sets (both add up to the mixture)."""


def is_exhaustive(sources) -> bool:
    """True when the sources add up to the mixture: together they hold every stem exactly once
    (a part source such as piano counts when the stem holding the rest of it is there too)."""
    parts = [s for s in sources if s in PART_SOURCES]
    if any(PART_SOURCES[s] not in sources for s in parts):
        return False
    whole = [s for s in sources if s not in PART_SOURCES]
    return sorted(stem for s in whole for stem in SOURCE_STEMS[s]) == sorted(STEMS)


ACTIVATIONS = ("leaky_relu", "relu", "elu")
"""Backbone activations: LeakyReLU with `leaky_slope`, ReLU, ELU (alpha 1, as Keras' and Spleeter's)."""

MASK_ACTIVATIONS = ("relu", "sigmoid", "softmax")
"""Mask heads: per mask ("relu", "sigmoid") or across the sources ("softmax")."""

AUTHORS_LOG_FLOOR = 2.2e-16
"""The floor of the M-U-Net authors' log input, log(|X| + 2.2e-16) (vskadandale/
multichannel-unet-bss `dataloaders.py`): the paper preset's `BackboneConfig.input_eps`."""


@dataclass(frozen=True)
class BackboneConfig:
    """The U-Net backbone.

    Attributes:
        kind: "double_conv" (paper: two 3x3 conv-BN-LeakyReLU per level, max-pool) or
            "strided" (Jansson/C-U-Net: one 5x5 stride-2 conv per level).
        widths: filters per encoder level (the last one is the bottleneck).
        dropout: dropout rate in decoder (strided: first three decoder blocks) or
            encoder/decoder blocks (double_conv, spatial dropout).
        leaky_slope: slope of every "leaky_relu" activation.
        bn_momentum: BatchNorm moving-average momentum (Keras convention; 0.9 = PyTorch 0.1).
        input_scaling: "log" (log magnitude, paper), "max" (divide by the patch maximum) or "none".
        input_eps: the floor of the input scaling (`layers.InputScaling` eps): log(x + eps), or
            x / (max + eps). The paper preset uses the authors' 2.2e-16 (numpy's float64
            machine epsilon, `dataloaders.py`), so a silent bin enters as log(2.2e-16) = -36;
            1e-3 elsewhere (and for run folders saved before this field existed).
        mask_activation: "relu" (unbounded masks, paper), "sigmoid" (Jansson, C-U-Net) or
            "softmax" (one softmax across the sources' masks, Spleeter 5stems; not C-U-Net,
            which computes one source's mask at a time).
        ratio_exponent: when set, the masks of all sources become Spleeter's ratio masks
            (m_k |X|)^p / sum_j (m_j |X|)^p with this p (`layers.RatioMasks`).
        encoder_dropout, decoder_dropout: per-side rates replacing `dropout` when set (the
            M-U-Net authors' C-U-Net baseline: none in the encoder, 0.5 in the decoder).
        conv_activation: activation of the encoder's convolutions (double_conv: of all its
            convolutions), one of `ACTIVATIONS` ("elu" in Spleeter 4stems and 5stems).
        deconv_activation: activation after the decoder's transposed convolutions (strided and
            spleeter backbones; double_conv has none there), one of `ACTIVATIONS`.
    """

    kind: str
    widths: tuple[int, ...]
    dropout: float
    leaky_slope: float
    bn_momentum: float = 0.9
    input_scaling: str = "max"
    input_eps: float = 1e-3
    mask_activation: str = "sigmoid"
    ratio_exponent: float | None = None
    encoder_dropout: float | None = None
    decoder_dropout: float | None = None
    conv_activation: str = "leaky_relu"
    deconv_activation: str = "relu"

    def __post_init__(self):
        for name, value, allowed in (("conv_activation", self.conv_activation, ACTIVATIONS),
                                     ("deconv_activation", self.deconv_activation, ACTIVATIONS),
                                     ("mask_activation", self.mask_activation, MASK_ACTIVATIONS)):
            if value not in allowed:
                raise ValueError(f"Unknown {name} {value!r}; choose one of {', '.join(allowed)}")

    def side_dropout(self, side: str) -> float:
        """Dropout rate of the "encoder" or "decoder" blocks."""
        rate = self.encoder_dropout if side == "encoder" else self.decoder_dropout
        return self.dropout if rate is None else rate


FILM_TYPES = ("simple", "complex")
FILM_CONTROLS = ("dense", "cnn", "authors")
FILM_INITS = ("identity", "reference")
CONTROL_DROPOUT = {"dense": 0.0, "cnn": 0.0, "authors": 0.1}
"""Control-generator dropout of each generator when the preset sets none. The C-U-Net reference
code uses 0.5; in runs of a few hundred to a thousand steps it made one-hot masks collapse to
zero (README, "C-U-Net"), so 0 here. The M-U-Net authors' baseline passes their CUNET_DROPOUT =
0.1 to its generators (vskadandale/multichannel-unet-bss `train/cunet.py`, `settings.py`; their
0.5 is the decoder's)."""


@dataclass(frozen=True)
class FilmConfig:
    """C-U-Net conditioning (Meseguer-Brocal & Peeters 2019).

    Attributes:
        film_type: "simple" (one gamma/beta scalar per encoder block) or "complex" (per channel).
        control: "dense" or "cnn" control generator of the C-U-Net reference code, or
            "authors": the M-U-Net authors' own C-U-Net baseline (two dense generators with
            ReLU outputs; see `models.families`).
        control_widths: hidden sizes of the control generator; None picks the reference's
            ([16, 64, 256] dense simple, [16, 256, 1024] dense complex, [16, 32, 64] cnn simple,
            [32, 64, 256] cnn complex, [32, 512, 4096] authors).
        control_dropout: dropout before each BatchNorm of the control generator (not after its
            first layer); None takes the generator's own (`CONTROL_DROPOUT`, see `dropout()`).
        init: "identity" (FiLM starts as gamma = 1, beta = 0: Glorot hidden layers, gamma bias
            1) or "reference" (every control weight N(0, 0.02), gamma and beta start near 0,
            as the reference code; slow to leave the all-zero-mask solution).
    """

    film_type: str = "complex"
    control: str = "dense"
    control_widths: tuple[int, ...] | None = None
    control_dropout: float | None = None
    init: str = "identity"

    def dropout(self) -> float:
        """The control generator's dropout rate: `control_dropout`, else its generator's own."""
        return CONTROL_DROPOUT[self.control] if self.control_dropout is None else self.control_dropout

    def widths(self) -> tuple[int, ...]:
        if self.control_widths is not None:
            return tuple(self.control_widths)
        table = {
            ("dense", "simple"): (16, 64, 256),
            ("dense", "complex"): (16, 256, 1024),
            ("cnn", "simple"): (16, 32, 64),
            ("cnn", "complex"): (32, 64, 256),
            ("authors", "simple"): (32, 512, 4096),
            ("authors", "complex"): (32, 512, 4096),
        }
        return table[(self.control, self.film_type)]


@dataclass(frozen=True)
class TrainDefaults:
    """Optimiser and schedule defaults of a preset."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    beta_1: float = 0.5
    momentum: float = 0.9
    batch_size: int = 16
    loss: str = "masked_l1"  # or "mask_l1" (L1 between masks)
    target_clip: float | None = None  # paper: ideal-ratio targets clipped to [0, 10]
    plateau_patience: int = 7
    plateau_threshold: float = 3e-4
    plateau_monitor: str = "val_sum_loss"
    early_stopping_patience: int = 20
    early_stopping_monitor: str = "val_sum_loss"
    epochs: int = 100
    steps_per_epoch: int = 200


@dataclass(frozen=True)
class Preset:
    """Everything a run needs apart from data, model family and weighting."""

    name: str
    audio: AudioConfig
    backbone: BackboneConfig
    train: TrainDefaults = field(default_factory=TrainDefaults)
    film: FilmConfig = field(default_factory=FilmConfig)
    description: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preset":
        def tup(v):
            return tuple(v) if isinstance(v, list) else v

        film = {k: tup(v) for k, v in d.get("film", {}).items()}
        backbone = {k: tup(v) for k, v in d["backbone"].items()}
        return cls(
            name=d["name"],
            audio=AudioConfig(**d["audio"]),
            backbone=BackboneConfig(**backbone),
            train=TrainDefaults(**d.get("train", {})),
            film=FilmConfig(**film),
            description=d.get("description", ""),
        )

    def replace(self, **sections) -> "Preset":
        """Copy with whole fields or nested fields replaced, e.g. `audio={"frames": 32}`."""
        updates = {}
        for key, value in sections.items():
            current = getattr(self, key)
            if isinstance(value, dict) and dataclasses.is_dataclass(current):
                value = dataclasses.replace(current, **value)
            updates[key] = value
        return dataclasses.replace(self, **updates)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            name="paper",
            description="Kadandale et al. 2020: 10880 Hz mono, STFT 1022/256, log-frequency "
            "warp to 256x256, log(|X| + 2.2e-16) input as the authors', 7-level double-conv "
            "U-Net (~124M params), ReLU masks, targets clipped to [0, 10], SGD.",
            audio=AudioConfig(
                sample_rate=10880, channels=1, n_fft=1022, hop=256, freq_bins=512, frames=256,
                warp_bins=256,
            ),
            backbone=BackboneConfig(
                kind="double_conv", widths=(32, 64, 128, 256, 512, 1024, 2048), dropout=0.1,
                leaky_slope=0.1, bn_momentum=0.9, input_scaling="log", input_eps=AUTHORS_LOG_FLOOR,
                mask_activation="relu",
            ),
            train=TrainDefaults(
                optimizer="sgd", learning_rate=0.01, momentum=0.9, batch_size=16,
                target_clip=10.0, plateau_patience=7, plateau_threshold=3e-4,
                # the authors' dwa.py: LR plateau on the weighted *train* loss, early stopping
                # on the weighted validation loss with patience 60 (settings.py)
                plateau_monitor="loss", early_stopping_patience=60, early_stopping_monitor="val_loss",
            ),
        ),
        Preset(
            name="cunet",
            description="C-U-Net / Jansson backbone: 8192 Hz mono, STFT 1024/256, 512x128 "
            "patches, 6 strided 5x5 levels (~9.8M params per mask), Adam.",
            audio=AudioConfig(
                sample_rate=8192, channels=1, n_fft=1024, hop=256, freq_bins=512, frames=128,
            ),
            backbone=BackboneConfig(
                kind="strided", widths=(16, 32, 64, 128, 256, 512), dropout=0.5,
                leaky_slope=0.2, bn_momentum=0.9, input_scaling="max",
                mask_activation="sigmoid",
            ),
            train=TrainDefaults(optimizer="adam", learning_rate=1e-3, beta_1=0.5, batch_size=16),
        ),
        Preset(
            name="fullband",
            description="44.1 kHz stereo, STFT 4096/1024, 1024 bins (~11 kHz) x 512 frames, "
            "strided 5x5 backbone (Spleeter's resolution, one network for all sources).",
            audio=AudioConfig(
                sample_rate=44100, channels=2, n_fft=4096, hop=1024, freq_bins=1024, frames=512,
            ),
            backbone=BackboneConfig(
                kind="strided", widths=(16, 32, 64, 128, 256, 512), dropout=0.5,
                leaky_slope=0.2, bn_momentum=0.9, input_scaling="max",
                mask_activation="sigmoid",
            ),
            train=TrainDefaults(optimizer="adam", learning_rate=1e-4, beta_1=0.9, batch_size=4),
        ),
        Preset(
            name="spleeter",
            description="Spleeter's 2/4/5stems models (Deezer): 44.1 kHz stereo, STFT 4096/1024, "
            "1024 bins (11 kHz) x 512 frames, one Spleeter U-Net per source, ratio masks "
            "(exponent 2). `python -m tf_munet.hub` converts the released checkpoints.",
            audio=AudioConfig(
                sample_rate=44100, channels=2, n_fft=4096, hop=1024, freq_bins=1024, frames=512,
            ),
            backbone=BackboneConfig(
                kind="spleeter", widths=(16, 32, 64, 128, 256, 512), dropout=0.5,
                leaky_slope=0.2, bn_momentum=0.99, input_scaling="none",
                mask_activation="sigmoid", ratio_exponent=2.0,
            ),
            train=TrainDefaults(optimizer="adam", learning_rate=1e-4, beta_1=0.9, batch_size=4),
        ),
        Preset(
            name="tiny",
            description="For tests and the default demo: 8192 Hz mono, STFT 256/64, 128x64 "
            "patches, 4 strided levels of width 8-64. Trains in seconds.",
            audio=AudioConfig(
                sample_rate=8192, channels=1, n_fft=256, hop=64, freq_bins=128, frames=64,
            ),
            backbone=BackboneConfig(
                kind="strided", widths=(8, 16, 32, 64), dropout=0.1, leaky_slope=0.2,
                bn_momentum=0.9, input_scaling="max", mask_activation="sigmoid",
            ),
            train=TrainDefaults(
                optimizer="adam", learning_rate=2e-3, beta_1=0.9, batch_size=8, epochs=4,
                steps_per_epoch=25, plateau_patience=3, early_stopping_patience=10,
            ),
            film=FilmConfig(film_type="complex", control="dense"),
        ),
    ]
}

PRESETS["spleeter-16kHz"] = PRESETS["spleeter"].replace(
    name="spleeter-16kHz", audio={"freq_bins": 1536},
    description="Spleeter's -16kHz models: the spleeter preset with 1536 bins (16.5 kHz).",
)


def get_preset(name: str) -> Preset:
    """Return the preset called `name` (any case); a clear error lists the known ones and
    suggests the closest."""
    try:
        return PRESETS[resolve_name(name, PRESETS, "preset")]
    except UserError as exc:
        raise UserError(f"Unknown preset: {exc}") from None


def resolve_sources(sources: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """'4stems' / '2stems' / 'vocals,drums' / a sequence (any case) -> tuple of source names."""
    if isinstance(sources, str):
        folded = {k.casefold(): k for k in SOURCE_SETS}
        if sources.strip().casefold() in folded:
            return SOURCE_SETS[folded[sources.strip().casefold()]]
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    known = (*SOURCE_STEMS, *PART_SOURCES)
    if not sources:
        raise UserError(f"Unknown sources {sources!r}; use names from {sorted(known)}.")
    out = []
    for s in sources:
        try:
            out.append(resolve_name(s, known, "source"))
        except UserError:
            raise UserError(f"Unknown sources [{s!r}]{suggestion(s, known)} (use 4stems, 2stems or "
                            f"names from {', '.join(known)})") from None
    return tuple(out)
