"""Loading facesets into arrays with landmark masks; the held-out split; memory mapping; sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_fixtures import SOURCE_PERSON, FacesetFactory, write_test_faceset

from facetransfer.errors import FacesetError
from facetransfer.faces.align import template_points
from facetransfer.faces.masks import face_hull_mask
from facetransfer.train.data import FaceSampler, holdout_split, load_faces


def test_faces_load_at_the_model_resolution_with_masks(make_faceset: FacesetFactory, tmp_path: Path) -> None:
    faceset = make_faceset(SOURCE_PERSON, 11, 96)
    data = load_faces(faceset, 64, holdout_fraction=0.1, cache_dir=tmp_path)
    assert data.images.shape == (11, 64, 64, 3) and data.images.dtype == np.uint8
    assert data.masks.shape == (11, 64, 64, 3) and data.masks.dtype == np.uint8
    assert not data.memory_mapped and data.coverage == "face" and data.crop_size == 96
    hull = face_hull_mask(template_points(64, "face"), 64, 64)
    np.testing.assert_allclose(data.masks[0, ..., 0] / 255.0, hull, atol=1 / 255 + 1e-6)
    eyes, mouth = data.masks[0, ..., 1] > 127, data.masks[0, ..., 2] > 127
    assert eyes.sum() > 20 and mouth.sum() > 10
    rows_eyes, rows_mouth = np.nonzero(eyes)[0], np.nonzero(mouth)[0]
    assert rows_eyes.mean() < rows_mouth.mean()  # eyes above the mouth
    assert len(data.holdout_indices) == 1 and len(data.train_indices) == 10
    assert set(data.holdout_indices) | set(data.train_indices) == set(range(11))


def test_large_facesets_are_memory_mapped_with_the_same_contents(
    make_faceset: FacesetFactory, tmp_path: Path
) -> None:
    faceset = make_faceset(SOURCE_PERSON, 8, 64)
    in_memory = load_faces(faceset, 64)
    mapped = load_faces(faceset, 64, cache_dir=tmp_path / "cache", memory_limit_bytes=0)
    assert mapped.memory_mapped and isinstance(mapped.images, np.memmap)
    assert not mapped.images.flags.writeable
    np.testing.assert_array_equal(np.asarray(mapped.images), in_memory.images)
    np.testing.assert_array_equal(np.asarray(mapped.masks), in_memory.masks)
    images, masks = FaceSampler(mapped, mapped.train_indices, torch.device("cpu")).sample(0, 4, seed=0)
    assert images.shape == (4, 64, 64, 3) and images.dtype == torch.uint8 and masks.shape == (4, 64, 64, 3)


def test_holdout_split_is_stable_when_faces_are_added_or_removed() -> None:
    ids = [f"face_{i:04d}" for i in range(200)]
    train, holdout = holdout_split(ids, 0.05, seed=0)
    assert len(holdout) == 10 and len(train) == 190
    held = {ids[i] for i in holdout}
    _train, holdout_more = holdout_split([*ids, *(f"new_{i}" for i in range(20))], 0.05, seed=0)
    held_more = {([*ids, *(f"new_{i}" for i in range(20))])[i] for i in holdout_more}
    assert len(held & held_more) >= 9  # adding faces moves at most the boundary face
    assert holdout_split(ids[:9], 0.05)[1].size == 0  # tiny facesets hold nothing out
    assert not np.array_equal(holdout_split(ids, 0.05, seed=1)[1], holdout)


def test_an_empty_faceset_is_a_clear_error(tmp_path: Path) -> None:
    empty = write_test_faceset(tmp_path / "empty", [], 64)
    with pytest.raises(FacesetError, match="has no faces"):
        load_faces(empty, 64)


def test_batches_visit_every_face_once_per_epoch_and_ranks_take_different_faces(
    make_faceset: FacesetFactory,
) -> None:
    data = load_faces(make_faceset(SOURCE_PERSON, 8, 64), 64, holdout_fraction=0.0)
    sampler = FaceSampler(data, data.train_indices, torch.device("cpu"))
    epoch = np.concatenate([sampler.batch_positions(step, 3, seed=5) for step in range(8)])  # 24 = 3 epochs
    for start in range(0, 24, 8):
        assert sorted(epoch[start : start + 8]) == list(range(8))
    assert not np.array_equal(epoch[:8], epoch[8:16])  # a new order each epoch
    np.testing.assert_array_equal(sampler.batch_positions(4, 3, seed=5), epoch[12:15])  # a pure function
    rank0 = sampler.batch_positions(0, 4, seed=5, rank=0, world_size=2)
    rank1 = sampler.batch_positions(0, 4, seed=5, rank=1, world_size=2)
    assert sorted([*rank0, *rank1]) == list(range(8))
    images, masks = sampler.sample(0, 4, seed=5)
    assert masks.shape == images.shape
    np.testing.assert_array_equal(images.numpy(), data.images[sampler.batch_positions(0, 4, seed=5)])
