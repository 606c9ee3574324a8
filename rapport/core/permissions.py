"""Visibility scopes: which records a user may see, applied first by every selector."""

from django.db.models import Q

from rapport.accounts.roles import scope_for
from rapport.core.choices import Scope
from rapport.core.errors import PermissionDenied

# Conditions that compose under | and &: an empty Q() would vanish from `Q() | other`,
# silently narrowing "all" to "other". Django compiles these to no SQL at all.
NOTHING = Q(pk__in=[])
EVERYTHING = ~Q(pk__in=[])


def owner_filter(user, object_type: str, owner_field: str = "owner") -> Q:
    """The condition a record meets to be in `user`'s scope for `object_type`."""
    if not (user and user.is_authenticated and user.is_active):
        return NOTHING
    scope = scope_for(user, object_type)
    if scope == Scope.ALL:
        return EVERYTHING
    if scope == Scope.TEAM and user.team_id:
        return Q(**{f"{owner_field}__team_id": user.team_id}) | Q(**{owner_field: user})
    return Q(**{owner_field: user})


def in_scope(user, object_type: str, owner_field: str = "owner", **lookups) -> Q:
    """`owner_filter` and `lookups` together: what a selector passes to `filter()`.

    The "all" scope adds no condition at all here; EVERYTHING would compile to no SQL
    too, but building it costs a detail read a tenth of its time.
    """
    scope = owner_filter(user, object_type, owner_field)
    return Q(**lookups) if scope is EVERYTHING else scope & Q(**lookups)


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role == "admin"))


def require_admin(actor, reason: str) -> None:
    """PermissionDenied unless `actor` is an admin; `reason` ends "Only admins …"."""
    if not is_admin(actor):
        raise PermissionDenied(f"Only admins {reason}.")
