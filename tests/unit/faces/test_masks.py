import numpy as np

from facetransfer.faces.align import template_points
from facetransfer.faces.masks import erode_or_dilate, eyes_mask, face_hull_mask, feather, mouth_mask


def test_face_masks_cover_the_right_regions() -> None:
    points = template_points(128, "full")
    hull = face_hull_mask(points, 128, 128)
    assert hull.dtype == np.float32 and hull.shape == (128, 128)
    assert 0.25 < hull.mean() < 0.6
    assert hull[int(points[30, 1]), int(points[30, 0])] == 1.0  # nose tip inside
    assert hull[2, 2] == 0.0
    eyes, mouth = eyes_mask(points, 128, 128), mouth_mask(points, 128, 128)
    assert eyes[int(points[36:42, 1].mean()), int(points[36:42, 0].mean())] == 1.0
    assert mouth[int(points[48:60, 1].mean()), int(points[48:60, 0].mean())] == 1.0
    assert (eyes * mouth).sum() == 0
    assert eyes.sum() < hull.sum() and mouth.sum() < hull.sum()


def test_erode_dilate_and_feather() -> None:
    square = np.zeros((64, 64), np.float32)
    square[16:48, 16:48] = 1
    assert erode_or_dilate(square, 4).sum() == 24 * 24
    assert erode_or_dilate(square, -4).sum() > 32 * 32
    soft = feather(square, 8)
    assert soft[32, 32] > 0.99 and 0.3 < soft[32, 16] < 0.7 and soft[32, 4] < 0.05
    np.testing.assert_array_equal(feather(square, 0), square)
