"""A plain function route runs in one hand-off to a worker thread, in its caller's
context, with the contract FastAPI reads from the function (decision 0100)."""

# No `from __future__ import annotations`: FastAPI must see the routes' annotations, which
# name a dependency local to `_app`, as objects.

import contextvars
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.http.routing import ServiceRouter
from shared.http.threads import threaded

CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")


class Answer(BaseModel):
    thread: str
    caller: str
    size: int


def _app(router: APIRouter) -> FastAPI:
    async def who(request: Request) -> str:
        CALLER.set(request.headers.get("x-caller", "anonymous"))
        return CALLER.get()

    @router.get("/things/{name}", response_model=Answer, operation_id="read_thing")
    def read(
        name: str,
        caller: Annotated[str, Depends(who)],
        size: Annotated[int, Query(ge=1, le=10)] = 3,
    ) -> Answer:
        """Read a thing."""
        return Answer(thread=threading.current_thread().name, caller=CALLER.get(), size=size)

    @router.get("/loop")
    async def on_loop() -> dict[str, str]:
        return {"thread": threading.current_thread().name}

    @router.get("/broken", response_model=Answer)
    def broken() -> dict[str, str]:
        return {"thread": "no caller, no size"}

    app = FastAPI()
    app.include_router(router)
    return app


def test_a_plain_function_route_runs_in_a_worker_thread_in_its_callers_context() -> None:
    with TestClient(_app(ServiceRouter())) as client:
        answer = client.get("/things/x", headers={"x-caller": "vp.sales"}, params={"size": 4})
        loop = client.get("/loop").json()["thread"]
    assert answer.status_code == 200
    body = answer.json()
    assert body["thread"].startswith("railyard-request")
    assert body["thread"] != loop  # a coroutine route stays on the event loop
    assert body["caller"] == "vp.sales"  # set by a dependency on the loop, seen in the thread
    assert body["size"] == 4


def test_a_threaded_route_keeps_the_contract_fastapi_reads_from_the_function() -> None:
    ours, theirs = _app(ServiceRouter()), _app(APIRouter())
    assert ours.openapi() == theirs.openapi()
    with TestClient(ours) as client:
        refused = client.get("/things/x", params={"size": 11})
    assert refused.status_code == 422


def test_a_threaded_routes_answer_is_still_checked_against_its_response_model() -> None:
    with TestClient(_app(ServiceRouter()), raise_server_exceptions=False) as client:
        assert client.get("/broken").status_code == 500


def test_a_route_that_is_not_a_plain_function_is_left_as_it_is() -> None:
    router = ServiceRouter()

    class Endpoint:
        def __call__(self) -> Response:
            return Response("called")

    def lines() -> Iterator[str]:
        yield "streamed"

    assert threaded(lines) is lines  # FastAPI streams what a generator route yields
    endpoint = Endpoint()
    router.add_api_route("/callable", endpoint)
    added: Callable[..., Awaitable[Response] | Response] = router.routes[-1].endpoint  # type: ignore[attr-defined]  # an APIRoute's endpoint
    assert added is endpoint
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        assert client.get("/callable").text == "called"
