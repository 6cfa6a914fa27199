"""The model and training options (`[model]`, `[train]`), declared once, and the named presets
(`tiny`, `cpu`, `gpu128`, `gpu256`). No PyTorch here: the command line reads these to build its flags.

`ModelConfig` is the architecture (stored in every checkpoint and never taken from the command line
when a model exists); `TrainConfig` is how it is trained (may change between runs of the same
model) and holds the augmentation (`AugmentConfig`) and the loss weights (`LossWeights`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal, get_args

from facetransfer.errors import ConfigError
from facetransfer.options import build, check_options, option, option_values

ColorTransfer = Literal["none", "rct", "lct"]
COLOR_TRANSFERS: tuple[str, ...] = get_args(ColorTransfer)

MIN_RESOLUTION_PX = 64
MAX_RESOLUTION_PX = 512


@dataclass(frozen=True)
class ModelConfig:
    """The architecture: the registry name and the options the model is built from."""

    SECTION: ClassVar[str] = "model"

    # a plain name, not a closed choice: the registry is open (`models.register_model`); it is
    # checked against the registry before any work (`models.registry.check_name`)
    name: str = option("liae", "architecture: df or liae (a model registry name)", flag="architecture")
    resolution: int = option(
        128,
        "side of the faces the model sees: a multiple of 16 (of 32 with depth-to-space)",
        unit="px",
        minimum=MIN_RESOLUTION_PX,
        maximum=MAX_RESOLUTION_PX,
    )
    bottleneck_width: int = option(256, "width of the shared code", minimum=1, maximum=8192)
    encoder_width: int = option(
        64, "encoder channels: its stages are 1, 2, 4, 8 times this", minimum=1, maximum=1024
    )
    decoder_width: int = option(
        64, "decoder channels: its stages are 8, 4, 2 times this", minimum=1, maximum=1024
    )
    mask_width: int = option(
        22, "mask decoder channels: its stages are 8, 4, 2 times this", minimum=1, maximum=1024
    )
    pixel_norm: bool = option(True, "normalise the encoder's code (DeepFaceLab's 'u')")
    depth_to_space: bool = option(
        True, "last decoder stage by depth-to-space (DeepFaceLab's 'd'; about 3.6 times less compute)"
    )

    def __post_init__(self) -> None:
        check_options(self)
        if self.resolution % 16:
            raise ConfigError(
                f"--resolution {self.resolution} px is not supported; use a multiple of 16 from "
                f"{MIN_RESOLUTION_PX} to {MAX_RESOLUTION_PX}"
            )
        if self.depth_to_space and self.resolution % 32:
            raise ConfigError(
                f"--resolution {self.resolution} px with depth-to-space needs a multiple of 32 (its "
                f"bottleneck works at resolution/32); use {self.resolution - 16} or "
                f"{self.resolution + 16}, or pass --no-depth-to-space"
            )

    def options(self) -> dict[str, Any]:
        """Everything but the name (for descriptions)."""
        payload = asdict(self)
        payload.pop("name")
        return payload

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> ModelConfig:
        return cls(**_known(cls, payload, "model"))


@dataclass(frozen=True)
class AugmentConfig:
    """How training faces are varied (part of `[train]`)."""

    random_warp: bool = option(True, "warp the input (turn off late in training to sharpen)")
    rotation_deg: float = option(10.0, "random rotation range", unit="deg", minimum=0.0, maximum=180.0)
    scale_range: float = option(0.05, "random zoom range (0.05: +-5%)", minimum=0.0, maximum=0.9)
    shift_range: float = option(0.05, "random shift range (fraction of the crop)", minimum=0.0, maximum=0.5)
    flip: bool = option(False, "random horizontal flips")
    color_jitter: float = option(0.05, "colour jitter strength (0: off)", minimum=0.0, maximum=1.0)
    color_transfer: ColorTransfer = option(
        "none", "match source samples to target colours: rct (Reinhard, Lab) or lct (linear)"
    )

    def __post_init__(self) -> None:
        check_options(self)


MaskMethod = Literal["skin", "hull"]
"""The automatic face masks (`faces.maskmethods`): skin pixels of the hull, or the whole hull."""

NO_AUGMENTATION = AugmentConfig(
    random_warp=False, rotation_deg=0.0, scale_range=0.0, shift_range=0.0, flip=False, color_jitter=0.0
)


@dataclass(frozen=True)
class LossWeights:
    """The weights of the loss terms (part of `[train]`; see `train.loss`)."""

    ssim_weight: float = option(10.0, "weight of the DSSIM term", minimum=0.0, maximum=1e6)
    pixel_weight: float = option(10.0, "weight of the pixel (MSE) term", minimum=0.0, maximum=1e6)
    mask_weight: float = option(10.0, "weight of the learned-mask term", minimum=0.0, maximum=1e6)
    eyes_mouth_weight: float = option(
        0.0,
        "extra weight on eye and mouth pixels (DeepFaceLab's eyes_mouth_prio is 300)",
        minimum=0.0,
        maximum=1e6,
    )
    gan_weight: float = option(
        0.0,
        "weight of a patch discriminator's adversarial loss on the source's faces (DeepFaceLab's GAN "
        "power: 0.1; 0: off)",
        minimum=0.0,
        maximum=100.0,
    )
    exclude_background: bool = option(True, "learn the face only, not the background")

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class TrainConfig:
    """Everything about training that is not the architecture. Budgets: `iterations` is the model's
    absolute step (like DeepFaceLab's), `minutes` this run's time, `total_minutes` the model's
    training time over all its runs; training stops at the first one reached."""

    SECTION: ClassVar[str] = "train"

    batch_size: int = option(8, "faces per person per step", minimum=1, maximum=4096)
    learning_rate: float = option(5e-5, "AdamW learning rate", minimum=1e-9, maximum=1.0)
    weight_decay: float = option(0.0, "AdamW weight decay", minimum=0.0, maximum=1.0)
    warmup_steps: int = option(0, "linear learning-rate warm-up", unit="steps", minimum=0, maximum=10_000_000)
    clip_grad_norm: float = option(0.0, "clip the gradient norm to this (0: off)", minimum=0.0, maximum=1e6)
    iterations: int | None = option(
        None, "stop when the model reaches this step", minimum=0, maximum=100_000_000
    )
    minutes: float | None = option(
        None, "stop after this many minutes of this run", unit="minutes", minimum=1e-4, maximum=1e6
    )
    total_minutes: float | None = option(
        None,
        "stop when the model has trained this long over all its runs (a rerun finishes the budget)",
        unit="minutes",
        minimum=0.01,
        maximum=1e6,
    )
    save_every_min: float = option(
        15.0, "save every this many minutes", unit="minutes", minimum=0.1, maximum=1e6
    )
    save_every_steps: int = option(
        0, "also save every N steps (0: by time only)", minimum=0, maximum=100_000_000
    )
    preview_every: int = option(500, "preview grid every N steps (0: off)", minimum=0, maximum=100_000_000)
    keep_saves: int = option(3, "keep the last K saves", minimum=1, maximum=1000)
    log_every: int = option(10, "metrics line every N steps", minimum=1, maximum=100_000_000)
    base: str = option(
        "auto",
        "what a new model starts from: auto (its preset's shipped base, if any), none (from scratch), "
        "a base or model folder, or a base .safetensors file",
        metavar="auto|none|PATH",
    )
    face_mask: MaskMethod = option(
        "skin",
        "the face region training learns and the mask output imitates: skin (hair, glasses, hands "
        "and objects in front of the face left out) or the landmark hull",
    )
    balance_yaw: bool = option(False, "draw faces evenly over head yaw (turned heads as often as frontal)")
    sharpen_fraction: float = option(
        0.25,
        "the last fraction of the budget (--iterations or --total-minutes) trains without random "
        "warp, the learning rate falling linearly to a tenth (0: off)",
        minimum=0.0,
        maximum=1.0,
    )
    lr_dropout: float = option(
        1.0,
        "keep each weight's update with this probability each step, the rest left as they were "
        "(DeepFaceLab's learning-rate dropout keeps 0.3; 1: off)",
        minimum=0.01,
        maximum=1.0,
    )
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    holdout_fraction: float = option(0.05, "faces held out to pick the best save", minimum=0.0, maximum=0.49)
    seed: int = option(0, "random seed", minimum=0, maximum=2**62)
    compile: bool = option(False, "compile the model with torch.compile")
    channels_last: bool | None = option(
        None, "channels_last memory format (not set: on with CUDA, off on the CPU, where it is slower)"
    )
    nan_patience: int = option(
        3, "consecutive non-finite steps before rolling back to the last save", minimum=1, maximum=1000
    )
    device: str = option("auto", "auto, cpu, cuda or cuda:N", metavar="DEVICE")
    threads: int = option(
        0, "CPU threads for PyTorch (0: one per core; 1 is faster on a busy machine)", minimum=0, maximum=1024
    )

    def __post_init__(self) -> None:
        check_options(self)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> TrainConfig:
        """Also reads the flat layout of earlier model folders (augmentation and loss fields at the
        top level, the loss weights named `ssim_weight`, ...)."""
        data = dict(payload)
        nested: dict[str, Any] = {}
        for name, nested_class in (("augment", AugmentConfig), ("loss", LossWeights)):
            values = dict(data.pop(name, {}) or {})
            for item in fields(nested_class):
                if item.name in data:
                    values[item.name] = data.pop(item.name)
            nested[name] = nested_class(**_known(nested_class, values, "train"))
        data.setdefault("face_mask", "hull")  # models from before masks were stored learned the hull
        return cls(**_known(cls, data, "train"), **nested)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)


def _known(cls: type, payload: Mapping[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(payload) - names)
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return dict(payload)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "tiny",
            "for tests: df, 64 px, narrow; learns 8 faces in about a minute on a CPU",
            ModelConfig("df", 64, bottleneck_width=64, encoder_width=16, decoder_width=8, mask_width=4),
            TrainConfig(batch_size=4, learning_rate=3e-3, preview_every=50, save_every_min=5.0),
        ),
        Preset(
            "cpu",
            "a few CPU cores, about an hour to a recognisable face: df, 96 px, narrow, depth-to-space",
            ModelConfig("df", 96, bottleneck_width=128, encoder_width=32, decoder_width=32, mask_width=12),
            TrainConfig(
                batch_size=4, learning_rate=5e-4, warmup_steps=100, preview_every=100, save_every_min=10.0
            ),
        ),
        Preset(
            "gpu128",
            "DeepFaceLab's default: liae, 128 px, bottleneck 256, encoder 64, decoder 64, mask 22",
            ModelConfig("liae", 128, bottleneck_width=256, encoder_width=64, decoder_width=64, mask_width=22),
            TrainConfig(batch_size=16, learning_rate=5e-5, preview_every=500, save_every_min=15.0),
        ),
        Preset(
            "gpu256",
            "DeepFaceLab's default widths at 256 px (liae, two DSSIM scales); a 16 GB card or more",
            ModelConfig("liae", 256, bottleneck_width=256, encoder_width=64, decoder_width=64, mask_width=22),
            TrainConfig(batch_size=8, learning_rate=5e-5, preview_every=500, save_every_min=15.0),
        ),
    )
}
PresetName = Literal["tiny", "cpu", "gpu128", "gpu256"]


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def with_options(config: Any, **changes: Any) -> Any:
    """A copy of a frozen config with `changes` by field name (nested fields by their own names,
    e.g. `flip` for `TrainConfig.augment.flip`); None values are ignored, an unknown name is a
    `ConfigError`, a bad value too."""
    return build(type(config), option_values(type(config), changes), config)
