"""Preview grids: what the model makes of a few fixed faces, written as PNG.

Each row holds one source face and one target face; the columns are::

    source | source->source | its mask | target | target->target | its mask | target->source | its mask

The last pair is the swap: the target face rendered as the source person.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from facetransfer.fsutil import write_bytes_atomic
from facetransfer.models.base import FaceSwapModel

COLUMNS: tuple[str, ...] = ("source", "src>src", "mask", "target", "dst>dst", "mask", "dst>src", "mask")
KEEP_PREVIEWS = 200


def _tiles(images: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [0, 1] -> uint8 (N, H, W, 3); one channel is shown as grey."""
    array = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    if array.shape[1] == 1:
        array = array.expand(-1, 3, -1, -1)
    return array.permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def render_preview(
    model: FaceSwapModel,
    source_faces: torch.Tensor,
    target_faces: torch.Tensor,
    autocast_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """uint8 (H, W, 3) RGB grid for float32 (N, 3, R, R) source and target faces in [0, 1] (same N)."""
    was_training = model.training
    model.eval()
    device_type = source_faces.device.type
    with torch.autocast(
        device_type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None
    ):
        source_image, source_mask = model.forward_source(source_faces)
        target_image, target_mask = model.forward_target(target_faces)
        swap_image, swap_mask = model.swap(target_faces)
    model.train(was_training)
    columns = [
        _tiles(source_faces),
        _tiles(source_image),
        _tiles(source_mask),
        _tiles(target_faces),
        _tiles(target_image),
        _tiles(target_mask),
        _tiles(swap_image),
        _tiles(swap_mask),
    ]
    rows = [np.concatenate([column[i] for column in columns], axis=1) for i in range(source_faces.shape[0])]
    body = np.concatenate(rows, axis=0)
    return np.concatenate([_header(source_faces.shape[-1]), body], axis=0)


def _header(tile_px: int) -> np.ndarray:
    height = max(14, tile_px // 5)
    header = np.full((height, tile_px * len(COLUMNS), 3), 32, dtype=np.uint8)
    scale = height / 40.0
    for index, label in enumerate(COLUMNS):
        (width, text_height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        x = index * tile_px + max(1, (tile_px - width) // 2)
        y = (height + text_height) // 2
        cv2.putText(header, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), 1, cv2.LINE_AA)
    return header


def write_preview(previews_dir: Path, step: int, grid_rgb: np.ndarray, keep: int = KEEP_PREVIEWS) -> Path:
    """Write `grid_rgb` as previews/step_XXXXXXXX.png and previews/latest.png (atomically); keep
    the newest `keep` step files."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(grid_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding of the preview failed")
    path = previews_dir / f"step_{step:08d}.png"
    write_bytes_atomic(path, encoded.tobytes())
    write_bytes_atomic(previews_dir / "latest.png", encoded.tobytes())
    for old in sorted(previews_dir.glob("step_*.png"))[:-keep]:
        old.unlink(missing_ok=True)
    return path
