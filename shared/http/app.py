"""Assembles one process's FastAPI application from the components it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from starlette.responses import Response

from shared.http.feed import feed_router
from shared.http.middleware import RequestContext
from shared.http.problems import STANDARD_RESPONSES, install_problem_handlers, problem
from shared.http.threads import in_thread
from shared.identity.api import identity_router
from shared.platform import Component, Platform
from shared.store.collector import frozen_while_serving
from shared.store.errors import StoreUnavailable
from shared.store.followers import Followers, ReactionRunner
from shared.store.migrate import missing_privileges
from shared.store.projections import ProjectionGroup

log = structlog.get_logger(__name__)

LAG = Gauge("railyard_follower_lag_events", "Events not yet applied by a follower", ["follower"])
READY_MAX_LAG = 10_000

DESCRIPTION = """
Railyard is an IT organisation's one front door for change. Every request, triage
decision, release plan, approval and deployment is an event in one append-only log.

Authenticate with `Authorization: Bearer ry_...` (see the README for the first admin
token). Send an `Idempotency-Key` header with any POST to make retries safe. Errors are
RFC 9457 `application/problem+json` with a stable `rule` naming what was refused.
"""


def all_groups(platform: Platform, components: Iterable[Component]) -> list[ProjectionGroup]:
    return [platform.directory.group, *(g for c in components for g in c.groups)]


def followers_for(platform: Platform, components: Sequence[Component]) -> Followers:
    reactions = [r for c in components for r in c.reactions]
    runner = ReactionRunner(platform.log, reactions) if reactions else None
    return Followers(
        all_groups(platform, components),
        runner,
        platform.settings.follower_poll_s,
        workers=[w for c in components for w in c.workers],
    )


def create_app(
    platform: Platform,
    components: Sequence[Component],
    *,
    followed: Sequence[Component] | None = None,
    run_followers: bool = True,
    title: str = "Railyard",
) -> FastAPI:
    """Serve `components` over HTTP; when `run_followers`, keep the views and reactions
    of `followed` (by default the same components) moving in a background thread."""
    settings = platform.settings
    followed = components if followed is None else followed
    followers = followers_for(platform, followed)
    groups = all_groups(platform, [*components, *(c for c in followed if c not in components)])
    start_followers = run_followers

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for group in groups:
            await in_thread(group.setup)
        if start_followers:
            followers.start()
        log.info(
            "service_started",
            services=[c.name for c in components],
            backend=settings.backend,
            followers=start_followers,
        )
        cost = platform.identity.password_cost
        if cost.below_owasp:
            log.warning(
                "password_hashing_below_owasp_minimum",
                n=cost.n,
                r=cost.r,
                p=cost.p,
                minimum="n*p >= 81920 with r=8 (RAILYARD_PASSWORD_SCRYPT)",
            )
        try:
            with frozen_while_serving():  # what startup built: out of full collections
                yield
        finally:
            followers.stop()
            log.info("service_stopped")

    # Swagger UI's files come with the package (fastapi-offline): FastAPI's own /docs loads
    # them from a CDN, and a deployment without internet access showed a blank page.
    app = FastAPIOffline(
        title=title,
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url="/docs-assets",
    )
    app.state.platform = platform
    app.state.followers = followers
    install_problem_handlers(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)

    routers = [
        identity_router(platform.auth, platform.identity, platform.directory),
        feed_router(platform.log, platform.auth, platform.limits),
        *(router for component in components for router in component.routers),
    ]
    for router in routers:
        app.include_router(router, responses=STANDARD_RESPONSES)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The store answers and views keep up",
        responses={503: {"description": "Not ready", "content": {"application/problem+json": {}}}},
    )
    def readyz() -> Any:
        try:
            platform.log.ping()
            lags = {p.name: lag for g in groups for p, lag in _lags(g)}
            lacking = missing_privileges(platform.log)
        except StoreUnavailable as exc:
            return problem(
                503,
                "not_ready",
                f"the event store is unavailable: {exc}",
                headers={"Retry-After": "2"},
            )
        if lacking:
            return problem(
                503,
                "not_ready",
                f"this process's database role lacks {', '.join(lacking)}: every write would"
                " fail; run `railyard migrate --grant-to <role>` as the tables' owner",
                missing_privileges=lacking,
            )
        behind = {name: lag for name, lag in lags.items() if lag > READY_MAX_LAG}
        if behind:
            return problem(
                503,
                "not_ready",
                "views are too far behind the log",
                headers={"Retry-After": "5"},
                lag=behind,
            )
        return {
            "status": "ready",
            "backend": settings.backend,
            "lag": lags,
            "followers_error": followers.last_error,
        }

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    def metrics() -> Response:
        try:
            for group in groups:
                for projection, lag in _lags(group):
                    LAG.labels(projection.name).set(lag)
        except StoreUnavailable:
            pass
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _lags(group: ProjectionGroup) -> list[tuple[Any, int]]:
    head = group.log.head()
    positions = group.positions()
    return [(p, max(0, head - positions.get(p.name, 0))) for p in group.projections]
