"""An email not sent because no mail server is configured is a warning naming the
setting to make, not an info line saying only "dead"."""

from __future__ import annotations

from uuid import UUID

from services.intake.application import Intake
from services.intake.views import IntakeViews
from shared.application import acting_as
from tests.logs import captured_logs
from tests.notify.conftest import Notify, give_email, submit


def test_an_email_not_sent_without_a_mail_server_is_a_warning_naming_the_setting(
    notify: Notify,
) -> None:
    platform = notify.platform
    intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    give_email(platform, "vp.sales", "val@example.com")
    request_id = submit(platform, "Bill shock alerts")
    with acting_as("rm"):
        intake.request_information(UUID(request_id), "Which customers?")
    with captured_logs() as logs:
        notify.deliver(rounds=2)
    (line,) = [e for e in logs if e.get("event") == "notification_not_sent"]
    assert line["log_level"] == "warning"
    assert line["setting"] == "RAILYARD_SMTP_HOST"
    assert "RAILYARD_SMTP_HOST is unset" in line["reason"]
    assert not [e for e in logs if e.get("status") == "dead" and e["log_level"] == "info"]
