"""An Idempotency-Key's stored answer is the answer as first given, secrets shown once
left out."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from enum import Enum

import orjson

from shared.application import CommandContext, IdempotencyRequest, UseCases


class Colour(Enum):
    RED = "red"


@dataclass(frozen=True)
class Part:
    name: str
    colour: Colour
    due: date


@dataclass(frozen=True)
class Answer:
    id: str
    parts: list[Part]
    similar: list[dict[str, object]]
    token: str | None


def test_the_stored_answer_is_the_answer_with_secrets_shown_once_left_out() -> None:
    answer = Answer(
        "r-1",
        [Part("a", Colour.RED, date(2026, 12, 3))],
        [{"id": "r-0", "similarity": 0.71}],
        "ry_secret",
    )
    context = CommandContext(
        actor="vp.sales",
        correlation_id="req-1",
        idempotency=IdempotencyRequest("vp.sales", "key-1", "f" * 64, 201),
    )
    claim = UseCases._claim(context, answer)
    assert claim is not None
    expected = orjson.loads(orjson.dumps(asdict(answer)))
    expected["token"] = None
    assert orjson.loads(claim.response) == expected
    assert claim.status == 201
