"""A contact sheet of the same frames of a target video and of outputs made from it, side by side.

    python tools/compare_sheet.py TARGET.mp4 "from scratch=a.mp4" "from base=b.mp4" -o sheet.jpg
        [--frames 0 20 40 60] [--face] [--tile 256]

Rows are frames, columns the target then each output (captioned). With `--face` each tile is a square
around the target's face (found in the target frame) instead of the whole frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def frames_of(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    from facetransfer.media import read_frames

    found = {}
    for frame in read_frames(path):
        if frame.index in wanted:
            found[frame.index] = frame.image
        if frame.index >= max(wanted):
            break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", type=Path)
    parser.add_argument("outputs", nargs="+", metavar="LABEL=VIDEO")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 20, 40, 60])
    parser.add_argument("--face", action="store_true", help="tiles around the target's face")
    parser.add_argument("--tile", type=int, default=256)
    args = parser.parse_args()

    from facetransfer.evaluate.regions import crop, face_window
    from facetransfer.faces.detectors import create_detector
    from facetransfer.faces.landmarker import MeshLandmarker
    from facetransfer.sheet import contact_sheet

    columns = [("target", args.target)] + [
        (label, Path(path)) for label, path in (item.split("=", 1) for item in args.outputs)
    ]
    videos = {label: frames_of(path, args.frames) for label, path in columns}
    detector, landmarker = create_detector("mediapipe"), MeshLandmarker()
    tiles, captions = [], []
    try:
        for index in args.frames:
            target = videos["target"][index]
            window = (0, 0, target.shape[1], target.shape[0])
            if args.face:
                detections = detector.detect(target)
                landmarks = landmarker.landmarks68(target, detections[0].bbox) if detections else None
                if landmarks is not None:
                    height, width = target.shape[:2]
                    window = face_window(landmarks, height, width, scale=1.4)
            for label, _path in columns:
                tiles.append(crop(videos[label][index], window))
                captions.append(f"f{index} {label}")
    finally:
        detector.close()
        landmarker.close()
    sheet = contact_sheet(tiles, columns=len(columns), tile_px=args.tile, captions=captions)
    quality = [cv2.IMWRITE_JPEG_QUALITY, 90] if args.output.suffix.lower() in (".jpg", ".jpeg") else []
    cv2.imwrite(str(args.output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), quality)
    print(args.output)


if __name__ == "__main__":
    main()
