"""Typed configurations and the named presets (`tiny`, `cpu`, `gpu128`, `gpu256`).

`ModelConfig` is the architecture (stored in every checkpoint and never taken from the command line
when a model exists); `TrainConfig` is how it is trained (may change between runs of the same model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args

from facetransfer.errors import ConfigError

ColorTransfer = Literal["none", "rct", "lct"]
COLOR_TRANSFERS: tuple[str, ...] = get_args(ColorTransfer)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture: the registry name and the constructor options of the model."""

    name: str = "liae"
    resolution: int = 128
    bottleneck_width: int = 256
    encoder_width: int = 64
    decoder_width: int = 64
    mask_width: int = 22
    pixel_norm: bool = True
    depth_to_space: bool = True

    def options(self) -> dict[str, Any]:
        """The constructor keywords (everything but the name)."""
        payload = asdict(self)
        payload.pop("name")
        return payload

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> ModelConfig:
        return cls(**_known(cls, payload, "model"))


@dataclass(frozen=True)
class TrainConfig:
    """Everything about training that is not the architecture. Times are in minutes or seconds as
    their names say; `None` means "no limit"."""

    batch_size: int = 8
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_steps: int = 0
    clip_grad_norm: float = 0.0  # 0 turns clipping off
    iterations: int | None = None  # stop when the model reaches this step (absolute, like DeepFaceLab)
    minutes: float | None = None  # stop after this many minutes of this run
    save_every_min: float = 15.0
    save_every_steps: int = 0  # 0: only by time and at stops
    preview_every: int = 500
    keep_saves: int = 3
    log_every: int = 10
    # augmentation
    random_warp: bool = True
    rotation_deg: float = 10.0
    scale_range: float = 0.05
    shift_range: float = 0.05
    flip: bool = False
    color_jitter: float = 0.05
    color_transfer: ColorTransfer = "none"
    # loss
    ssim_weight: float = 10.0
    pixel_weight: float = 10.0
    mask_weight: float = 10.0
    eyes_mouth_weight: float = 0.0
    exclude_background: bool = True
    # data and run
    holdout_fraction: float = 0.05
    seed: int = 0
    compile: bool = False
    channels_last: bool | None = None  # None: on for CUDA, off for CPU (measured slower there)
    nan_patience: int = 3  # consecutive non-finite steps before rolling back to the last save
    device: str = "auto"
    threads: int = 0  # CPU threads for PyTorch; 0 keeps its default (one per physical core)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> TrainConfig:
        return cls(**_known(cls, payload, "train"))

    def validate(self) -> None:
        """Raise `ConfigError` for values out of range."""
        checks: list[tuple[bool, str]] = [
            (self.batch_size >= 1, f"batch size must be at least 1, not {self.batch_size}"),
            (self.learning_rate > 0, f"learning rate must be positive, not {self.learning_rate}"),
            (
                self.iterations is None or self.iterations >= 0,
                f"iterations must be >= 0, not {self.iterations}",
            ),
            (self.minutes is None or self.minutes > 0, f"minutes must be positive, not {self.minutes}"),
            (self.save_every_min > 0, f"save interval must be positive minutes, not {self.save_every_min}"),
            (self.preview_every >= 0, f"preview interval must be >= 0 steps, not {self.preview_every}"),
            (self.keep_saves >= 1, f"keep-saves must be at least 1, not {self.keep_saves}"),
            (
                0 <= self.holdout_fraction < 0.5,
                f"hold-out fraction must be in [0, 0.5), not {self.holdout_fraction}",
            ),
            (
                self.color_transfer in COLOR_TRANSFERS,
                f"colour transfer must be one of {', '.join(COLOR_TRANSFERS)}, not {self.color_transfer!r}",
            ),
            (self.nan_patience >= 1, f"nan patience must be at least 1, not {self.nan_patience}"),
            (self.threads >= 0, f"threads must be >= 0 (0: PyTorch's default), not {self.threads}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)


def _known(cls: type, payload: dict[str, Any], what: str) -> dict[str, Any]:
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


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def with_options(config: Any, **changes: Any) -> Any:
    """A copy of a frozen config dataclass with `changes` (keys with value None are ignored);
    `ConfigError` for a key the dataclass does not have."""
    what = "model" if isinstance(config, ModelConfig) else "train"
    _known(type(config), changes, what)
    return replace(config, **{key: value for key, value in changes.items() if value is not None})
