"""Trained models outside the tool: `export_model` writes a model folder's swap path as ONNX, in the
project's layout (`onnx`) or DeepFaceLab's (`dfm`, read by DeepFaceLive and FaceFusion), checked
against PyTorch with onnxruntime. See docs/LIVE.md.

Importing this package loads neither PyTorch nor onnx; `export_model` does.
"""

from facetransfer.export.config import EXPORT_FORMATS, ExportConfig
from facetransfer.export.writer import ExportSummary, export_model, is_export_file

__all__ = ["EXPORT_FORMATS", "ExportConfig", "ExportSummary", "export_model", "is_export_file"]
