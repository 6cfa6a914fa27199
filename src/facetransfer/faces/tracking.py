"""Linking faces across frames into tracks (pure functions and a small stateful tracker)."""

from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(previous: list[Box], current: list[Box], min_iou: float = 0.3) -> dict[int, int]:
    """Greedy one-to-one matching by IoU: {current index: previous index} for pairs above `min_iou`."""
    pairs = sorted(
        ((iou(p, c), pi, ci) for pi, p in enumerate(previous) for ci, c in enumerate(current)), reverse=True
    )
    used_previous: set[int] = set()
    matches: dict[int, int] = {}
    for overlap, pi, ci in pairs:
        if overlap < min_iou:
            break
        if pi in used_previous or ci in matches:
            continue
        matches[ci] = pi
        used_previous.add(pi)
    return matches


@dataclass
class Tracker:
    """Assigns track ids: a face in frame t continues the track of the best-overlapping face of frame
    t-1; a face with no such partner starts a new track. `reset` ends all tracks (scene cut, new input)."""

    next_id: int = 0
    boxes: list[Box] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def update(self, boxes: list[Box]) -> list[int]:
        matches = match_boxes(self.boxes, boxes)
        ids = []
        for index in range(len(boxes)):
            if index in matches:
                ids.append(self.ids[matches[index]])
            else:
                ids.append(self.next_id)
                self.next_id += 1
        self.boxes, self.ids = list(boxes), ids
        return ids

    def reset(self) -> None:
        self.boxes, self.ids = [], []
