"""Training data: both facesets held in memory as uint8 arrays at the model's resolution, with
their landmark masks, and a held-out split for the "best" checkpoint.

Crops are resized once at load time (area filter when shrinking) so that augmentation samples at
the model's size. When the arrays would not fit comfortably in memory they are written to `.npy`
files in a cache folder and memory-mapped instead.
"""

from __future__ import annotations

import logging
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from facetransfer.errors import FacesetError
from facetransfer.faces.masks import eyes_mask, face_hull_mask, mouth_mask
from facetransfer.faceset import FaceRecord, open_faceset
from facetransfer.faceset.masks import face_mask, stray_user_masks

logger = logging.getLogger(__name__)

MASK_NAMES: tuple[str, ...] = ("face_hull", "eyes", "mouth")
# Use at most this fraction of the available memory for in-memory arrays; beyond it, memory-map.
MEMORY_FRACTION = 0.5


@dataclass
class FaceData:
    """One person's faces at the model's resolution.

    images: uint8 (N, R, R, 3) RGB; masks: uint8 (N, R, R, 3) face hull, eyes, mouth (255 inside);
    both may be read-only memory maps. `train_indices` and `holdout_indices` split the faces.
    """

    name: str
    root: Path
    images: np.ndarray
    masks: np.ndarray
    face_ids: list[str]
    train_indices: np.ndarray
    holdout_indices: np.ndarray
    coverage: str
    crop_size: int
    memory_mapped: bool = False
    yaw_deg: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    extra: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.face_ids)


