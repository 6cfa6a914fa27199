"""Live mode: frames from a camera, a video or a stream, swapped with conversion's recipe as they
arrive, marked, and shown in a window, written to a file or fed to a virtual camera; frames are
dropped, never queued, when the swap is slower than the input. See docs/LIVE.md."""

from facetransfer.live.config import LIVE_LABEL, LiveConfig
from facetransfer.live.pipeline import LiveSummary, run_live

__all__ = ["LIVE_LABEL", "LiveConfig", "LiveSummary", "run_live"]
