"""The options of fitting a mask model (`[mask]`), declared once (see `facetransfer.options`)."""

from __future__ import annotations

from dataclasses import dataclass

from facetransfer.errors import ConfigError
from facetransfer.options import check_options, option

RESOLUTION_MULTIPLE = 8
"""The input side of a four-level `MaskModel` must be a multiple of this (`model.side_multiple`)."""


@dataclass(frozen=True)
class MaskFitSettings:
    """Options of `fit_mask_model` (flattened into `[mask]` of `facetransfer mask`). Sizes in pixels."""

    resolution: int = option(
        128,
        "network input side, a multiple of 8 (crops are resized to it)",
        unit="px",
        minimum=32,
        maximum=512,
    )
    steps: int = option(600, "optimisation steps", minimum=1, maximum=1_000_000)
    batch_size: int = option(8, "faces per optimisation step", minimum=1, maximum=1024)
    learning_rate: float = option(1e-3, "peak learning rate (Adam)", minimum=1e-7, maximum=1.0)
    user_weight: float = option(
        4.0, "weight of a hand-painted mask's loss against an automatic one", minimum=0.0, maximum=1000.0
    )
    seed: int = option(
        0, "random seed (the same seed and faces: the same model)", minimum=0, maximum=2**31 - 1
    )
    threads: int = option(0, "PyTorch CPU threads while fitting (0: leave as is)", minimum=0, maximum=1024)

    def __post_init__(self) -> None:
        check_options(self)
        if self.resolution % RESOLUTION_MULTIPLE:
            raise ConfigError(
                f"--resolution ([mask] resolution): expected a multiple of {RESOLUTION_MULTIPLE}, "
                f"found {self.resolution}"
            )
