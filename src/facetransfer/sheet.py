"""Contact sheets: a grid of images with optional captions (uint8 RGB in, uint8 RGB out)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from facetransfer.fsutil import atomic_path
from facetransfer.safety import owner_tags


def contact_sheet(
    images: Sequence[np.ndarray],
    columns: int = 8,
    tile_px: int = 128,
    captions: Sequence[str] | None = None,
    gap_px: int = 2,
) -> np.ndarray:
    """uint8 (H, W, 3) RGB grid of `images` (each uint8 HWC RGB, resized to `tile_px` squares)."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    columns = max(1, min(columns, len(images)))
    rows = (len(images) + columns - 1) // columns
    step = tile_px + gap_px
    sheet = np.full((rows * step + gap_px, columns * step + gap_px, 3), 24, dtype=np.uint8)
    for index, image in enumerate(images):
        tile = cv2.resize(image, (tile_px, tile_px), interpolation=cv2.INTER_AREA)
        if captions is not None and captions[index]:
            cv2.putText(tile, captions[index], (3, tile_px - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 2)
            cv2.putText(
                tile, captions[index], (3, tile_px - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1
            )
        row, column = divmod(index, columns)
        y, x = gap_px + row * step, gap_px + column * step
        sheet[y : y + tile_px, x : x + tile_px] = tile
    return sheet


def tint_outside(image_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): `image_rgb` with the pixels a float mask (H, W) leaves out (below 0.5) tinted
    dark red, to show masks on contact sheets."""
    tinted = (image_rgb * np.array([0.55, 0.25, 0.25], np.float32)).astype(np.uint8)
    return np.where(mask[..., None] < 0.5, tinted, image_rgb)


def write_png(path: str | Path, image_rgb: np.ndarray) -> None:
    """Write a uint8 RGB image as PNG, atomically."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode {path} as PNG")
    from facetransfer.provenance.metadata import add_image_text

    data = encoded.tobytes()
    with atomic_path(path, suffix=".png") as tmp:
        tmp.write_bytes(add_image_text(data, owner_tags()) or data)
