"""Roles and the visibility scope each gives per object type."""

from django.db import models

from rapport.core.choices import Scope


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    SALES = "sales", "Sales"
    MARKETING = "marketing", "Marketing"
    SUPPORT = "support", "Support"


OBJECT_TYPES = ("contact", "company", "activity")

# Sales people work their own contacts but see their team's accounts; marketing and
# support must reach every customer; managers see their team; admins see everything.
ROLE_SCOPES: dict[str, dict[str, str]] = {
    Role.ADMIN: {"contact": Scope.ALL, "company": Scope.ALL, "activity": Scope.ALL},
    Role.MANAGER: {"contact": Scope.TEAM, "company": Scope.TEAM, "activity": Scope.TEAM},
    Role.SALES: {"contact": Scope.OWN, "company": Scope.TEAM, "activity": Scope.OWN},
    Role.MARKETING: {"contact": Scope.ALL, "company": Scope.ALL, "activity": Scope.TEAM},
    Role.SUPPORT: {"contact": Scope.ALL, "company": Scope.ALL, "activity": Scope.TEAM},
}


def scope_for(user, object_type: str) -> str:
    if user.is_superuser:
        return Scope.ALL
    return ROLE_SCOPES.get(user.role, {}).get(object_type, Scope.OWN)
