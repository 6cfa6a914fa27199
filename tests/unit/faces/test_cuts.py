"""Scene-cut detection: silent within a shot, fires on the first frame of a new one."""

from __future__ import annotations

import numpy as np
import pytest

from facetransfer.faces.cuts import CutDetector, colour_signature, signature_distance
from facetransfer.media import read_frames


def _scene(seed: int, shift: int = 0) -> np.ndarray:
    generator = np.random.default_rng(seed)
    image = np.repeat(np.repeat(generator.integers(0, 256, (9, 16, 3), dtype=np.uint8), 20, 0), 20, 1)
    return np.roll(image, shift, axis=1)


def test_signature_distance_range() -> None:
    first = colour_signature(_scene(1))
    assert signature_distance(first, first) == 0.0
    black, white = np.zeros((36, 64, 3), np.uint8), np.full((36, 64, 3), 255, np.uint8)
    assert signature_distance(colour_signature(black), colour_signature(white)) == pytest.approx(1.0)


def test_cut_fires_once_at_the_new_shot_and_not_for_motion() -> None:
    detector = CutDetector()
    shots = [_scene(1, shift) for shift in range(0, 40, 4)] + [_scene(2, shift) for shift in range(0, 40, 4)]
    cuts = [index for index, image in enumerate(shots) if detector.is_cut(image)]
    assert cuts == [10]


def test_cuts_of_the_shared_clips(shared_data) -> None:
    """The three cuts of the Hamilton clip, and none in a GRID clip."""
    for name, expected in (("hard/hamilton_multiface_cuts.mp4", [20, 82, 211]), ("grid/lbbc2a.mpg", [])):
        detector = CutDetector()
        found = [
            frame.index for frame in read_frames(shared_data / "video" / name) if detector.is_cut(frame.image)
        ]
        assert found == expected, name
