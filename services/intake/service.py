"""Wires intake into a process: its use cases, views, routes and reaction."""

from __future__ import annotations

from services.intake.api import intake_router
from services.intake.application import Intake
from services.intake.reactions import DeliverShippedRequests
from services.intake.views import IntakeViews
from shared.platform import Component, Platform


def component(platform: Platform) -> Component:
    views = IntakeViews(platform.log)
    intake = Intake(platform.log, views, platform.directory)
    return Component(
        name="intake",
        routers=[intake_router(platform.auth, intake, views)],
        groups=[views.group],
        reactions=[DeliverShippedRequests(intake)],
    )
