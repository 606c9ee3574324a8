"""The user a terminal import or export acts as: its scope and ownership apply."""

from django.core.management.base import CommandError

from rapport.accounts.models import User


def acting_user(email: str) -> User:
    """The active user with `email`, or (no email given) the first admin."""
    users = User.objects.filter(is_active=True)
    actor = users.filter(email=email.strip().lower()).first() if email else \
        users.filter(is_superuser=True).order_by("pk").first()
    if actor is None:
        raise CommandError(f"No active user with email {email}." if email else
                           "No admin yet: run `rapport init` first, or pass --as <email>.")
    return actor


def command_error(exc) -> CommandError:
    """A domain error (RapportError) as the terminal shows it: the message and each field's."""
    details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.fields or {}).items())
    return CommandError(f"{exc.message} {details}".strip())
