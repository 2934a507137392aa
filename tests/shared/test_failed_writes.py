"""A write refused by the database (its version or its Idempotency-Key already taken)
is reported as exactly that, and leaves its pooled connection fit for the next write.

The loops reuse one pooled connection many times: while inserts were pipelined, psycopg
could report a failed statement from a later one, or keep a statement prepared that the
server had skipped (decision 94); an append is now one statement (decision 97), and
these still prove the refusal and the connection's next write."""

from __future__ import annotations

import pytest

from services.intake.domain import ChangeRequest
from shared.domain import attributed_to
from shared.platform import Platform
from shared.store.errors import WriteConflict
from shared.store.log import ClaimTaken
from shared.store.recorders import Claim
from tests.builders import new_request

pytestmark = pytest.mark.postgres


@pytest.fixture
def one_connection(postgres_platform: Platform) -> Platform:
    """Every write on the same pooled connection, as a busy process reuses them."""
    return postgres_platform


def test_a_write_conflict_is_a_conflict_and_the_connection_writes_again(
    one_connection: Platform,
) -> None:
    log = one_connection.log
    for _ in range(30):
        with attributed_to("vp.sales"):
            request = new_request()
        log.save(request)  # on the connection the previous conflict used
        first, second = (log.get(request.id, ChangeRequest) for _ in range(2))
        with attributed_to("rm"):
            first.reject("first")
            second.defer("second", None)
        log.save(first)
        with pytest.raises(WriteConflict):
            log.save(second)


def test_an_idempotency_key_taken_is_reported_taken_never_as_unavailable(
    one_connection: Platform,
) -> None:
    log = one_connection.log
    for n in range(150):
        claim = Claim("vp.sales", f"key-{n}", "fp", 201, "{}", "2026-01-01T00:00:00+00:00")
        with attributed_to("vp.sales"):
            first, second = new_request(), new_request()
        log.save(first, claim=claim)
        with pytest.raises(ClaimTaken):
            log.save(second, claim=claim)
