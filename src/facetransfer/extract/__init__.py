"""Face extraction: media -> the faces of one person -> a faceset (see `extract_faceset`). The face
toolkit it uses (detectors, landmarks, alignment, tracking, identity) is `facetransfer.faces`."""

from facetransfer.extract.pipeline import ExtractConfig, ExtractSummary, extract_faceset, extract_for_model

__all__ = ["ExtractConfig", "ExtractSummary", "extract_faceset", "extract_for_model"]
