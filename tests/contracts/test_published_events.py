"""Each service still publishes the events other services follow, with their fields."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util

from shared.contracts import ALL, Published


def event_class(contract: Published) -> type | None:
    module_name, _, qualname = contract.topic.partition(":")
    if importlib.util.find_spec(module_name) is None:
        return None  # the publishing service has not landed yet
    found: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
        assert found is not None, f"{contract.topic} no longer exists"
    assert isinstance(found, type)
    return found


def test_every_published_event_keeps_its_topic_and_fields() -> None:
    checked = 0
    for contract in ALL:
        cls = event_class(contract)
        if cls is None:
            continue
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = contract.fields - fields
        assert not missing, f"{contract.topic} lost {sorted(missing)}"
        checked += 1
    assert checked >= 15  # intake's contracts at least
