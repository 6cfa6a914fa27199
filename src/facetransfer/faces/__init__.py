"""The face toolkit every stage uses: detectors, the face mesh and its 68-point mapping, alignment,
tracking, scene cuts, the RetinaFace check, identity embeddings, head pose, and masks."""

from facetransfer.faces.align import COVERAGES, Coverage, alignment_matrices, template_points, warp_to_crop
from facetransfer.faces.detectors import DETECTORS, Detection, create_detector
from facetransfer.faces.finder import FaceFinder, FaceObservation
from facetransfer.faces.landmarker import MeshLandmarker

__all__ = [
    "COVERAGES",
    "DETECTORS",
    "Coverage",
    "Detection",
    "FaceFinder",
    "FaceObservation",
    "MeshLandmarker",
    "alignment_matrices",
    "create_detector",
    "template_points",
    "warp_to_crop",
]
