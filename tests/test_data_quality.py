"""The data-quality page: problem filters on the lists (API and UI), counts within scope."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.contacts import services
from rapport.contacts.models import Company, Contact
from rapport.contacts.quality import COMPANY_PROBLEMS, CONTACT_PROBLEMS, quality_summary
from tests.conftest import PASSWORD

# Values only a record from before normalisation (or raw SQL) can hold: what each problem finds.
CONTACT_DEFECTS = {
    "no_email": [{"email": ""}],
    "invalid_email": [{"email": "Grace@Navy.MIL"}, {"email": "grace.navy.mil"}],
    "invalid_phone": [{"phone": "(415) 555-0123"}, {"phone": "+0123456789"},
                      {"phone": "+14155550123\n"}],  # Python's `$` would let this one pass
    "no_owner": [{"owner": None}],
    "no_name": [{"first_name": "", "last_name": ""}],
    "no_company": [{"company": None}],
    "no_country": [{"country": ""}],
}
COMPANY_DEFECTS = {
    "no_domain": [{"domain": ""}],
    "invalid_phone": [{"phone": "555 0123"}],
    "no_owner": [{"owner": None}],
    "no_contacts": [{}],  # made without a contact (and one more whose only contact is trashed)
}


def _company(owner, n: int) -> Company:
    return services.company_create(actor=owner, data={
        "name": f"Company {n}", "domain": f"c{n}.example", "phone": "+14155550100"})


def _contact(owner, company, n: int) -> Contact:
    return services.contact_create(actor=owner, data={
        "first_name": "Clean", "last_name": f"Contact {n}", "email": f"person{n}@example.com",
        "phone": "+14155550123", "country": "US", "company_id": company.pk})


@pytest.fixture
def messy(org):
    """One clean contact and company, then one record per defect, clean but for that defect;
    all owned by sales_a1, plus a copy of every defect owned by sales_b1 (another team)."""
    made = {"contact": {}, "company": {}}
    counter = iter(range(1000))
    for owner in (org.sales_a1, org.sales_b1):
        clean_company = _company(owner, next(counter))
        _contact(owner, clean_company, next(counter))
        for name, changes in CONTACT_DEFECTS.items():
            for change in changes:
                contact = _contact(owner, clean_company, next(counter))
                Contact.all_objects.filter(pk=contact.pk).update(**change)
                made["contact"].setdefault(name, []).append(contact.pk)
        for name, changes in COMPANY_DEFECTS.items():
            for change in changes:
                company = _company(owner, next(counter))
                if name != "no_contacts":
                    _contact(owner, company, next(counter))
                Company.all_objects.filter(pk=company.pk).update(**change)
                made["company"].setdefault(name, []).append(company.pk)
        only_trashed = _company(owner, next(counter))
        trashed = _contact(owner, only_trashed, next(counter))
        Contact.all_objects.filter(pk=trashed.pk).update(email="", deleted_at=timezone.now())
        made["company"]["no_contacts"].append(only_trashed.pk)
    return made


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


@pytest.mark.parametrize("name", list(CONTACT_PROBLEMS))
def test_a_contact_problem_filter_lists_exactly_the_records_with_it(org, api, messy, name):
    assert _ids(api().get("/contacts", problem=name)) == set(messy["contact"][name])


@pytest.mark.parametrize("name", list(COMPANY_PROBLEMS))
def test_a_company_problem_filter_lists_exactly_the_records_with_it(org, api, messy, name):
    assert _ids(api().get("/companies", problem=name)) == set(messy["company"][name])


def test_problems_repeat_and_narrow_together_and_combine_with_filters(org, api, messy):
    both = Contact.all_objects.get(pk=messy["contact"]["no_country"][0])
    Contact.all_objects.filter(pk=both.pk).update(email="")
    assert _ids(api().get("/contacts", problem=["no_email", "no_country"])) == {both.pk}
    scoped = api().get("/contacts", problem="no_email", owner_id=org.sales_b1.pk)
    assert _ids(scoped) == {pk for pk in Contact.all_objects.filter(
        email="", owner=org.sales_b1, deleted_at__isnull=True).values_list("pk", flat=True)}


@pytest.mark.parametrize(("path", "name"), [
    ("/contacts", "no_such_problem"), ("/contacts", "no_domain"), ("/companies", "no_email"),
])
def test_an_unknown_problem_is_a_400_naming_the_parameter(org, api, path, name):
    response = api().get(path, problem=name)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert "problem" in error["fields"]


def test_the_api_sees_problems_only_within_scope(org, api, messy):
    seen = _ids(api(org.sales_a1).get("/contacts", problem="no_email"))
    assert seen and all(Contact.all_objects.get(pk=pk).owner == org.sales_a1 for pk in seen)


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


def test_the_ui_list_shows_the_problem_as_a_chip_and_keeps_it_when_filtering(admin_client,
                                                                            messy):
    page = admin_client.get(reverse("contacts:list") + "?problem=no_owner&q=")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Problem: No owner" in html
    assert '<input type="hidden" name="problem" value="no_owner">' in html
    assert re.search(r'aria-label="Remove the filter No owner"', html)
    rows = re.findall(r'/contacts/(\d+)/"', html)
    assert {int(pk) for pk in rows} == set(messy["contact"]["no_owner"])
    two = admin_client.get(reverse("contacts:list") + "?problem=no_owner&problem=no_email")
    assert 'href="?problem=no_email" aria-label="Remove the filter No owner"' in two.content.decode()


def test_the_ui_list_explains_an_unknown_problem(admin_client, messy):
    page = admin_client.get(reverse("companies:list") + "?problem=no_email")
    assert page.status_code == 200
    assert "This filter could not be applied." in page.content.decode()


def _counts(rows) -> dict:
    return {(row["object_type"], row["problem"]): row["count"] for row in rows}


def test_the_summary_counts_every_problem_the_admin_can_see(org, messy):
    counts = _counts(quality_summary(user=org.admin))
    for name, ids in messy["contact"].items():
        assert counts["contact", name] == len(ids), name
    for name, ids in messy["company"].items():
        assert counts["company", name] == len(ids), name


def test_a_seller_counts_only_what_they_can_see(org, messy):
    rows = quality_summary(user=org.sales_a1)
    counts = _counts(rows)
    # Contacts: own scope, so unowned contacts are out of sight; companies: the team's.
    assert counts["contact", "no_email"] == len(CONTACT_DEFECTS["no_email"])
    assert counts["contact", "invalid_phone"] == len(CONTACT_DEFECTS["invalid_phone"])
    assert counts["contact", "no_owner"] == 0
    assert counts["company", "no_contacts"] == 2
    contact_total = next(r["total"] for r in rows if r["object_type"] == "contact")
    assert contact_total == Contact.objects.filter(owner=org.sales_a1).count()


def test_each_row_says_why_and_links_to_its_filtered_list(org, messy):
    rows = quality_summary(user=org.admin)
    first = rows[0]
    assert first["label"] == "Contacts without an email"
    assert first["why"] and first["url"] == "/contacts/?problem=no_email"
    assert {"object_type": "company", "problem": "no_domain",
            "url": "/companies/?problem=no_domain"}.items() <= rows[7].items()


@pytest.mark.parametrize("role", ["admin", "sales_a1", "manager_a"])
def test_the_summary_is_one_query_per_object_type(org, messy, django_assert_num_queries, role):
    user = getattr(org, role)
    with django_assert_num_queries(2):
        quality_summary(user=user)


def test_other_checks_join_the_summary_through_extra(org):
    duplicates = {"label": "Open duplicate pairs", "count": 3, "url": "/contacts/duplicates/"}
    rows = quality_summary(user=org.admin, extra=[duplicates])
    assert rows[-1] == {"object_type": "", "problem": "", "why": "", "total": None, **duplicates}


def test_the_page_shows_each_problem_with_a_link_and_a_chart(admin_client, messy):
    page = admin_client.get(reverse("contacts:data_quality"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Data quality</h1>" in html
    assert 'href="/contacts/?problem=no_email"' in html
    assert 'href="/companies/?problem=no_contacts"' in html
    assert "Contacts without an email" in html and "Companies without contacts" in html
    assert 'id="quality-chart-data" type="application/json"' in html
    assert '"indexAxis": "y"' in html
    # The strict CSP: every script is a file or JSON data, none is inline code.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_the_page_says_so_when_everything_is_clean(admin_client, org):
    company = _company(org.admin, 1)
    _contact(org.admin, company, 2)
    _contact(org.admin, company, 3)
    page = admin_client.get(reverse("contacts:data_quality"))
    html = page.content.decode()
    assert "No problems found in the 2 contacts and 1 company you can see." in html
    assert "quality-chart-data" not in html and "chart.umd" not in html



@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_page_draws_its_chart_and_fits_a_phone(browser, live_server, org, messy):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login/")
    page.get_by_label("Email").fill(org.admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))

    page.goto(reverse("contacts:data_quality"))
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at 390px"
    page.get_by_role("link", name=re.compile("Contacts without an owner")).click()
    page.wait_for_url(re.compile(r"problem=no_owner"))
    assert page.get_by_text("Problem: No owner").is_visible()
    context.close()
    assert errors == [], errors  # no CSP violations or script errors
