"""Writes for users, teams and API tokens."""

import copy
import datetime
import functools
import secrets
import time

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from rapport.accounts.models import ApiToken, Team, User
from rapport.accounts.roles import Role
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.events import record_event
from rapport.core.normalise import normalise_email
from rapport.core.permissions import is_admin, require_admin

TOKEN_PREFIX = "rap_"  # noqa: S105 - a public marker, not a secret


def active_user_id(value) -> int | None:
    """A cleaner for owner and assignee fields: the id of an active user, or None."""
    if value in (None, ""):
        return None
    try:
        user_id = int(value)
    except (TypeError, ValueError):
        raise ValueError("Enter a user id.") from None
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        raise ValueError("No active user with this id.")
    return user_id


@transaction.atomic
def team_create(*, actor, name: str) -> Team:
    require_admin(actor, "manage teams")
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise ValidationFailed(fields={"name": ["Enter a name of 1 to 80 characters."]})
    if Team.objects.filter(name__iexact=name).exists():
        raise Conflict(fields={"name": [f"A team named “{name}” exists."]})
    team = Team.objects.create(name=name)
    record_event(type="team.created", object_type="team", object_id=team.pk, actor=actor,
                 data={"name": name})
    return team


@transaction.atomic
def team_rename(*, actor, team: Team, name: str) -> Team:
    require_admin(actor, "manage teams")
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise ValidationFailed(fields={"name": ["Enter a name of 1 to 80 characters."]})
    if Team.objects.filter(name__iexact=name).exclude(pk=team.pk).exists():
        raise Conflict(fields={"name": [f"A team named “{name}” exists."]})
    old, team.name = team.name, name
    team.save(update_fields=["name"])
    record_event(type="team.updated", object_type="team", object_id=team.pk, actor=actor,
                 data={"changes": {"name": [old, name]}})
    return team


def _clean_user_fields(*, email=None, full_name=None, role=None, team_id=None, errors):
    cleaned = {}
    if email is not None:
        try:
            cleaned["email"] = normalise_email(email)
            if not cleaned["email"]:
                errors["email"] = ["This field is required."]
        except ValueError as exc:
            errors["email"] = [str(exc)]
    if full_name is not None:
        full_name = " ".join(full_name.split())
        if not full_name or len(full_name) > 150:
            errors["full_name"] = ["Enter a name of 1 to 150 characters."]
        cleaned["full_name"] = full_name
    if role is not None:
        if role not in Role.values:
            errors["role"] = [f"Choose one of: {', '.join(Role.values)}."]
        cleaned["role"] = role
    if team_id is not None:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            errors["team_id"] = ["No such team."]
        cleaned["team"] = team
    return cleaned


