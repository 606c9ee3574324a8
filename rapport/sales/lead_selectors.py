"""Every read of leads and their assignment rules; leads scoped to what the user may see.

Also what converting a lead would do (which contact and company it would link, what it would
create): the conversion service and the page that previews it read it from here, so the
preview and the conversion never disagree.
"""

import dataclasses
import re

from django.db.models import Count

from rapport.accounts.models import User
from rapport.contacts.choices import CompanySize
from rapport.contacts.duplicates import LEGAL_SUFFIXES
from rapport.contacts.models import Company, Contact
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.core import listing, search
from rapport.core.customfields import definitions_for
from rapport.core.listing import Field, ListSpec
from rapport.core.normalise import FREE_MAIL_DOMAINS, domain_of_url, email_domain
from rapport.core.permissions import in_scope
from rapport.core.selectors import one
from rapport.core.tags import tag_names
from rapport.sales.choices import OPEN_LEAD_STATUSES, LeadSource, LeadStatus
from rapport.sales.models import AssignmentRule, Lead, LeadSettings

LEAD_LIST = ListSpec(
    object_type="lead",
    default_sort="-created_at",
    fields={
        "id": Field("int"),
        "first_name": Field("text", label="First name"),
        "last_name": Field("text", sortable=True, label="Last name"),
        "email": Field("text", label="Email"),
        "phone": Field("text", label="Phone"),
        "company_name": Field("text", label="Company"),
        "title": Field("text", label="Title"),
        "source": Field("choice", choices=tuple(LeadSource.values), label="Source"),
        "status": Field("choice", choices=tuple(LeadStatus.values), label="Status"),
        "score": Field("int", sortable=True, label="Score"),
        "owner_id": Field("ref", label="Owner"),
        "team_id": Field("ref", path="owner__team_id", label="Team"),
        "country": Field("text", label="Country"),
        "company_size": Field("choice", choices=tuple(CompanySize.values), label="Company size"),
        "created_at": Field("datetime", sortable=True, label="Created"),
        "updated_at": Field("datetime", sortable=True, label="Updated"),
        "converted_at": Field("datetime", label="Converted"),
    },
)

MAX_NAME_CANDIDATES = 500


# Leads --------------------------------------------------------------------------------------

def lead_visible(*, user, trashed: bool = False, **lookups):
    """Leads in `user`'s scope (and matching `lookups`)."""
    return Lead.all_objects.filter(in_scope(user, "lead", deleted_at__isnull=not trashed, **lookups))


def _lead_rows(rows, related=()):
    return rows.select_related(*related).annotate(tag_names=tag_names(Lead))


def lead_list(*, user, params, related=()) -> listing.Page:
    """A page of leads. `related`: foreign keys to read with each row (the web list shows the
    owner)."""
    # Custom field definitions only when a filter names one: a list is one query otherwise.
    wanted = any(name.startswith("custom__") for name in params)
    query = listing.parse(params, LEAD_LIST, definitions_for("lead") if wanted else ())
    leads = listing.apply(lead_visible(user=user), query, LEAD_LIST)
    return listing.paginate(leads, query, LEAD_LIST, rows=lambda rows: _lead_rows(rows, related))


def lead_get(*, user, lead_id: int) -> Lead | None:
    """The lead with its tags, if `user` may see it."""
    return one(_lead_rows(lead_visible(user=user, pk=lead_id)))


def lead_detail(*, user, lead_id: int, any_owner: bool = False) -> Lead | None:
    """The lead with what its page and the API show beside it: owner, author, and what it was
    converted into. `any_owner`: outside `user`'s scope too, for answering the write `user`
    just made (an assignment rule may have handed the lead to someone else)."""
    leads = Lead.objects.filter(pk=lead_id) if any_owner else lead_visible(user=user, pk=lead_id)
    return one(_lead_rows(leads, ("owner", "created_by", "converted_contact", "converted_company",
                                  "converted_deal")))


def leads_by_ids(*, user, ids) -> list[Lead]:
    """The visible leads among `ids` (for confirming a bulk action)."""
    return list(lead_visible(user=user).filter(pk__in=ids)[:1000])


def trash_list(*, user, limit: int = 200):
    return lead_visible(user=user, trashed=True).select_related("owner").order_by("-deleted_at")[:limit]


def open_lead_counts(user_ids) -> dict[int, int]:
    """Open leads (new or working, not in the trash) per owner, for "least loaded"."""
    rows = (Lead.objects.filter(owner_id__in=list(user_ids), status__in=OPEN_LEAD_STATUSES)
            .order_by().values_list("owner_id").annotate(n=Count("id")))
    return dict(rows)


def lead_status_counts(*, user) -> dict[str, int]:
    """Visible leads per status (one grouped query)."""
    rows = lead_visible(user=user).order_by().values_list("status").annotate(n=Count("id"))
    return dict(rows)


