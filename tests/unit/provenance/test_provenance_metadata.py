"""Metadata tags: in MP4 containers through VideoWriter, in PNG text chunks and JPEG comments."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facetransfer import __version__
from facetransfer.media import VideoWriter, probe, read_image
from facetransfer.provenance import container_metadata, make_payload, tag_image_file
from facetransfer.provenance.metadata import PROVENANCE_KEY, find_provenance_text, image_text_tags


def test_tags_name_synthetic_faces_tool_and_version() -> None:
    tags = container_metadata(make_payload(0xABCDEF))
    assert set(tags) == {"comment", "description", PROVENANCE_KEY}
    for value in tags.values():
        assert "synthetic faces" in value.lower() and "facetransfer" in value
    assert __version__ in tags["comment"]
    assert "watermark=f7abcdef" in tags[PROVENANCE_KEY]
    assert "watermark" not in container_metadata()[PROVENANCE_KEY]


def test_find_provenance_text() -> None:
    assert find_provenance_text(container_metadata()) is not None
    assert find_provenance_text({"comment": "holiday video", "encoder": "Lavf"}) is None
    assert find_provenance_text({"comment": "synthetic faces by another tool"}) is None


def test_mp4_keeps_the_tags(tmp_path: Path) -> None:
    output = tmp_path / "tagged.mp4"
    with VideoWriter(
        output, width=64, height=48, fps=25, metadata=container_metadata(), preset="ultrafast"
    ) as writer:
        for index in range(3):
            writer.write(np.full((48, 64, 3), 40 * index, dtype=np.uint8))
    tags = probe(output).tags
    assert find_provenance_text(tags) is not None
    assert PROVENANCE_KEY in tags and "synthetic faces" in tags["comment"].lower()


def _gradient() -> np.ndarray:
    ys, xs = np.mgrid[0:40, 0:50]
    return np.stack([xs * 5, ys * 6, np.full_like(xs, 90)], axis=-1).astype(np.uint8)


def test_png_and_jpeg_text_round_trip(tmp_path: Path) -> None:
    image = _gradient()
    for suffix in (".png", ".jpg"):
        path = tmp_path / f"image{suffix}"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        assert find_provenance_text(image_text_tags(path)) is None
        assert tag_image_file(path, make_payload(1))
        found = find_provenance_text(image_text_tags(path))
        assert found is not None and "facetransfer" in found
        decoded = read_image(path)  # still a valid image with the same pixels
        if suffix == ".png":
            np.testing.assert_array_equal(decoded, image)
        else:
            assert np.abs(decoded.astype(int) - image).mean() < 3
        assert list(tmp_path.glob(".*tmp")) == []


def test_other_formats_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "image.bmp"
    cv2.imwrite(str(path), _gradient())
    before = path.read_bytes()
    assert not tag_image_file(path)
    assert path.read_bytes() == before
    assert image_text_tags(path) == {}
