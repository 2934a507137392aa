"""Capacity: where a bundle's scope exceeds what its team can do (a warning, never a
refusal: the release manager may override it with a reason)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def over_capacity(
    capacity_points: int,
    subsystem_capacity: Mapping[str, int],
    loads: Iterable[tuple[int, Sequence[str]]],
) -> list[dict[str, Any]]:
    """Where a scope of (size, subsystems) items exceeds capacity. A request counts its
    whole size against each subsystem it touches: work is not split between them."""
    items = list(loads)
    warnings = []
    total = sum(size for size, _ in items)
    if total > capacity_points:
        warnings.append({"scope": "total", "load": total, "capacity": capacity_points})
    for subsystem, capacity in sorted(subsystem_capacity.items()):
        load = sum(size for size, touched in items if subsystem in touched)
        if load > capacity:
            warnings.append({"scope": subsystem, "load": load, "capacity": capacity})
    return warnings
