"""Email through any SMTP server: a plain-text and an HTML part, with a link to the item."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from jinja2 import Environment, select_autoescape

from shared.settings import Settings

_templates = Environment(autoescape=select_autoescape(default=True))
# The plain-text part is not HTML: escaped, "Don't run this & check <ssl.conf>" arrived as
# "Don&#39;t run this &amp; check &lt;ssl.conf&gt;".
_text = Environment(autoescape=False)  # noqa: S701  # plain text, never read as HTML

TEXT = _text.from_string(
    """{% for m in messages %}{{ m.subject }}
{% for line in m.lines %}  {{ line }}
{% endfor %}  {{ base }}{{ m.link }}

{% endfor %}-- Railyard. Choose what you hear about: {{ base }}/settings/notifications
"""
)
HTML = _templates.from_string(
    """<!doctype html><html><body style="font-family: system-ui, sans-serif; color: #1f2933">
{% for m in messages %}<h3 style="margin-bottom: 4px">{{ m.subject }}</h3>
{% for line in m.lines %}<p style="margin: 2px 0">{{ line }}</p>{% endfor %}
<p><a href="{{ base }}{{ m.link }}">Open in Railyard</a></p>
{% endfor %}<hr><p style="color: #616e7c; font-size: 12px">Choose what you hear about in
<a href="{{ base }}/settings/notifications">your notification settings</a>.</p>
</body></html>"""
)


NOT_CONFIGURED = "email is not configured (set RAILYARD_SMTP_HOST)"


class EmailSender:
    """Sends notification emails; returns None on success or a readable error."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.public_base

    def send_notification(self, to: str, message: Mapping[str, Any]) -> str | None:
        return self.send_many(to, str(message["subject"]), [message])

    @property
    def configured(self) -> bool:
        """Whether a mail server is set: without one no email can be sent, now or later."""
        return bool(self.settings.smtp_host)

    def send_many(self, to: str, subject: str, messages: Sequence[Mapping[str, Any]]) -> str | None:
        settings = self.settings
        if not settings.smtp_host:
            return NOT_CONFIGURED
        mail = EmailMessage()
        mail["From"] = settings.mail_from
        mail["To"] = to
        mail["Subject"] = subject
        mail["Message-ID"] = make_msgid(domain="railyard")
        mail.set_content(TEXT.render(messages=messages, base=self.base))
        mail.add_alternative(HTML.render(messages=messages, base=self.base), subtype="html")
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username and settings.smtp_password:
                    smtp.login(settings.smtp_username, settings.smtp_password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            return f"SMTP: {type(exc).__name__}: {exc}"[:500]
        return None