def available_memory_bytes() -> int:
    """Memory the system could give us now (Linux: MemAvailable), or a large number when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def holdout_split(face_ids: list[str], fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train_indices, holdout_indices): the `fraction` of faces with the smallest hash of their id.

    A face's side depends only on its id and the seed, so adding or deleting faces between runs
    does not move the others across the split. With fewer than 10 faces nothing is held out."""
    count = len(face_ids)
    holdout_count = round(fraction * count) if count >= 10 else 0
    if fraction > 0 and count >= 10:
        holdout_count = max(1, holdout_count)
    keys = np.array([zlib.crc32(f"{seed}:{face_id}".encode()) for face_id in face_ids], dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    holdout = np.sort(order[:holdout_count])
    train = np.sort(order[holdout_count:])
    return train.astype(np.int64), holdout.astype(np.int64)


def landmark_masks(landmarks: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, size, 3): face hull, eyes and mouth masks from (68, 2) landmarks in pixels."""
    channels = [
        face_hull_mask(landmarks, size, size),
        eyes_mask(landmarks, size, size),
        mouth_mask(landmarks, size, size),
    ]
    return (np.stack(channels, axis=-1) * 255.0 + 0.5).astype(np.uint8)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[0] == size and image.shape[1] == size:
        return image
    shrinking = image.shape[0] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def load_faces(
    path: str | os.PathLike[str],
    resolution: int,
    holdout_fraction: float = 0.05,
    seed: int = 0,
    cache_dir: Path | None = None,
    memory_limit_bytes: int | None = None,
    workers: int = 4,
    mask_method: str = "hull",
) -> FaceData:
    """Read a faceset into uint8 arrays at `resolution` with landmark masks and a held-out split.

    The first mask channel is the face region that training learns: the landmark hull, narrowed by
    the face's mask (`faceset.masks.face_mask`: painted, stored or computed now) unless `mask_method`
    is "hull".

    When the arrays exceed `memory_limit_bytes` (default: half the available memory) and
    `cache_dir` is given, they are written there as `.npy` files and memory-mapped read-only.
    Raises `FacesetError` when the faceset is missing or empty."""
    faceset = open_faceset(path)
    records = faceset.records
    if not records:
        raise FacesetError(f"{faceset.root}: the faceset has no faces; extract faces into it first")
    crop_size = int(faceset.manifest.crop_size)
    for name in stray_user_masks(faceset)[:1]:
        logger.warning(
            "%s: user_masks/%s matches no face; name a painted mask as the face's crop file",
            faceset.root,
            name,
        )
    if crop_size < resolution:
        logger.warning(
            "%s: crops are %d px but the model is %d px; they are upscaled "
            "(extract at %d px or more for sharp results)",
            faceset.root,
            crop_size,
            resolution,
            resolution,
        )
    count = len(records)
    array_bytes = 2 * count * resolution * resolution * 3
    limit = (
        memory_limit_bytes
        if memory_limit_bytes is not None
        else int(available_memory_bytes() * MEMORY_FRACTION)
    )
    use_memory_map = cache_dir is not None and array_bytes > limit
    name = faceset.root.name or "faceset"
    if use_memory_map:
        assert cache_dir is not None
        cache_dir.mkdir(parents=True, exist_ok=True)
        logger.info(
            "%s: %d faces (%.1f GB) are memory-mapped from %s", name, count, array_bytes / 1e9, cache_dir
        )
        images_path = cache_dir / f"{name}_{resolution}_images.npy"
        masks_path = cache_dir / f"{name}_{resolution}_masks.npy"
        images = np.lib.format.open_memmap(
            images_path,
            mode="w+",
            dtype=np.uint8,
            shape=(count, resolution, resolution, 3),
        )
        masks = np.lib.format.open_memmap(
            masks_path,
            mode="w+",
            dtype=np.uint8,
            shape=(count, resolution, resolution, 3),
        )
    else:
        images = np.empty((count, resolution, resolution, 3), dtype=np.uint8)
        masks = np.empty((count, resolution, resolution, 3), dtype=np.uint8)

    def load_one(index_record: tuple[int, FaceRecord]) -> bool:
        index, record = index_record
        try:
            crop = faceset.read_crop(record)
        except FacesetError as error:  # a damaged crop among many: leave it out, say so
            logger.warning("%s; left out", error)
            return False
        if crop.shape[0] != crop.shape[1]:
            raise FacesetError(
                f"{faceset.crop_path(record)}: crop is {crop.shape[1]}x{crop.shape[0]}, not square"
            )
        images[index] = _resize(crop, resolution)
        regions = landmark_masks(record.landmarks_crop * (resolution / crop.shape[0]), resolution)
        if mask_method != "hull":
            face = _resize(face_mask(faceset, record, crop, mask_method), resolution)
            narrowed = regions[..., 0].astype(np.float32) * np.clip(face, 0.0, 1.0)
            regions[..., 0] = (narrowed + 0.5).astype(np.uint8)
        masks[index] = regions
        return True

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        loaded = list(pool.map(load_one, enumerate(records)))
    keep = [index for index, ok in enumerate(loaded) if ok]
    if not keep:
        raise FacesetError(f"{faceset.root}: none of its crops can be read; re-extract the faceset")
    for new, old in enumerate(keep):  # close the gaps the unreadable crops left (in place: memory maps too)
        if new != old:
            images[new], masks[new] = images[old], masks[old]
    records = [records[index] for index in keep]
    if use_memory_map:
        assert isinstance(images, np.memmap) and isinstance(masks, np.memmap)
        images.flush()
        masks.flush()
        del images, masks
        images = np.load(images_path, mmap_mode="r")
        masks = np.load(masks_path, mmap_mode="r")
    images, masks = images[: len(records)], masks[: len(records)]
    face_ids = [record.face_id for record in records]
    train, holdout = holdout_split(face_ids, holdout_fraction, seed)
    logger.info("%s: %d faces loaded at %d px (%d held out)", name, len(records), resolution, len(holdout))
    return FaceData(
        name=name,
        root=faceset.root,
        images=images,
        masks=masks,
        face_ids=face_ids,
        train_indices=train,
        holdout_indices=holdout,
        coverage=str(faceset.manifest.coverage),
        crop_size=crop_size,
        memory_mapped=use_memory_map,
        yaw_deg=np.array([record.yaw_deg for record in records], dtype=np.float32),
    )


YAW_BIN_DEG = 15.0
"""Width of the head-yaw bins that balanced sampling draws from evenly."""


def yaw_bins(yaw_deg: np.ndarray, width_deg: float = YAW_BIN_DEG) -> list[np.ndarray]:
    """Positions of the faces grouped by head yaw in bins of `width_deg` (only bins with faces)."""
    keys = np.floor(np.clip(yaw_deg, -90.0, 90.0) / width_deg).astype(np.int64)
    return [np.flatnonzero(keys == key) for key in np.unique(keys)]


class FaceSampler:
    """Draws random batches of uint8 images and masks onto a device.

    On CUDA the training faces are copied to the GPU once when they fit in `gpu_fraction` of its free
    memory, so sampling never waits for the CPU; otherwise each batch is gathered on the CPU and
    copied from pinned memory without blocking."""

    def __init__(
        self,
        data: FaceData,
        indices: np.ndarray,
        device: torch.device,
        gpu_fraction: float = 0.25,
        balance_yaw: bool = False,
    ) -> None:
        if len(indices) == 0:
            raise FacesetError(f"{data.root}: no faces left to train on after the hold-out split")
        self.data = data
        self.indices = np.asarray(indices, dtype=np.int64)
        self.device = device
        self.yaw_bins = yaw_bins(data.yaw_deg[self.indices]) if balance_yaw and len(data.yaw_deg) else None
        self._images: torch.Tensor | None = None
        self._masks: torch.Tensor | None = None
        if device.type == "cuda":
            needed = 2 * len(self.indices) * data.images[0].nbytes
            free, _total = torch.cuda.mem_get_info(device)
            if needed < gpu_fraction * free:
                self._images = torch.from_numpy(np.ascontiguousarray(data.images[self.indices])).to(device)
                self._masks = torch.from_numpy(np.ascontiguousarray(data.masks[self.indices])).to(device)

    def __len__(self) -> int:
        return len(self.indices)

    def batch_positions(
        self, step: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> np.ndarray:
        """Positions of step `step`'s batch: the faces are visited in a new random order every epoch
        (each face once per epoch, as DeepFaceLab does), and the ranks of a data-parallel run take
        consecutive, different slices. With yaw balancing, each face is drawn by picking a yaw bin
        first, all bins alike, then a face in it. A pure function of its arguments, so a resumed run
        repeats."""
        count = len(self.indices)
        if self.yaw_bins is not None:
            rng = np.random.default_rng([seed, step, rank, world_size])
            chosen_bins = rng.integers(0, len(self.yaw_bins), size=batch_size)
            return np.array(
                [self.yaw_bins[b][rng.integers(0, len(self.yaw_bins[b]))] for b in chosen_bins],
                dtype=np.int64,
            )
        start = (step * world_size + rank) * batch_size
        positions = np.arange(start, start + batch_size, dtype=np.int64)
        epochs = positions // count
        picks = np.empty(batch_size, dtype=np.int64)
        for epoch in np.unique(epochs):
            order = np.random.default_rng([seed, int(epoch)]).permutation(count)
            chosen = epochs == epoch
            picks[chosen] = order[positions[chosen] % count]
        return picks

    def sample(
        self, step: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, R, R, 3) images and masks of step `step`'s batch, on the device."""
        return self.take(self.batch_positions(step, batch_size, seed, rank, world_size))

    def take(self, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The faces at `positions` (into this sampler's indices), uint8 on the device."""
        if self._images is not None and self._masks is not None:
            where = torch.as_tensor(positions, device=self.device)
            return self._images[where], self._masks[where]
        rows = self.indices[positions]
        images = torch.from_numpy(np.ascontiguousarray(self.data.images[rows]))
        masks = torch.from_numpy(np.ascontiguousarray(self.data.masks[rows]))
        if self.device.type == "cuda":
            return images.pin_memory().to(self.device, non_blocking=True), masks.pin_memory().to(
                self.device, non_blocking=True
            )
        return images, masks
