"""The evaluation report folder: `metrics.json`, `metrics.png` (per-frame metrics over time) and
`worst_frames.png` (thumbnails of the worst frames by identity and by flicker, metric on each)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from facetransfer.evaluate.results import EVALUATION_FORMAT, THUMB_PX, Evaluation, FrameMetrics, WorstFrame
from facetransfer.faces.identity import SAME_PERSON_DISTANCE
from facetransfer.fsutil import atomic_dir, atomic_path, write_json_atomic
from facetransfer.safety import check_output, has_json_format
from facetransfer.sheet import contact_sheet, write_png

METRICS_NAME = "metrics.json"
PLOT_NAME = "metrics.png"
SHEET_NAME = "worst_frames.png"


def _series(frames: Sequence[FrameMetrics], key: str) -> np.ndarray:
    values = [getattr(frame, key) for frame in frames]
    return np.array(
        [np.nan if v is None or not math.isfinite(v) else float(v) for v in values], dtype=np.float64
    )


def plot_metrics(evaluation: Evaluation, path: str | Path) -> None:
    """Write a PNG of the per-frame metrics against the frame index: identity distances, pose and
    expression errors, flicker (output and target), seam; frames whose output lost the face are
    shaded red on every panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = evaluation.frames
    x = np.array([frame.frame for frame in frames])
    missing = [frame.frame for frame in frames if frame.output_face is False]
    panels: list[tuple[str, list[tuple[str, str]]]] = [
        ("identity distance", [("identity_to_source", "to source"), ("identity_to_target", "to target")]),
        ("pose error (deg)", [("pose_error_deg", "|d pose|"), ("yaw_error_deg", "|d yaw|")]),
        ("expression error\n(/ eye distance)", [("expression_error", "eyes + mouth")]),
        ("detail kept\n(output / target)", [("detail_ratio", "inner face, band-pass")]),
        (
            "flicker (luma)",
            [
                ("flicker_warp_output", "warp error, output"),
                ("flicker_warp_target", "warp error, target"),
                ("flicker_warp_excess", "excess"),
            ],
        ),
        ("seam", [("seam_color", "colour step change (dE)"), ("seam_gradient_excess", "gradient excess")]),
        ("lower forehead\n(dE to target)", [("forehead_color", "hair smudge / covered hair")]),
    ]
    figure, axes = plt.subplots(len(panels), 1, figsize=(12, 2.1 * len(panels)), sharex=True)
    for axis, (title, lines) in zip(axes, panels, strict=True):
        for key, label in lines:
            values = _series(frames, key)
            axis.plot(x, values, marker=".", markersize=3, linewidth=1, label=label)
        if title.startswith("identity"):
            axis.axhline(
                SAME_PERSON_DISTANCE, color="grey", linestyle="--", linewidth=0.8, label="same person <"
            )
        for index in missing:
            axis.axvspan(index - 0.5, index + 0.5, color="red", alpha=0.15, linewidth=0)
        axis.set_ylabel(title, fontsize=8)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    axes[-1].set_xlabel("frame")
    retrieval = evaluation.retrieval()
    source_share = retrieval["source"]
    headline = (
        f"{Path(evaluation.output).name} vs target {Path(evaluation.target).name}: "
        f"{len(frames)} frames, source retrieval "
        + ("n/a" if source_share is None else f"{100 * source_share:.0f}%")
        + f", faces missing {evaluation.faces()['output_missing']}"
    )
    figure.suptitle(headline, fontsize=10)
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of `image` with `text` along its bottom edge, white with a dark outline."""
    out = image.copy()
    height = out.shape[0]
    scale = max(0.35, height / 400.0)
    origin = (4, height - 7)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _blank(text: str) -> np.ndarray:
    tile = np.full((THUMB_PX, THUMB_PX, 3), 40, dtype=np.uint8)
    cv2.putText(tile, text, (8, THUMB_PX // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 200, 200), 1)
    return tile


def worst_frames_sheet(evaluation: Evaluation) -> np.ndarray:
    """uint8 RGB sheet, one row per metric: the frames farthest from the source identity, those with
    the most flicker excess, and those with the least fine detail; each tile is the output's face
    with the target's in the top-right corner, captioned with the frame and the metric."""
    columns = max(1, evaluation.config.worst_frames)

    def row(items: list[WorstFrame], label: str, empty: str, sign: float = 1.0) -> list[np.ndarray]:
        images = [
            caption(item.image, label.format(frame=item.frame, value=sign * item.value)) for item in items
        ]
        images = images[:columns] or [_blank(empty)]
        return images + [_blank("")] * (columns - len(images))

    identity_row = row(evaluation.worst_identity, "f{frame} id->src {value:.3f}", "identity not measured")
    flicker_row = row(evaluation.worst_flicker, "f{frame} flicker {value:+.2f}", "flicker not measured")
    detail_row = row(evaluation.worst_detail, "f{frame} detail {value:.2f}", "detail not measured", -1.0)
    return contact_sheet(identity_row + flicker_row + detail_row, columns=columns, tile_px=THUMB_PX)


def is_report(folder: str | Path) -> bool:
    """A report folder written by `write_report` (its metrics.json is of the evaluation format)."""
    return has_json_format(Path(folder) / METRICS_NAME, EVALUATION_FORMAT)


def check_report_folder(folder: str | Path, inputs: Sequence[str | Path]) -> None:
    """Before any work: the report folder is new, empty, or an earlier report (which is replaced)."""
    check_output(folder, inputs, overwrite=True, is_ours=is_report, what="evaluate report")


def write_report(evaluation: Evaluation, folder: str | Path) -> dict[str, str]:
    """Write metrics.json, metrics.png and worst_frames.png into `folder`, atomically: an earlier
    report there is replaced once the new one is complete. Returns {"metrics": path, "plot": path,
    "sheet": path}."""
    root = Path(folder)
    names = {"metrics": METRICS_NAME, "plot": PLOT_NAME, "sheet": SHEET_NAME}
    payload = evaluation.to_json()
    payload["report"] = dict(names)
    with atomic_dir(root, overwrite=True) as temporary:
        write_json_atomic(temporary / METRICS_NAME, payload)
        plot_metrics(evaluation, temporary / PLOT_NAME)
        write_png(temporary / SHEET_NAME, worst_frames_sheet(evaluation))
    return {key: str(root / name) for key, name in names.items()}
