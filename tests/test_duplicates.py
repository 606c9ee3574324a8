"""Duplicates: refused on create unless asked for, found across the database by a scan that
compares only records sharing a key, reviewed best first, merged or dismissed (remembered)."""

import pytest

from rapport.contacts import duplicates
from rapport.contacts.merging import merge_records
from rapport.contacts.models import DuplicatePair, DuplicateStatus
from rapport.contacts.services import company_create, company_update, contact_create, record_delete
from rapport.core.errors import Conflict, PermissionDenied


@pytest.fixture
def crowd(org):
    acme = company_create(actor=org.admin, data={"name": "Acme Inc.", "domain": "acme.example"})
    make = lambda **data: contact_create(actor=org.admin, allow_duplicate=True, data=data)  # noqa: E731
    return {
        "ada": make(first_name="Ada", last_name="Lovelace", email="ada@acme.example", company_id=acme.pk),
        "ada_again": make(first_name="Ada", last_name="Lovelace", email="ada@acme.example"),
        "ada_typo": make(first_name="Ada", last_name="Lovelac", email="a.l@acme.example",
                         company_id=acme.pk),
        "phone_1": make(first_name="Grace", last_name="Hopper", phone="+12025550147"),
        "phone_2": make(first_name="G.", last_name="Hopper", phone="+12025550147"),
        "domain_1": make(first_name="Alan", last_name="Turing", email="alan@bletchley.example"),
        "domain_2": make(first_name="Alan M.", last_name="Turing", email="amt@bletchley.example"),
        "webmail_1": make(first_name="John", last_name="Smith", email="john1@gmail.com"),
        "webmail_2": make(first_name="John", last_name="Smith", email="john2@gmail.com"),
        "other": make(first_name="Katherine", last_name="Johnson", email="kj@nasa.example"),
    }


def pair_of(a, b):
    return DuplicatePair.objects.get(first_id=min(a.pk, b.pk), second_id=max(a.pk, b.pk))


def test_creating_a_duplicate_is_refused_with_the_match_unless_allowed(org):
    first = contact_create(actor=org.admin, data={"email": "ada@acme.example"})
    with pytest.raises(Conflict) as caught:
        contact_create(actor=org.admin, data={"email": "ADA@acme.example"})
    assert caught.value.extra["existing_id"] == first.pk
    company = company_create(actor=org.admin, data={"name": "Acme", "website": "https://acme.example"})
    with pytest.raises(Conflict) as caught:
        company_create(actor=org.admin, data={"name": "Acme Corp", "domain": "acme.example"})
    assert caught.value.extra["existing_id"] == company.pk
    assert company_create(actor=org.admin, data={"name": "Acme Corp", "domain": "acme.example"},
                          allow_duplicate=True).pk


def test_a_company_given_a_website_later_takes_its_domain_unless_another_company_has_it(org):
    acme = company_create(actor=org.admin, data={"name": "Acme"})
    acme = company_update(actor=org.admin, company_id=acme.pk, data={"website": "https://www.Acme.example/about"})
    assert acme.domain == "acme.example"
    kept = company_update(actor=org.admin, company_id=acme.pk, data={"domain": "acme-group.example",
                                                                    "website": "https://acme.example/en"})
    assert kept.domain == "acme-group.example"  # a domain of its own is not replaced
    other = company_create(actor=org.admin, data={"name": "Acme Corp"})
    other = company_update(actor=org.admin, company_id=other.pk, data={"website": "acme-group.example"})
    assert (other.website, other.domain) == ("https://acme-group.example", "")  # never doubled
    record_delete(actor=org.admin, object_type="company", record_id=acme.pk)
    third = company_create(actor=org.admin, data={"name": "Acme Holdings"})
    third = company_update(actor=org.admin, company_id=third.pk, data={"website": "acme-group.example/h"})
    assert third.domain == ""  # a trashed company's neither: restoring it would make two


def test_the_api_answers_a_duplicate_with_409_and_the_matchs_id(org, api):
    client = api(org.admin)
    made = client.post("/companies", {"name": "Acme", "domain": "acme.example"}).json()
    again = client.post("/companies", {"name": "Acme 2", "domain": "acme.example"})
    assert again.status_code == 409
    assert again.json()["error"]["existing_id"] == made["id"] and "domain" in again.json()["error"]["fields"]
    assert client.post("/companies?allow_duplicate=true",
                       {"name": "Acme 2", "domain": "acme.example"}).status_code == 201


