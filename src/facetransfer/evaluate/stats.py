"""Summary statistics of per-frame metrics (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def finite_values(values: Iterable[float | None]) -> np.ndarray:
    """float64 (K,) of the values that are neither None nor NaN/inf, in order."""
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return np.asarray(kept, dtype=np.float64)


def summarize(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """{"mean", "median", "p90", "count"} over the finite values; the statistics are None when
    there is no finite value (e.g. a metric that needs a face no frame had)."""
    kept = finite_values(values)
    if kept.size == 0:
        return {"mean": None, "median": None, "p90": None, "count": 0}
    return {
        "mean": round(float(kept.mean()), 6),
        "median": round(float(np.median(kept)), 6),
        "p90": round(float(np.percentile(kept, 90)), 6),
        "count": int(kept.size),
    }


def share(flags: Iterable[bool]) -> float | None:
    """Fraction of True in `flags`, None when empty."""
    items = list(flags)
    return None if not items else sum(1 for flag in items if flag) / len(items)
