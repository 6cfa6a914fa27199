"""Provenance marks on every output: a signed C2PA manifest, an invisible watermark, a metadata tag,
an optional visible label; and `verify_file` to check a file for them. See docs/PROVENANCE.md.

The conversion stage uses it like this::

    config = ProvenanceConfig()                      # the commands build it from their flags
    payload = new_payload()
    marker = Watermarker(width, height, payload, config.watermark_strength)
    with VideoWriter(out, ..., metadata=container_metadata(payload)) as writer:
        for frame in frames:
            writer.write(marker.embed(frame))        # or embed(frame, region_mask=face_mask)
    signing = sign_file(out, target_path, config, payload=payload)
"""

from facetransfer.errors import ProvenanceError
from facetransfer.provenance.config import LABEL_CORNERS, LabelCorner, ProvenanceConfig, report_entry
from facetransfer.provenance.detect import FrameReading, VideoReading, VideoWatermarkReader, detect_watermark
from facetransfer.provenance.label import LabelPainter
from facetransfer.provenance.metadata import add_image_text, container_metadata, tag_image_file
from facetransfer.provenance.payload import TOOL_ID, PayloadInfo, decode_payload, make_payload, new_payload
from facetransfer.provenance.signing import can_sign, resolve_credentials, sign_file
from facetransfer.provenance.verify import VerifyReport, verify_file
from facetransfer.provenance.watermark import Watermarker

__all__ = [
    "LABEL_CORNERS",
    "TOOL_ID",
    "FrameReading",
    "LabelCorner",
    "LabelPainter",
    "PayloadInfo",
    "ProvenanceConfig",
    "ProvenanceError",
    "VerifyReport",
    "VideoReading",
    "VideoWatermarkReader",
    "Watermarker",
    "add_image_text",
    "can_sign",
    "container_metadata",
    "decode_payload",
    "detect_watermark",
    "make_payload",
    "new_payload",
    "report_entry",
    "resolve_credentials",
    "sign_file",
    "tag_image_file",
    "verify_file",
]
