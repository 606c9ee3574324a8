"""Start-up checks: a mistyped RAPPORT_EMAIL_URL or DKIM key stops `rapport init` with a reason."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register

from rapport.mail.transport import parse_email_url


@register()
def email_settings(app_configs, **kwargs):
    errors = []
    try:
        parse_email_url(settings.EMAIL_URL)
    except ValueError as exc:
        errors.append(Error(str(exc), id="rapport.E101"))
    if settings.DKIM_KEY_FILE and not Path(settings.DKIM_KEY_FILE).is_file():
        errors.append(Error(f"RAPPORT_DKIM_KEY_FILE: no file at {settings.DKIM_KEY_FILE}.",
                            id="rapport.E102"))
    return errors