# Assignment rules -------------------------------------------------------------------------

def assignment_rule_list(*, active_only: bool = False):
    rules = AssignmentRule.objects.select_related("user", "team").order_by("position", "id")
    return rules.filter(active=True) if active_only else rules


def assignment_rule_get(*, rule_id: int) -> AssignmentRule | None:
    return one(assignment_rule_list().filter(pk=rule_id))


def lead_settings() -> LeadSettings:
    """The settings row, or its defaults (unsaved) before anyone changed them."""
    return LeadSettings.objects.select_related("fallback_owner").filter(pk=1).first() or \
        LeadSettings(pk=1)


def team_members(team_id: int) -> list[User]:
    """A team's active members, by id: the order round robin goes round in."""
    return list(User.objects.filter(team_id=team_id, is_active=True).order_by("id"))


def first_admin() -> User | None:
    return User.objects.filter(is_active=True, role="admin").order_by("id").first() or \
        User.objects.filter(is_active=True, is_superuser=True).order_by("id").first()


# Conversion -------------------------------------------------------------------------------

@dataclasses.dataclass
class ConversionPlan:
    """What converting a lead does, as `user` would do it."""

    contact: Contact | None = None       # the existing contact it links (same email)
    contact_hidden: bool = False         # a contact outside `user`'s scope has the email
    company: Company | None = None       # the existing company it links
    company_match: str = ""              # how: "chosen", "domain", "name" or "contact"
    company_hidden: bool = False         # a company outside `user`'s scope has the domain
    domain: str = ""                     # the domain the company is matched on or created with
    new_company_name: str = ""           # the company it creates, "" for none

    @property
    def blocked(self) -> bool:
        return self.contact_hidden or self.company_hidden


def lead_domains(lead: Lead) -> list[str]:
    """The domains a lead's company may be known by: its website's, then its email's."""
    domains = []
    for domain in (domain_of_url(lead.website) if lead.website else "", email_domain(lead.email)):
        if domain and domain not in FREE_MAIL_DOMAINS and domain not in domains:
            domains.append(domain)
    return domains


def company_name_key(name: str) -> str:
    """A company name with case, accents, punctuation and legal suffixes gone:
    "ACME, Inc." and "Acme" have the same key."""
    folded = search.fold(LEGAL_SUFFIXES.sub(" ", name or ""))
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def company_by_name(*, user, name: str) -> Company | None:
    """The visible company named `name` (any case), else one whose name differs only by case,
    punctuation or a legal suffix ("Acme Inc." for "ACME"); the oldest if several."""
    key = company_name_key(name)
    if not key:
        return None
    candidates = list(company_visible(user=user)
                      .filter(id__in=search.matching_ids("company", key))
                      .only("id", "name", "domain", "owner_id").order_by("id")[:MAX_NAME_CANDIDATES])
    wanted = " ".join(name.split()).casefold()
    exact = [c for c in candidates if " ".join(c.name.split()).casefold() == wanted]
    return (exact or [c for c in candidates if company_name_key(c.name) == key] or [None])[0]


def conversion_plan(*, user, lead: Lead, company_id: int | None = None) -> ConversionPlan:
    """Which contact and company converting `lead` would link, and what it would create.

    The contact: the one with the lead's email (emails are stored lower-cased, so any case
    matches), never a second one; if only a contact `user` cannot see has it, the plan is
    blocked. The company: `company_id` if given; else the one with the domain of the lead's
    website or business email (blocked if only a hidden company has it); else one with the
    same name; else the matched contact's company; else a new one named after the lead's
    company name (none without a name).
    """
    plan = ConversionPlan()
    if lead.email:
        plan.contact = contact_visible(user=user, email=lead.email).select_related(
            "company").order_by("id").first()
        if plan.contact is None:
            plan.contact_hidden = Contact.objects.filter(email=lead.email).exists()
    if company_id is not None:
        plan.company = company_visible(user=user, pk=company_id).first()
        plan.company_match = "chosen" if plan.company else ""
        return plan
    domains = lead_domains(lead)
    for domain in domains:
        plan.company = company_visible(user=user, domain=domain).order_by("id").first()
        if plan.company is not None:
            plan.company_match, plan.domain = "domain", domain
            return plan
        if Company.objects.filter(domain=domain).exists():
            plan.company_hidden, plan.domain = True, domain
            return plan
    plan.domain = domains[0] if domains else ""
    if lead.company_name:
        plan.company = company_by_name(user=user, name=lead.company_name)
        if plan.company is not None:
            plan.company_match = "name"
            return plan
    if plan.contact is not None and plan.contact.company_id:
        visible = company_visible(user=user, pk=plan.contact.company_id).first()
        if visible is not None:
            plan.company, plan.company_match = visible, "contact"
            return plan
    plan.new_company_name = lead.company_name
    if not plan.new_company_name:
        plan.domain = ""
    return plan
