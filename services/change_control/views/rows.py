"""Rows of the change control views as the API serves them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.change_control.domain.gates import Blackout
from services.change_control.domain.values import Window
from services.change_control.views.changes import unpack
from shared.contracts import CHANGE_REFERENCES

FLAGS = (
    "backout_tested", "operations_approver_required", "retrospectively_approved",
    "review_required", "reviewed",
)  # fmt: skip


def change_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["subsystems"] = unpack(out["subsystems"])
    out["implementers"] = unpack(out["implementers"])
    out["reference"] = CHANGE_REFERENCES.of(out.get("number"))
    for column in ("approvals", "approvers", "retrospective"):
        out[column] = orjson.loads(out[column])
    for column in FLAGS:
        out[column] = bool(out[column])
    return out


def blackout_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["subsystems"] = unpack(out["subsystems"])
    out["lifted"] = bool(out["lifted"])
    return out


def as_blackout(row: Mapping[str, Any]) -> Blackout:
    window = Window.parse(row["window_start"], row["window_end"])
    assert window is not None
    return Blackout(row["id"], row["name"], window, tuple(row["subsystems"]))


def template_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["subsystems"] = unpack(out["subsystems"])
    out["backout_tested"] = bool(out["backout_tested"])
    out["retired"] = bool(out["retired"])
    return out


def deployment_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["unauthorised"] = bool(out["unauthorised"])
    out.pop("position", None)
    return out
