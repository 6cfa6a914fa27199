import numpy as np

from facetransfer.faces.cuts import CutDetector
from facetransfer.faces.identity import cluster, distance_matrix
from facetransfer.faces.tracking import Tracker, iou, match_boxes


def test_iou_and_matching() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 5 * 10 / (200 - 50)
    previous = [(0, 0, 10, 10), (50, 50, 60, 60)]
    current = [(51, 50, 61, 60), (1, 0, 11, 10), (200, 200, 210, 210)]
    assert match_boxes(previous, current) == {0: 1, 1: 0}


def test_tracker_keeps_ids_and_starts_new_ones() -> None:
    tracker = Tracker()
    assert tracker.update([(0, 0, 10, 10), (50, 50, 60, 60)]) == [0, 1]
    assert tracker.update([(52, 50, 62, 60), (2, 0, 12, 10)]) == [1, 0]
    assert tracker.update([(100, 100, 110, 110)]) == [2]
    tracker.reset()
    assert tracker.update([(100, 100, 110, 110)]) == [3]


def test_cut_detector() -> None:
    detector = CutDetector()
    dark = np.full((90, 160, 3), 20, np.uint8)
    assert not detector.is_cut(dark)
    assert not detector.is_cut(dark + 3)
    assert detector.is_cut(np.full((90, 160, 3), 200, np.uint8))


def test_cluster_groups_people_and_orders_by_weight() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128), rng.normal(size=128)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    embeddings = np.stack([a + rng.normal(scale=0.01, size=128) for _ in range(3)] + [b, b + 0.001])
    weights = np.array([1.0, 1.0, 1.0, 10.0, 10.0])
    labels = cluster(embeddings.astype(np.float32), weights)
    assert labels.tolist() == [1, 1, 1, 0, 0]
    assert distance_matrix(embeddings[:1], embeddings[:1])[0, 0] == 0.0
