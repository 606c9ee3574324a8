"""Every read of lead capture forms.

Managing forms is for admins: the settings reads raise PermissionDenied for anyone else (the
settings page and the API answer 403). The public page reads one active form by its key.
"""

import dataclasses
import re

from rapport.core.models import CustomFieldDefinition
from rapport.core.permissions import require_admin
from rapport.core.selectors import one
from rapport.sales.models import LeadForm

# The lead fields a form may ask for, in their usual order, with their labels and what the
# browser should autocomplete and the keyboard show.
STANDARD_FIELDS = {
    "first_name": ("First name", "given-name", "text"),
    "last_name": ("Last name", "family-name", "text"),
    "email": ("Email", "email", "email"),
    "phone": ("Phone", "tel", "tel"),
    "company_name": ("Company", "organization", "text"),
    "title": ("Job title", "organization-title", "text"),
    "country": ("Country", "country-name", "text"),
}
# A lead needs a name or an email (lead_create refuses one without): one of these is required.
IDENTITY_FIELDS = ("email", "first_name", "last_name")
CUSTOM_PREFIX = "custom_fields."
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclasses.dataclass(frozen=True)
class Askable:
    """A field a form may ask for: `name` is what the form stores (`email`,
    `custom_fields.budget`); `definition` is the custom field's, for custom fields."""

    name: str
    label: str
    autocomplete: str = ""
    input_type: str = "text"
    definition: CustomFieldDefinition | None = None

    @property
    def is_custom(self) -> bool:
        return self.definition is not None


def askable_fields() -> dict[str, Askable]:
    """Every field a form may ask for: the standard lead fields, then the lead custom fields."""
    fields = {name: Askable(name, label, autocomplete, kind)
              for name, (label, autocomplete, kind) in STANDARD_FIELDS.items()}
    for definition in CustomFieldDefinition.objects.filter(object_type="lead").order_by("id"):
        name = f"{CUSTOM_PREFIX}{definition.key}"
        fields[name] = Askable(name, definition.label, definition=definition)
    return fields


def lead_form_list(*, user):
    """Every form (admins only), by name, with the owner its leads get."""
    require_admin(user, "manage lead forms")
    return LeadForm.objects.select_related("lead_owner").order_by("name", "id")


def lead_form_get(*, user, form_id: int) -> LeadForm | None:
    require_admin(user, "manage lead forms")
    return one(LeadForm.objects.select_related("lead_owner").filter(pk=form_id))


def lead_form_for_key(key: str) -> LeadForm | None:
    """The active form with this public key, or None: an unknown, retired (rotated) or
    switched-off key reads the same. A key of the wrong shape never reaches the database."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        return None
    return one(LeadForm.objects.filter(public_key=key, is_active=True))
