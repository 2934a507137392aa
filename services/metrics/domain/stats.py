"""Percentiles and averages, the same way everywhere.

Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank
ceil(p/100 * n) (1-based). It is always one of the observed values, so a consumer who
recomputes it from the raw log gets exactly the same number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

PERCENTILES = (50, 70, 85, 95)


def nearest_rank(ordered: Sequence[float], p: int) -> float | None:
    """The p-th nearest-rank percentile of values already sorted ascending."""
    if not ordered:
        return None
    if not 0 < p <= 100:
        raise ValueError("a percentile is between 1 and 100")
    rank = -(-p * len(ordered) // 100)  # ceil without floating point
    return ordered[max(rank, 1) - 1]


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def summary(values: Iterable[float], percentiles: Sequence[int] = PERCENTILES) -> dict[str, Any]:
    """Count, mean, min, max and the nearest-rank percentiles of `values`."""
    ordered = sorted(values)
    out: dict[str, Any] = {
        "count": len(ordered),
        "mean": mean(ordered),
        "min": ordered[0] if ordered else None,
        "max": ordered[-1] if ordered else None,
    }
    for p in percentiles:
        out[f"p{p}"] = nearest_rank(ordered, p)
    return out


def change_percent(current: float | None, previous: float | None) -> float | None:
    """Relative change from `previous` to `current` in percent, one decimal."""
    if current is None or previous is None or previous == 0:
        return None
    return round((current - previous) / previous * 100, 1)


def exact_average(scores: dict[str, int]) -> float | None:
    """The unrounded mean of whole-number scores given as {score: how many} (a
    satisfaction distribution): what a change is computed from, not the rounded mean."""
    count = sum(scores.values())
    return sum(int(score) * n for score, n in scores.items()) / count if count else None
