"""Pose and expression kept: compare the 68 landmarks of the output face with the target face's
(pure functions; landmarks float32 (68, 2) in frame pixels)."""

from __future__ import annotations

import numpy as np

from facetransfer.faces import landmarks as lm
from facetransfer.faces.align import apply_affine, umeyama
from facetransfer.faces.pose import head_pose

# Points that an expression hardly moves: brows, nose, and the eye corners. The two faces are aligned
# on these, so what is left on the eyes and the mouth is expression (and landmark noise).
STABLE_POINTS: tuple[int, ...] = (*range(17, 36), 36, 39, 42, 45)
# Points whose placement is the expression: both eyes (lids) and the whole mouth.
EXPRESSION_POINTS: tuple[int, ...] = (*range(36, 48), *range(48, 68))


def inter_ocular_px(landmarks: np.ndarray) -> float:
    """Distance in pixels between the two eye centres (mean of each eye's six points)."""
    right, left = lm.eye_centres(landmarks)
    return float(np.linalg.norm(left - right))


def pose_errors(
    landmarks_output: np.ndarray, landmarks_target: np.ndarray, frame_width: int, frame_height: int
) -> tuple[float, float, float, float]:
    """(|d yaw|, |d pitch|, |d roll|, Euclidean norm of the three) in degrees between the head poses
    of the two faces, each solved from its landmarks and the 3-D mean face (`head_pose`)."""
    output_pose = np.asarray(head_pose(landmarks_output, frame_width, frame_height))
    target_pose = np.asarray(head_pose(landmarks_target, frame_width, frame_height))
    difference = output_pose - target_pose
    # roll wraps at +-180; the other two stay well inside it for faces the landmarker finds
    difference = (difference + 180.0) % 360.0 - 180.0
    yaw, pitch, roll = (float(abs(v)) for v in difference)
    return yaw, pitch, roll, float(np.linalg.norm(difference))


def expression_error(landmarks_output: np.ndarray, landmarks_target: np.ndarray) -> float:
    """Mean distance between the eye and mouth points of the two faces after a similarity transform
    (fitted on `STABLE_POINTS`) maps the output face onto the target face, divided by the target's
    inter-ocular distance. 0 for identical landmarks; ~0.02-0.05 is typical landmark noise; an open
    against a closed mouth is ~0.1 and more."""
    stable = list(STABLE_POINTS)
    output_to_target = umeyama(landmarks_output[stable], landmarks_target[stable])
    moved = apply_affine(landmarks_output, output_to_target).astype(np.float64)
    points = list(EXPRESSION_POINTS)
    distances = np.linalg.norm(moved[points] - landmarks_target[points].astype(np.float64), axis=1)
    return float(distances.mean() / max(inter_ocular_px(landmarks_target), 1.0))
