"""Fixtures for the training tests (see `train_fixtures` for how the facesets are made)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_fixtures import SOURCE_PERSON, TARGET_PERSON, FacesetFactory, write_test_faceset


@pytest.fixture(scope="session")
def make_faceset(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> FacesetFactory:
    """`make_faceset(person, count, crop_size)` -> a faceset folder (cached for the session)."""
    cache: dict[tuple[str, int, int], Path] = {}
    base = tmp_path_factory.mktemp("facesets")

    def make(person: str, count: int, crop_size: int) -> Path:
        key = (person, count, crop_size)
        if key not in cache:
            photos = sorted((shared_data / "identity" / "johns" / person).glob("*.jpg"))
            if len(photos) < count:
                pytest.skip(f"{person} has {len(photos)} photos, {count} needed")
            cache[key] = write_test_faceset(base / f"{person}_{count}_{crop_size}", photos[:count], crop_size)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def face_pair(make_faceset: FacesetFactory) -> tuple[Path, Path]:
    """(source, target) facesets of 8 real faces each at 64 px."""
    return make_faceset(SOURCE_PERSON, 8, 64), make_faceset(TARGET_PERSON, 8, 64)
