"""Roles and the visibility scope each gives per object type."""

from django.db import models

from rapport.core.choices import Scope


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    SALES = "sales", "Sales"
    MARKETING = "marketing", "Marketing"
    SUPPORT = "support", "Support"


OBJECT_TYPES = ("contact", "company", "activity", "lead", "deal")

# Sales people work their own contacts and deals but see their team's accounts; marketing and
# support must reach every customer; managers see their team; admins see everything.
# Deals carry amounts and negotiations: marketing sees its team's (attribution within the team;
# pipeline totals for everyone come through reports), support only deals it owns (none, as a
# rule: answering a ticket needs the customer, not what they are being sold).
# Leads: sellers work their own and managers their team's; marketing generates them, so it sees
# them all; support sees only leads it owns (those it passes on from a conversation).
ROLE_SCOPES: dict[str, dict[str, str]] = {
    Role.ADMIN: {"contact": Scope.ALL, "company": Scope.ALL, "activity": Scope.ALL,
                 "lead": Scope.ALL, "deal": Scope.ALL},
    Role.MANAGER: {"contact": Scope.TEAM, "company": Scope.TEAM, "activity": Scope.TEAM,
                   "lead": Scope.TEAM, "deal": Scope.TEAM},
    Role.SALES: {"contact": Scope.OWN, "company": Scope.TEAM, "activity": Scope.OWN,
                 "lead": Scope.OWN, "deal": Scope.OWN},
    Role.MARKETING: {"contact": Scope.ALL, "company": Scope.ALL, "activity": Scope.TEAM,
                     "lead": Scope.ALL, "deal": Scope.TEAM},
    Role.SUPPORT: {"contact": Scope.ALL, "company": Scope.ALL, "activity": Scope.TEAM,
                   "lead": Scope.OWN, "deal": Scope.OWN},
}


def scope_for(user, object_type: str) -> str:
    if user.is_superuser:
        return Scope.ALL
    return ROLE_SCOPES.get(user.role, {}).get(object_type, Scope.OWN)
