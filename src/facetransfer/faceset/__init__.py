"""On-disk facesets: a versioned manifest, one JSON record per face, and the aligned crops."""

from facetransfer.faceset.io import Faceset, FacesetWriter, open_faceset
from facetransfer.faceset.schema import FACESET_VERSION, FaceRecord, FacesetManifest

__all__ = ["FACESET_VERSION", "FaceRecord", "Faceset", "FacesetManifest", "FacesetWriter", "open_faceset"]
