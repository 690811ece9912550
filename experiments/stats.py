"""Means and 95 % confidence intervals over seeds (Student's t)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scipy import stats


def mean_ci95(values: Sequence[float | None]) -> dict[str, Any]:
    """``{"mean": m, "ci95": [lo, hi]}``; the interval is None with fewer than two values."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not xs:
        return {"mean": None, "ci95": None}
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return {"mean": m, "ci95": None}
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    half = float(stats.t.ppf(0.975, len(xs) - 1)) * sd / math.sqrt(len(xs))
    return {"mean": m, "ci95": [m - half, m + half]}
