"""Skin masks on a real face: occluders painted over it are left out, face parts are kept."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facetransfer.faces import landmarks as lm
from facetransfer.faces.masks import face_hull_mask
from facetransfer.faces.skin import skin_mask

SIZE = 192


@pytest.fixture(scope="module")
def face(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    """A real frontal face with nothing in front of it: (crop uint8 RGB, landmarks_crop)."""
    from facetransfer.extract import ExtractConfig, extract_faceset
    from facetransfer.faceset import open_faceset

    folder = tmp_path_factory.mktemp("skin") / "faceset"
    extract_faceset([shared_data / "image/faces/obama.jpg"], folder, ExtractConfig(crop_size=SIZE))
    faceset = open_faceset(folder)
    record = faceset.records[0]
    return faceset.read_crop(record), record.landmarks_crop


def _inside(mask: np.ndarray, region: np.ndarray) -> float:
    """Mean mask value over the pixels of a bool region."""
    return float(mask[region].mean())


def test_a_bare_face_is_nearly_its_whole_hull(face: tuple[np.ndarray, np.ndarray]) -> None:
    crop, landmarks = face
    mask = skin_mask(crop, landmarks)
    hull = face_hull_mask(landmarks, SIZE, SIZE)
    assert mask.shape == (SIZE, SIZE) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert mask[hull < 0.01].max() == 0.0  # never outside the hull
    assert _inside(mask, hull > 0.5) > 0.9
    eye_centre = landmarks[lm.RIGHT_EYE].mean(0).round().astype(int)
    mouth_centre = landmarks[lm.OUTER_LIP].mean(0).round().astype(int)
    assert mask[eye_centre[1], eye_centre[0]] > 0.9 and mask[mouth_centre[1], mouth_centre[0]] > 0.9


def _brow_bar(landmarks: np.ndarray) -> tuple[int, int]:
    """Rows of a band over both brows."""
    brows = np.concatenate([landmarks[lm.RIGHT_BROW], landmarks[lm.LEFT_BROW]])
    return int(brows[:, 1].min() - 0.06 * SIZE), int(brows[:, 1].max())


def test_a_fringe_painted_over_the_brows_is_left_out(face: tuple[np.ndarray, np.ndarray]) -> None:
    crop, landmarks = face
    top, bottom = _brow_bar(landmarks)
    fringed = crop.copy()
    fringed[top:bottom] = (58, 40, 30)  # dark brown hair across the whole crop, brows included
    hull = face_hull_mask(landmarks, SIZE, SIZE) > 0.5
    bar = np.zeros_like(hull)
    bar[top + 2 : bottom - 2] = True
    mask = skin_mask(fringed, landmarks)
    assert _inside(mask, bar & hull) < 0.1
    below = hull.copy()
    below[: bottom + 8] = False
    assert _inside(mask, below) > 0.85  # the rest of the face stays
    assert _inside(skin_mask(crop, landmarks), bar & hull) > 0.8  # the brows themselves were face


def test_a_microphone_from_below_is_left_out_and_a_mole_is_kept(face: tuple[np.ndarray, np.ndarray]) -> None:
    crop, landmarks = face
    occluded = crop.copy()
    chin_x, mouth_bottom = int(landmarks[8, 0]), int(landmarks[57, 1])
    cv2.rectangle(occluded, (chin_x - 10, mouth_bottom + 6), (chin_x + 10, SIZE), (70, 70, 75), -1)
    cheek = landmarks[[2, 31, 48]].mean(0).round().astype(int)
    cv2.circle(occluded, (int(cheek[0]), int(cheek[1])), 5, (60, 40, 35), -1)  # a dark spot inside skin
    mask = skin_mask(occluded, landmarks)
    microphone = np.zeros((SIZE, SIZE), bool)
    microphone[mouth_bottom + 9 : SIZE, chin_x - 7 : chin_x + 8] = True
    hull = face_hull_mask(landmarks, SIZE, SIZE) > 0.5
    assert _inside(mask, microphone & hull) < 0.1
    assert mask[cheek[1], cheek[0]] > 0.9  # enclosed by skin: part of the face


def test_odd_inputs(face: tuple[np.ndarray, np.ndarray]) -> None:
    crop, landmarks = face
    with pytest.raises(ValueError, match="square"):
        skin_mask(crop[:, :-1], landmarks)
    assert skin_mask(crop, landmarks - 10 * SIZE).max() == 0.0  # a face outside the crop
    small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    assert skin_mask(small, landmarks * (64 / SIZE)).shape == (64, 64)
