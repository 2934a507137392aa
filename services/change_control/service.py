"""Wires change control into a process: its use cases, views and routes."""

from __future__ import annotations

from services.change_control.api.catalogue import catalogue_router
from services.change_control.api.changes import changes_router
from services.change_control.api.deployments import deployments_router
from services.change_control.application.catalogue import Blackouts, StandardTemplates
from services.change_control.application.changes import ChangeControl
from services.change_control.application.deployments import DeploymentReports
from services.change_control.views import ChangeControlViews
from shared.platform import Component, Platform


def component(platform: Platform) -> Component:
    views = ChangeControlViews(platform.log)
    changes = ChangeControl(platform.log, views, platform.directory)
    blackouts = Blackouts(platform.log)
    templates = StandardTemplates(platform.log)
    reports = DeploymentReports(platform.log, views)
    return Component(
        name="change_control",
        routers=[
            changes_router(platform.auth, changes, views),
            catalogue_router(platform.auth, blackouts, templates, views),
            deployments_router(platform.auth, reports, views),
        ],
        groups=[views.group],
    )
