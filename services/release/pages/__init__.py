"""Release's web pages: the release plan (upcoming bundles with capacity, dates, scope,
and the suggested plan to apply), each bundle's page (freeze, exceptions, progress, QA
sign-off, release notes) and the calendar link. Thin handlers over the same use cases and
views as the API."""

from __future__ import annotations

from fastapi import APIRouter

from services.release.pages.base import ReleasePages
from services.release.pages.bundle import bundle_routes
from services.release.pages.plan import plan_routes
from shared.http.routing import ServiceRouter
from shared.web.rendering import NavLink

NAV = [
    NavLink(
        "Release plan",
        "/release",
        (),
        "Upcoming bundles with capacity, dates and scope; the suggested plan; the calendar.",
    ),
]


def release_pages(pages: ReleasePages) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    router.include_router(plan_routes(pages))
    router.include_router(bundle_routes(pages))
    return router


__all__ = ["NAV", "ReleasePages", "release_pages"]
