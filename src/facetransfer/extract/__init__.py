"""Face extraction: detection, 68 landmarks, alignment, tracking, identity, and faceset writing."""

from facetransfer.extract.align import COVERAGES, Coverage, alignment_matrices, template_points, warp_to_crop
from facetransfer.extract.detectors import DETECTORS, Detection, create_detector
from facetransfer.extract.landmarker import MeshLandmarker
from facetransfer.extract.pipeline import ExtractConfig, ExtractSummary, FaceFinder, extract_faceset

__all__ = [
    "COVERAGES",
    "DETECTORS",
    "Coverage",
    "Detection",
    "ExtractConfig",
    "ExtractSummary",
    "FaceFinder",
    "MeshLandmarker",
    "alignment_matrices",
    "create_detector",
    "extract_faceset",
    "template_points",
    "warp_to_crop",
]