def test_the_scan_finds_pairs_by_email_phone_and_similar_names_with_their_reasons(org, crowd):
    scan = duplicates.scan("contact")
    assert scan.status == "done" and scan.records == 10

    same_email = pair_of(crowd["ada"], crowd["ada_again"])
    assert (same_email.score, same_email.reasons[0]) == (100, "Same email")
    assert pair_of(crowd["phone_1"], crowd["phone_2"]).reasons == ["Same phone"]
    assert "Similar name at the same company" in pair_of(crowd["ada"], crowd["ada_typo"]).reasons
    assert pair_of(crowd["domain_1"], crowd["domain_2"]).reasons == [
        "Similar name, both at bletchley.example"]
    found = {(p.first_id, p.second_id) for p in DuplicatePair.objects.all()}
    webmail = (crowd["webmail_1"].pk, crowd["webmail_2"].pk)
    assert webmail not in found  # two John Smiths at gmail.com are not evidence of anything
    assert not any(crowd["other"].pk in ids for ids in found)


def test_the_queue_is_best_first_and_only_shows_pairs_the_user_can_see(org, crowd):
    duplicates.scan("contact")
    scores = [p.score for p in duplicates.queue(user=org.admin, object_type="contact")]
    assert scores == sorted(scores, reverse=True) and scores[0] == 100
    assert duplicates.queue(user=org.sales_b1, object_type="contact") == []


def test_not_a_duplicate_is_remembered_by_the_next_scan(org, crowd):
    duplicates.scan("contact")
    pair = pair_of(crowd["phone_1"], crowd["phone_2"])
    duplicates.dismiss(actor=org.admin, pair_id=pair.pk)
    duplicates.scan("contact")
    assert pair_of(crowd["phone_1"], crowd["phone_2"]).status == DuplicateStatus.DISMISSED
    assert pair.pk not in {p.pk for p in duplicates.queue(user=org.admin, object_type="contact")}


def test_merging_a_pair_settles_it(org, crowd):
    duplicates.scan("contact")
    merge_records(actor=org.admin, object_type="contact", survivor_id=crowd["ada"].pk,
                  other_id=crowd["ada_again"].pk)
    assert pair_of(crowd["ada"], crowd["ada_again"]).status == DuplicateStatus.MERGED
    assert not DuplicatePair.objects.filter(status="open", second_id=crowd["ada_again"].pk).exists()


def test_companies_are_scanned_by_domain_phone_and_name_without_legal_suffixes(org):
    make = lambda **data: company_create(actor=org.admin, allow_duplicate=True, data=data)  # noqa: E731
    a, b = make(name="Globex GmbH", domain="globex.example"), make(name="Globex", domain="globex.example")
    c, d = make(name="Initech Inc."), make(name="INITECH, LLC")
    duplicates.scan("company")
    assert pair_of(a, b).reasons[0] == "Same domain"
    assert pair_of(c, d).reasons == ["Similar name"]


def test_only_admins_start_a_scan_and_the_page_shows_the_queue(client, org, crowd):
    with pytest.raises(PermissionDenied):
        duplicates.scan_soon(actor=org.sales_a1, object_type="contact")
    duplicates.scan("contact")
    client.force_login(org.admin)
    page = client.get("/contacts/duplicates/?type=contact")
    assert b"Compare and merge" in page.content and b"Same email" in page.content
    pair = pair_of(crowd["phone_1"], crowd["phone_2"])
    response = client.post(f"/contacts/duplicates/{pair.pk}/dismiss/", {"type": "contact"})
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.DISMISSED


def test_the_api_lists_and_dismisses_pairs(org, crowd, api):
    duplicates.scan("contact")
    client = api(org.admin)
    items = client.get("/duplicates", object_type="contact").json()["items"]
    assert items[0]["score"] == 100
    assert client.post(f"/duplicates/{items[0]['id']}/dismiss").json()["status"] == "dismissed"
    assert api(org.sales_a1).post("/duplicates/scan", {"object_type": "contact"}).status_code == 403
