"""Every read of contacts and companies, scoped to what the user may see."""

from django.db import connection
from django.db.models import Count, Q

from rapport.accounts.models import User
from rapport.accounts.roles import scope_for
from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.contacts.models import Company, Contact
from rapport.contacts.quality import COMPANY_PROBLEMS, CONTACT_PROBLEMS, list_filters
from rapport.core import listing
from rapport.core.compiled import SENTINELS, compiled
from rapport.core.customfields import definitions_for
from rapport.core.listing import Field, ListSpec
from rapport.core.permissions import in_scope
from rapport.core.selectors import one
from rapport.core.tags import tag_names

_COMMON = {
    "id": Field("int", sortable=False),
    "owner_id": Field("ref", label="Owner"),
    "created_at": Field("datetime", sortable=True, label="Created"),
    "updated_at": Field("datetime", sortable=True, label="Updated"),
    "city": Field("text", label="City"),
    "country": Field("text", label="Country"),
}

CONTACT_LIST = ListSpec(
    object_type="contact",
    default_sort="-created_at",
    fields={
        **_COMMON,
        "first_name": Field("text", sortable=True, label="First name"),
        "last_name": Field("text", sortable=True, label="Last name"),
        "email": Field("text", label="Email"),
        "phone": Field("text", label="Phone"),
        "title": Field("text", label="Title"),
        "lifecycle_stage": Field("choice", choices=tuple(LifecycleStage.values),
                                 label="Lifecycle stage"),
        "company_id": Field("ref", label="Company"),
        "company_name": Field("text", path="company__name", label="Company name"),
    },
    problems=list_filters(CONTACT_PROBLEMS),
)

COMPANY_LIST = ListSpec(
    object_type="company",
    default_sort="name",
    fields={
        **_COMMON,
        "name": Field("text", sortable=True, label="Name"),
        "domain": Field("text", label="Domain"),
        "industry": Field("text", label="Industry"),
        "size": Field("choice", choices=tuple(CompanySize.values), label="Size"),
    },
    problems=list_filters(COMPANY_PROBLEMS),
)

def contact_visible(*, user, trashed: bool = False, **lookups):
    """Contacts in `user`'s scope (and matching `lookups`), built in one filter call."""
    return Contact.all_objects.filter(
        in_scope(user, "contact", deleted_at__isnull=not trashed, **lookups))


def company_visible(*, user, trashed: bool = False, **lookups):
    return Company.all_objects.filter(
        in_scope(user, "company", deleted_at__isnull=not trashed, **lookups))


def contact_list(*, user, params) -> listing.Page:
    query = listing.parse(params, CONTACT_LIST, definitions_for("contact"))
    queryset = listing.apply(contact_visible(user=user), query, CONTACT_LIST)
    return listing.paginate(queryset, query, CONTACT_LIST, rows=_contact_rows)


def _contact_rows(rows):
    return rows.select_related("company", "owner").annotate(tag_names=tag_names(Contact))


def company_list(*, user, params) -> listing.Page:
    query = listing.parse(params, COMPANY_LIST, definitions_for("company"))
    queryset = listing.apply(company_visible(user=user), query, COMPANY_LIST)
    return listing.paginate(queryset, query, COMPANY_LIST, rows=_company_rows)


def _company_rows(rows):
    return rows.select_related("owner").annotate(
        contact_count=Count("contacts", filter=Q(contacts__deleted_at__isnull=True)),
        tag_names=tag_names(Company))


LISTS = {"contact": (CONTACT_LIST, contact_visible, _contact_rows),
         "company": (COMPANY_LIST, company_visible, _company_rows)}


def list_for_export(*, user, object_type: str, params, batch_size: int = 2000):
    """A contact or company list as an export reads it, scoped to `user` (listing.for_export)."""
    spec, visible, rows = LISTS[object_type]
    return listing.for_export(visible(user=user), params, spec, definitions_for(object_type),
                              rows=rows, batch_size=batch_size)


def contact_get(*, user, contact_id: int) -> Contact | None:
    """The contact with its tags: what the API returns and forms edit (compiled once per
    scope: the API's detail read is the hottest read there is)."""
    return _compiled_get(Contact, contact_visible, user, contact_id)


def _compiled_get(model, visible, user, pk: int):
    if not (user and user.is_authenticated and user.is_active):
        return None
    scope = scope_for(user, model.object_type)
    shape = (model.object_type, scope, bool(user.team_id), connection.alias)
    read = compiled(shape, lambda: visible(
        user=_sentinel_user(user), pk=SENTINELS["pk"]).annotate(tag_names=tag_names(model)))
    return read.one(pk=pk, user=user.pk, team=user.team_id)


def _sentinel_user(user):
    """A stand-in with the user's role and scope, whose ids are the sentinels."""
    return User(pk=SENTINELS["user"], role=user.role, is_superuser=user.is_superuser,
                is_active=True, team_id=SENTINELS["team"] if user.team_id else None)


def contact_page(*, user, contact_id: int) -> Contact | None:
    """The contact with everything its record page shows beside it."""
    return one(contact_visible(user=user, pk=contact_id)
               .select_related("company", "owner", "created_by")
               .annotate(tag_names=tag_names(Contact)))


def company_get(*, user, company_id: int) -> Company | None:
    return _compiled_get(Company, company_visible, user, company_id)


def company_page(*, user, company_id: int) -> Company | None:
    return one(company_visible(user=user, pk=company_id)
               .select_related("owner", "created_by").annotate(tag_names=tag_names(Company)))


def company_contacts(*, user, company: Company):
    return (contact_visible(user=user).filter(company=company)
            .select_related("owner").order_by("last_name", "first_name", "id"))


def trash_list(*, user, object_type: str, limit: int = 200):
    visible = contact_visible if object_type == "contact" else company_visible
    return visible(user=user, trashed=True).order_by("-deleted_at")[:limit]


def search_all(*, user, query: str, limit: int = 8) -> dict:
    """The global search box's contacts and companies: the best matches `user` may see, one
    query per type however many match."""
    def matches(visible, spec, **params):
        return listing.apply(visible, listing.parse(listing.params(q=query, **params), spec), spec)

    contacts = matches(contact_visible(user=user), CONTACT_LIST).select_related(
        "company").order_by("last_name", "first_name", "id")[:limit]
    companies = matches(company_visible(user=user), COMPANY_LIST, sort="name").order_by(
        "name", "id")[:limit]
    return {"contacts": list(contacts), "companies": list(companies)}


def company_choices(*, user, limit: int = 500, include_id: int | None = None) -> list[Company]:
    """Visible companies for a form's select, by name; `include_id` is kept even past `limit`."""
    companies = list(company_visible(user=user).only("id", "name").order_by("name", "id")[:limit])
    if include_id and all(c.pk != include_id for c in companies):
        extra = company_visible(user=user).only("id", "name").filter(pk=include_id).first()
        if extra:
            companies.append(extra)
    return companies


def records_by_ids(*, user, object_type: str, ids) -> list:
    """The visible contacts or companies among `ids` (for confirming a bulk action)."""
    visible = contact_visible if object_type == "contact" else company_visible
    return list(visible(user=user).filter(pk__in=ids)[:1000])


def contact_stage_counts(*, user) -> list[dict]:
    """Visible contacts per lifecycle stage, in the funnel's order (one grouped query)."""
    counts = dict(
        contact_visible(user=user).order_by().values_list("lifecycle_stage")
        .annotate(n=Count("id")).values_list("lifecycle_stage", "n")
    )
    return [{"stage": value, "label": label, "count": counts.get(value, 0)}
            for value, label in LifecycleStage.choices]
