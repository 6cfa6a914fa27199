"""Conversion: render the target's faces as the source person and blend them back into the video.

Modules, in the order a face meets them:

- `schedule`: which faces to swap in each frame (the target faceset's person or every face), scene cuts;
- `smoothing`: One-Euro smoothing of each track's landmarks, and the jitter metric;
- `recipe`: the whole per-face recipe (crop, mask, colour, warp back, blend), in one function;
- `color`, `blend`: the colour matchers and the mask / warp / blend steps it uses;
- `predictor`: the trained model, batched; `outputs`: the files written; `pipeline`: the streaming driver.

`convert_video` and its config are imported lazily: they pull in PyTorch, which the command-line parser
does not need.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConvertConfig", "ConvertSummary", "convert_video"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from facetransfer.convert import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'facetransfer.convert' has no attribute {name!r}")
