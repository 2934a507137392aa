"""The composition root: which services one process serves, on which store.

By default one process serves every service and runs every follower. docker-compose
runs each service as its own process (`RAILYARD_SERVICES=intake`, ...) against the same
PostgreSQL, with a worker process running the followers.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from services.change_control.service import component as change_control_component
from services.intake.service import component as intake_component
from services.metrics.service import component as metrics_component
from services.notify.service import component as notify_component
from services.release.service import component as release_component
from shared.http.app import create_app
from shared.logging import configure_logging
from shared.platform import Component, ComponentFactory, Platform
from shared.settings import ALL_SERVICES, Settings, settings_from_environment
from shared.web.install import install_web

FACTORIES: dict[str, ComponentFactory] = {
    "intake": intake_component,
    "metrics": metrics_component,
    "notify": notify_component,
    "release": release_component,
    "change_control": change_control_component,
}


def build_components(platform: Platform, services: Sequence[str]) -> list[Component]:
    return [FACTORIES[name](platform) for name in services if name in FACTORIES]


def all_components(platform: Platform) -> list[Component]:
    return build_components(platform, ALL_SERVICES)


def build_app(
    settings: Settings, *, run_followers: bool | None = None, platform: Platform | None = None
) -> FastAPI:
    """The app serving `settings.services`, on `platform` or a new one for `settings`."""
    platform = platform or Platform.build(settings)
    served = build_components(platform, settings.services)
    run = settings.run_followers if run_followers is None else run_followers
    # A process that runs the followers keeps every view and reaction moving, also those
    # of services it does not serve over HTTP.
    # (Each component is built once: building FastAPI routes is most of a start-up.)
    served_names = {c.name for c in served}
    others = [name for name in ALL_SERVICES if name not in served_names] if run else []
    followed = served + build_components(platform, others)
    title = f"Railyard {served[0].name}" if len(served) == 1 else "Railyard"
    app = create_app(platform, served, followed=followed, run_followers=run, title=title)
    install_web(app, platform, served)
    return app


def app_from_environment() -> FastAPI:
    """uvicorn's factory: `uvicorn --factory railyard.app:app_from_environment`."""
    settings = settings_from_environment()
    configure_logging(settings)
    return build_app(settings)
