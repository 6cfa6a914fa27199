"""Media input/output: probe inputs, stream RGB frames out of them, encode frames with the original audio.

Images are numpy uint8 (H, W, 3) RGB throughout; memory stays flat with video length.
"""

from facetransfer.media.probe import MediaInfo, MediaKind, probe
from facetransfer.media.reader import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Frame,
    list_images,
    read_frames,
    read_image,
)
from facetransfer.media.writer import OUTPUT_FORMATS, VideoCodec, VideoWriter, encoded_size

__all__ = [
    "IMAGE_EXTENSIONS",
    "OUTPUT_FORMATS",
    "VIDEO_EXTENSIONS",
    "Frame",
    "MediaInfo",
    "MediaKind",
    "VideoCodec",
    "VideoWriter",
    "encoded_size",
    "list_images",
    "probe",
    "read_frames",
    "read_image",
]
