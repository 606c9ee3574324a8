"""Global search finds leads and deals, within the user's scope, in a fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rapport.contacts.services import company_create, contact_create
from rapport.sales import lead_services
from rapport.sales.services import deal_create
from rapport.web.views import search_everything


def search_all(*, user, query, limit=8):
    return search_everything(user, query, limit=limit)


def lead(owner, **data):
    return lead_services.lead_create(actor=owner, data={
        "first_name": "Quentin", "last_name": "Quasar", "owner_id": owner.pk, **data})


def deal(owner, **data):
    return deal_create(actor=owner, data={"name": "Quasar renewal", "amount": "12000",
                                          "owner_id": owner.pk, **data})


@pytest.fixture
def found(org):
    """A lead and a deal owned by sales_a1 (team A)."""
    company = company_create(actor=org.sales_a1, data={"name": "Nebula Ltd"})
    return {"lead": lead(org.sales_a1, email="q.quasar@nebula.example", company_name="Nebula"),
            "deal": deal(org.sales_a1, company_id=company.pk)}


def ids(results, kind) -> set[int]:
    return {record.pk for record in results[kind]}


def test_a_lead_and_a_deal_are_found_by_name_and_email(org, found):
    by_name = search_all(user=org.sales_a1, query="quasar")
    assert ids(by_name, "leads") == {found["lead"].pk}
    assert ids(by_name, "deals") == {found["deal"].pk}
    by_email = search_all(user=org.sales_a1, query="q.quasar@nebula.example")
    assert ids(by_email, "leads") == {found["lead"].pk} and not by_email["deals"]
    assert ids(search_all(user=org.sales_a1, query="renewal"), "deals") == {found["deal"].pk}
    assert not search_all(user=org.sales_a1, query="nothing-like-it")["leads"]


@pytest.mark.parametrize(("who", "sees"), [
    ("admin", True), ("manager_a", True), ("sales_a1", True),
    ("sales_a2", False), ("sales_b1", False),
])
def test_a_user_who_may_not_see_them_does_not_find_them(org, found, who, sees):
    results = search_all(user=getattr(org, who), query="quasar")
    assert bool(results["leads"]) is sees and bool(results["deals"]) is sees


def test_a_lead_changed_or_trashed_is_found_as_it_now_is(org, found):
    lead_services.lead_update(actor=org.sales_a1, lead_id=found["lead"].pk,
                              data={"last_name": "Pulsar"})
    assert ids(search_all(user=org.sales_a1, query="pulsar"), "leads") == {found["lead"].pk}
    lead_services.lead_delete(actor=org.sales_a1, lead_id=found["lead"].pk)
    assert not search_all(user=org.sales_a1, query="pulsar")["leads"]


def test_converted_leads_are_marked_and_come_after_open_ones(client, org, found):
    converted = lead(org.sales_a1, last_name="Quasar-Aardvark", email="aa@nebula.example")
    lead_services.lead_convert(actor=org.sales_a1, lead_id=converted.pk)
    results = search_all(user=org.sales_a1, query="quasar")
    assert [x.pk for x in results["leads"]] == [found["lead"].pk, converted.pk]

    client.force_login(org.sales_a1)
    page = client.get(reverse("search"), {"q": "quasar"}).content.decode()
    assert page.count("Converted") == 1
    dropdown = client.get(reverse("search"), {"q": "quasar"}, HTTP_HX_REQUEST="true")
    assert '<span class="badge">Converted</span>' in dropdown.content.decode()


def test_the_search_pages_group_leads_and_deals_and_link_to_them(client, org, found):
    contact_create(actor=org.sales_a1, data={"first_name": "Quasar", "last_name": "Contact"})
    client.force_login(org.sales_a1)
    dropdown = client.get(reverse("search"), {"q": "quasar"}, HTTP_HX_REQUEST="true")
    body = dropdown.content.decode()
    assert "<html" not in body
    for heading in ("Contacts", "Leads", "Deals"):
        assert f'<p class="dropdown-heading">{heading}</p>' in body
    assert reverse("leads:detail", args=[found["lead"].pk]) in body
    assert reverse("deals:detail", args=[found["deal"].pk]) in body
    assert "$12,000" in body and "Nebula Ltd" in body

    page = client.get(reverse("search"), {"q": "quasar"}).content.decode()
    assert 'id="res-leads">Leads <span class="muted">(1)</span>' in page
    assert 'id="res-deals">Deals <span class="muted">(1)</span>' in page
    assert reverse("leads:detail", args=[found["lead"].pk]) in page

    client.force_login(org.sales_b1)
    hidden = client.get(reverse("search"), {"q": "quasar"}, HTTP_HX_REQUEST="true").content
    assert b"No contacts, companies, leads or deals match" in hidden


def _queries(user, query: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        results = search_all(user=user, query=query, limit=25)
        # What the pages show of each row: read with it, never one query per row.
        shown = [(d.stage.name, d.company.name if d.company else "") for d in results["deals"]]
        shown += [c.company.name if c.company else "" for c in results["contacts"]]
    assert shown
    return len(captured)


def test_search_takes_the_same_few_queries_however_many_match(client, org, found):
    few = _queries(org.manager_a, "quasar")
    company = company_create(actor=org.sales_a2, data={"name": "Quasar Corp"})
    for n in range(6):
        lead(org.sales_a2, email=f"q{n}@nebula.example")
        deal(org.sales_a2, name=f"Quasar deal {n}", company_id=company.pk)
        contact_create(actor=org.sales_a2, data={"first_name": "Quasar", "last_name": f"C{n}",
                                                 "company_id": company.pk})
    many = _queries(org.manager_a, "quasar")
    assert few == many <= 4  # one query per object type
    assert len(search_all(user=org.manager_a, query="quasar", limit=25)["leads"]) == 7

    client.force_login(org.manager_a)
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("search"), {"q": "renewal"}, HTTP_HX_REQUEST="true")
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("search"), {"q": "quasar"}, HTTP_HX_REQUEST="true")
    assert len(small) == len(large)
