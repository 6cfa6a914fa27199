"""Evaluation of a face swap: identity (source kept, target gone), pose and expression kept,
flicker, blend seam and faces lost, per frame and summarised; see docs/EVALUATE.md."""

from facetransfer.evaluate.pipeline import evaluate_swap
from facetransfer.evaluate.report import plot_metrics, worst_frames_sheet, write_report
from facetransfer.evaluate.results import (
    EVALUATION_FORMAT,
    EVALUATION_VERSION,
    SUMMARY_KEYS,
    EvaluateConfig,
    Evaluation,
    FrameMetrics,
)

__all__ = [
    "EVALUATION_FORMAT",
    "EVALUATION_VERSION",
    "SUMMARY_KEYS",
    "EvaluateConfig",
    "Evaluation",
    "FrameMetrics",
    "evaluate_swap",
    "plot_metrics",
    "worst_frames_sheet",
    "write_report",
]
