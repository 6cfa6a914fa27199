import numpy as np

from facetransfer.evaluate.forehead import forehead_band, forehead_color_error
from facetransfer.faces import landmarks as lm
from facetransfer.faces.align import template_points


def test_a_smudge_on_the_forehead_counts_and_the_rest_of_the_face_does_not() -> None:
    size = 160
    landmarks = template_points(size, "full")
    target = np.full((size, size, 3), (200, 160, 140), np.uint8)
    band = forehead_band(landmarks, size, size)
    brow_top = int(np.concatenate([landmarks[lm.RIGHT_BROW], landmarks[lm.LEFT_BROW]])[:, 1].min())
    assert band.any() and not band[brow_top + 2 :].any()  # only above the brows
    assert forehead_color_error(target, target, landmarks) == 0.0
    changed_below = target.copy()
    changed_below[brow_top + 4 :] = (90, 60, 50)
    assert forehead_color_error(changed_below, target, landmarks) == 0.0
    smudged = target.copy()
    smudged[band] = (50, 35, 30)  # dark hair over the lower forehead
    assert forehead_color_error(smudged, target, landmarks) > 30.0
    assert forehead_color_error(target, target, landmarks * 0.05) is None  # too small to measure