@transaction.atomic
def user_create(*, actor, email: str, full_name: str, role: str = Role.SALES,
                team_id: int | None = None, password: str | None = None) -> User:
    """Create a user; without a password, the account cannot log in until one is set."""
    if actor is not None:
        require_admin(actor, "add users")
    errors: dict = {}
    cleaned = _clean_user_fields(email=email, full_name=full_name, role=role,
                                 team_id=team_id, errors=errors)
    if password:
        try:
            validate_password(password)
        except DjangoValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed(fields=errors)
    if User.objects.filter(email=cleaned["email"]).exists():
        raise Conflict(fields={"email": ["A user with this email exists."]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                cleaned["email"], password or None, full_name=cleaned["full_name"],
                role=cleaned["role"], team=cleaned.get("team"),
                is_superuser=cleaned["role"] == Role.ADMIN,
            )
    except IntegrityError:
        raise Conflict(fields={"email": ["A user with this email exists."]}) from None
    record_event(type="user.created", object_type="user", object_id=user.pk, actor=actor,
                 data={"email": user.email, "role": user.role})
    return user


@transaction.atomic
def user_update(*, actor, user: User, full_name=None, role=None, team_id=None,
                is_active=None) -> User:
    require_admin(actor, "change users")
    errors: dict = {}
    cleaned = _clean_user_fields(full_name=full_name, role=role, team_id=team_id, errors=errors)
    if is_active is False and user.pk == actor.pk:
        errors["is_active"] = ["You cannot deactivate yourself."]
    if role is not None and role != Role.ADMIN and user.pk == actor.pk:
        errors["role"] = ["You cannot remove your own admin role."]
    if errors:
        raise ValidationFailed(fields=errors)
    changes = {}
    for field, value in cleaned.items():
        old = getattr(user, field)
        if old != value:
            changes[field] = [str(old) if old is not None else None,
                              str(value) if value is not None else None]
            setattr(user, field, value)
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = [user.is_active, is_active]
        user.is_active = is_active
    if "role" in cleaned:
        user.is_superuser = user.role == Role.ADMIN
    if changes:
        user.save()
        forget_token_users(user_id=user.pk)
        record_event(type="user.updated", object_type="user", object_id=user.pk, actor=actor,
                     data={"changes": changes})
    return user


@transaction.atomic
def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the token itself, which is shown once and never stored."""
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise ValidationFailed(fields={"name": ["Enter a name of 1 to 80 characters."]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10],
                                    digest=ApiToken.digest_of(raw))
    record_event(type="api_token.created", object_type="user", object_id=user.pk, actor=user,
                 data={"token_id": token.pk, "name": name})
    return token, raw


@transaction.atomic
def token_revoke(*, actor, token_id: int) -> ApiToken:
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None or (token.user_id != actor.pk and not is_admin(actor)):
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        forget_token_users(user_id=token.user_id)
        record_event(type="api_token.revoked", object_type="user", object_id=token.user_id,
                     actor=actor, data={"token_id": token.pk})
    return token


# A token's user is remembered for a few seconds in each server process, so a client's burst
# of requests costs one lookup rather than one per request (on PostgreSQL that lookup was
# a second round trip on every API read). Revoking a token or changing or deactivating its
# user forgets it at once in the process that made the change, and within this many
# seconds in every other one.
TOKEN_USER_SECONDS = 5.0
_TOKEN_USERS_MAX = 10_000
_token_users: dict[str, tuple[float, User]] = {}
_clock = time.monotonic


def user_for_token(raw: str) -> User | None:
    """The active user an unrevoked token belongs to, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    digest = ApiToken.digest_of(raw)
    remembered = _token_users.get(digest)
    if remembered is not None and remembered[0] > _clock():
        # A copy: a request may set attributes on its user.
        return copy.copy(remembered[1])
    user = _user_for_token_digest(digest)
    if user is not None:
        if len(_token_users) >= _TOKEN_USERS_MAX:
            _token_users.clear()
        _token_users[digest] = (_clock() + TOKEN_USER_SECONDS, copy.copy(user))
    return user


def forget_token_users(*, user_id: int | None = None) -> None:
    """Forget remembered token users (all, or one user's), now and again after the commit,
    so a lookup racing the transaction cannot remember the old row."""
    def forget():
        if user_id is None:
            _token_users.clear()
            return
        for digest, (_, user) in list(_token_users.items()):
            if user.pk == user_id:
                _token_users.pop(digest, None)
    forget()
    transaction.on_commit(forget)


def _user_for_token_digest(digest: str) -> User | None:
    """One join in plain SQL: building the same query through the ORM took longer than the
    database did to answer it."""
    now = timezone.now()
    # Touch last-use at most once a minute, so reads stay reads.
    stale_before = now - datetime.timedelta(seconds=60)
    with connection.cursor() as cursor:
        cursor.execute(_token_user_sql(), [stale_before, digest])
        row = cursor.fetchone()
    if row is None:
        return None
    *values, token_id, token_is_stale = row
    if token_is_stale:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return User.from_db(connection.alias, _USER_FIELDS, _converted(values))


_USER_FIELDS = [f.attname for f in User._meta.concrete_fields]


def _converted(values: list) -> list:
    """Column values as the ORM would hand them over (SQLite returns text for datetimes)."""
    converted = list(values)
    for index, column, converters in _user_converters(connection.alias):
        for converter in converters:
            converted[index] = converter(converted[index], column, connection)
    return converted


@functools.cache
def _user_converters(alias: str) -> list:
    """The user columns that need converting, with their converters (alias: cache key)."""
    found = []
    for index, field in enumerate(User._meta.concrete_fields):
        column = field.get_col(User._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


@functools.cache
def _token_user_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(f"u.{quote(f.column)}" for f in User._meta.concrete_fields)
    # Identifiers come from the models, quoted; every value is a bound parameter.
    return (
        f"SELECT {columns}, t.id, "  # noqa: S608
        "CASE WHEN t.last_used_at IS NULL OR t.last_used_at < %s THEN 1 ELSE 0 END "
        f"FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(User._meta.db_table)} u ON u.{quote('id')} = t.user_id "
        "WHERE t.digest = %s AND t.revoked_at IS NULL AND u.is_active"
    )


def ensure_admin(*, email: str = "admin@example.com") -> tuple[User | None, str | None]:
    """First start: create the admin with a generated password. Later starts: nothing."""
    if User.objects.filter(is_superuser=True).exists():
        return None, None
    password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(email, password, full_name="Admin")
    record_event(type="user.created", object_type="user", object_id=user.pk,
                 data={"email": user.email, "role": user.role})
    return user, password
