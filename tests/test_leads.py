"""Leads: cleaning, assignment rules (round robin, least loaded, order, fallback) and conversion
into a contact, a company and a deal without duplicates."""

import threading
from collections import Counter

import pytest
from django.db import connection

from rapport.accounts.roles import Role
from rapport.accounts.services import team_create, user_create
from rapport.activities.models import Activity
from rapport.activities.selectors import timeline
from rapport.activities.services import activity_create
from rapport.contacts.models import Company, Contact
from rapport.contacts.services import company_create, contact_create
from rapport.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from rapport.core.models import Event
from rapport.core.services import custom_field_create
from rapport.sales import lead_selectors as selectors
from rapport.sales import lead_services as services
from rapport.sales.models import AssignmentRule, Deal, DealContact, Lead, Pipeline
from tests.conftest import PASSWORD


def lead(actor, **data):
    return services.lead_create(actor=actor, data={"first_name": "Ada", "last_name": "Lead", **data})


def rule(admin, **data):
    return services.assignment_rule_create(actor=admin, data={"name": "Rule", **data})


def types(obj):
    return list(Event.objects.filter(object_type=obj.object_type, object_id=obj.pk)
                .order_by("id").values_list("type", flat=True))


@pytest.fixture
def crew(org):
    """A team of three sellers (ids ascending) for round robin and least loaded."""
    team = team_create(actor=org.admin, name="Inbound")
    members = [user_create(actor=org.admin, email=f"in{i}@acme.example", full_name=f"Inbound {i}",
                           role=Role.SALES, team_id=team.pk, password=PASSWORD) for i in range(3)]
    return team, members


# Creating, cleaning, validating -----------------------------------------------------------

def test_a_lead_is_cleaned_like_a_contact(org):
    created = services.lead_create(actor=org.sales_a1, data={
        "first_name": "  ADA ", "last_name": "lovelace", "email": " Ada@Example.COM ",
        "phone": "+1 (415) 555-0123", "country": "Germany", "website": "Example.com/about",
        "company_name": "  Analytical   Engines ", "company_size": "11-50", "score": "42",
        "tags": ["Hot", "hot"]})
    created.refresh_from_db()
    assert (created.first_name, created.last_name) == ("Ada", "Lovelace")
    assert created.email == "ada@example.com"
    assert created.phone == "+14155550123"
    assert created.country == "DE"
    assert created.website == "https://example.com/about"
    assert created.company_name == "Analytical Engines"
    assert created.score == 42 and created.status == "new" and created.source == "other"
    assert created.owner_id == org.sales_a1.pk  # no rules, no fallback: its creator
    assert [t.name for t in created.tags.all()] == ["Hot"]
    assert types(created) == ["lead.created", "lead.assigned"]
    assigned = Event.objects.get(type="lead.assigned", object_id=created.pk)
    assert assigned.data["method"] == "creator"


@pytest.mark.parametrize(("data", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"phone": "12"}, "phone"),
    ({"country": "Atlantis"}, "country"),
    ({"status": "hot"}, "status"),
    ({"source": "carrier pigeon"}, "source"),
    ({"score": "lots"}, "score"),
    ({"score": 10**9}, "score"),
    ({"company_size": "huge"}, "company_size"),
    ({"owner_id": 999999}, "owner_id"),
    ({"custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ({"status": "disqualified"}, "disqualified_reason"),
    ({"disqualified_reason": "Too small"}, "disqualified_reason"),
    ({"first_name": "", "last_name": ""}, "first_name"),
    ({"shoe_size": 44}, "shoe_size"),
])
def test_bad_input_names_the_field_and_writes_nothing(org, data, field):
    with pytest.raises(ValidationFailed) as caught:
        lead(org.sales_a1, **data)
    assert field in caught.value.fields
    assert not Lead.all_objects.exists()
    assert not Event.objects.filter(object_type="lead").exists()


def test_leaving_disqualified_clears_the_reason_and_a_converted_lead_stays_qualified(org):
    created = lead(org.sales_a1, status="disqualified", disqualified_reason="No budget")
    updated = services.lead_update(actor=org.sales_a1, lead_id=created.pk, data={"status": "working"})
    assert (updated.status, updated.disqualified_reason) == ("working", "")
    services.lead_convert(actor=org.sales_a1, lead_id=created.pk)
    with pytest.raises(ValidationFailed) as caught:
        services.lead_update(actor=org.sales_a1, lead_id=created.pk, data={"status": "new"})
    assert "status" in caught.value.fields


# Assignment -------------------------------------------------------------------------------

def test_round_robin_is_fair_over_a_thousand_leads(org, crew):
    team, members = crew
    rule(org.admin, action="round_robin", team_id=team.pk)
    for i in range(1000):
        services.lead_create(actor=org.admin, data={"email": f"l{i}@corp{i}.example"})
    counts = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert set(counts) == {m.pk for m in members}
    assert max(counts.values()) - min(counts.values()) <= 1
    # Each took its turn in order: 0, 1, 2, 0, 1, 2...
    owners = list(Lead.objects.order_by("id").values_list("owner_id", flat=True)[:6])
    assert owners == [m.pk for m in members] * 2


def test_round_robin_skips_inactive_members(org, crew):
    team, members = crew
    rule(org.admin, action="round_robin", team_id=team.pk)
    members[1].is_active = False
    members[1].save()
    owners = {lead(org.admin).owner_id for _ in range(4)}
    assert owners == {members[0].pk, members[2].pk}


def test_least_loaded_gives_each_lead_to_whoever_has_fewest_open_leads(org, crew):
    team, members = crew
    a, b, c = members
    for owner, count in ((a, 3), (b, 1)):
        for _ in range(count):
            lead(org.admin, owner_id=owner.pk)
    # Closed and trashed leads are not load.
    lead(org.admin, owner_id=c.pk, status="disqualified", disqualified_reason="Spam")
    lead(org.admin, owner_id=c.pk, status="qualified")
    services.lead_delete(actor=org.admin, lead_id=lead(org.admin, owner_id=c.pk).pk)

    rule(org.admin, action="least_loaded", team_id=team.pk)
    first = [lead(org.admin).owner_id for _ in range(3)]
    assert first[0] == c.pk                   # 0 open
    assert set(first[1:]) == {b.pk, c.pk}     # b and c at 1 each, then 2
    for _ in range(8):
        lead(org.admin)
    open_counts = selectors.open_lead_counts(m.pk for m in members)
    assert sorted(open_counts.values()) == [5, 5, 5]


def test_rules_apply_in_order_then_the_fallback_then_the_creator(org, crew):
    team, members = crew
    germany = rule(org.admin, name="DACH", conditions=[
        {"field": "country", "op": "in", "value": ["Germany", "AT", "ch"]}],
        action="user", user_id=org.sales_a2.pk)
    events = rule(org.admin, name="Events", conditions=[
        {"field": "source", "op": "eq", "value": "event"},
        {"field": "score", "op": "gte", "value": 50}], action="round_robin", team_id=team.pk)
    assert germany.conditions[0]["value"] == ["DE", "AT", "CH"]

    assert lead(org.sales_a1, country="DE", source="event", score=90).owner_id == org.sales_a2.pk
    assert lead(org.sales_a1, source="event", score=90).owner_id == members[0].pk
    assert lead(org.sales_a1, source="event", score=10).owner_id == org.sales_a1.pk  # creator
    services.lead_settings_update(actor=org.admin, data={"fallback_owner_id": org.manager_a.pk})
    fallback = lead(org.sales_a1, source="event", score=10)
    assert fallback.owner_id == org.manager_a.pk
    assert Event.objects.get(type="lead.assigned", object_id=fallback.pk).data["method"] == "fallback"

    # Reordered: the event rule now wins for a German event lead.
    services.assignment_rules_reorder(actor=org.admin, rule_ids=[events.pk, germany.pk])
    routed = lead(org.sales_a1, country="DE", source="event", score=90)
    assert routed.owner_id == members[1].pk
    data = Event.objects.get(type="lead.assigned", object_id=routed.pk).data
    assert (data["method"], data["rule_id"], data["rule_name"]) == ("rule", events.pk, "Events")

    # An explicit owner skips the rules; an inactive rule is skipped; "any" matches one.
    assert lead(org.sales_a1, country="DE", owner_id=org.sales_b1.pk).owner_id == org.sales_b1.pk
    services.assignment_rule_update(actor=org.admin, rule_id=events.pk,
                                    data={"active": False})
    assert lead(org.sales_a1, country="DE", source="event", score=90).owner_id == org.sales_a2.pk
    services.assignment_rule_update(actor=org.admin, rule_id=events.pk,
                                    data={"active": True, "match": "any"})
    assert lead(org.sales_a1, source="event", score=0).owner_id in {m.pk for m in members}


def test_a_rule_whose_user_left_passes_the_lead_on(org):
    rule(org.admin, action="user", user_id=org.sales_a2.pk)
    rule(org.admin, action="user", user_id=org.sales_b1.pk)
    org.sales_a2.is_active = False
    org.sales_a2.save()
    assert lead(org.sales_a1).owner_id == org.sales_b1.pk


def test_conditions_on_custom_fields_tags_and_company_size(org):
    custom_field_create(actor=org.admin, object_type="lead", key="industry", label="Industry",
                        type="select", options=["Banking", "Retail"])
    custom_field_create(actor=org.admin, object_type="lead", key="seats", label="Seats",
                        type="number")
    rule(org.admin, name="Banks", conditions=[
        {"field": "custom_fields.industry", "op": "eq", "value": "banking"},
        {"field": "custom_fields.seats", "op": "gt", "value": 100}],
        action="user", user_id=org.sales_a2.pk)
    rule(org.admin, name="Big or VIP", match="any", conditions=[
        {"field": "company_size", "op": "in", "value": ["1001-5000", "5001+"]},
        {"field": "tags", "op": "eq", "value": "VIP"},
        {"field": "email_domain", "op": "eq", "value": "bigcorp.example"}],
        action="user", user_id=org.sales_b1.pk)
    assert lead(org.sales_a1, custom_fields={"industry": "Banking", "seats": 500}).owner_id == \
        org.sales_a2.pk
    assert lead(org.sales_a1, custom_fields={"industry": "Banking", "seats": 5}).owner_id == \
        org.sales_a1.pk
    assert lead(org.sales_a1, company_size="5001+").owner_id == org.sales_b1.pk
    assert lead(org.sales_a1, tags=["vip"]).owner_id == org.sales_b1.pk
    assert lead(org.sales_a1, email="x@bigcorp.example").owner_id == org.sales_b1.pk


@pytest.mark.parametrize(("data", "field"), [
    ({"action": "user"}, "user_id"),
    ({"action": "round_robin"}, "team_id"),
    ({"action": "teleport", "user_id": 1}, "action"),
    ({"action": "user", "user_id": 1, "conditions": [{"field": "mood", "op": "eq", "value": 1}]},
     "conditions[0].field"),
    ({"action": "user", "user_id": 1, "conditions": [{"field": "country", "op": "gt", "value": 1}]},
     "conditions[0].op"),
    ({"action": "user", "user_id": 1, "conditions": [{"field": "country", "op": "eq",
                                                       "value": "Atlantis"}]},
     "conditions[0].value"),
    ({"action": "user", "user_id": 1, "conditions": [{"field": "source", "op": "in", "value": []}]},
     "conditions[0].value"),
    ({"action": "user", "user_id": 1, "conditions": "country=DE"}, "conditions"),
])
def test_a_bad_rule_names_where_and_writes_nothing(org, data, field):
    data = {**data, "user_id": org.admin.pk} if data.get("user_id") == 1 else data
    with pytest.raises(ValidationFailed) as caught:
        rule(org.admin, **data)
    assert field in caught.value.fields
    assert not AssignmentRule.objects.exists()


def test_only_admins_change_rules(org):
    with pytest.raises(PermissionDenied):
        rule(org.manager_a, action="user", user_id=org.sales_a1.pk)
    with pytest.raises(PermissionDenied):
        services.lead_settings_update(actor=org.sales_a1, data={"fallback_owner_id": None})


def test_rule_positions_stay_numbered_through_moves_and_deletes(org):
    first, second, third = (rule(org.admin, name=n, action="user", user_id=org.admin.pk)
                            for n in ("one", "two", "three"))
    services.assignment_rule_move(actor=org.admin, rule_id=third.pk, offset=-1)
    assert [r.name for r in selectors.assignment_rule_list()] == ["one", "three", "two"]
    services.assignment_rule_update(actor=org.admin, rule_id=second.pk, data={"position": 0})
    assert [r.name for r in selectors.assignment_rule_list()] == ["two", "one", "three"]
    services.assignment_rule_delete(actor=org.admin, rule_id=first.pk)
    assert [(r.name, r.position) for r in selectors.assignment_rule_list()] == \
        [("two", 1), ("three", 2)]
    with pytest.raises(ValidationFailed):
        services.assignment_rules_reorder(actor=org.admin, rule_ids=[second.pk])


@pytest.mark.skipif(connection.vendor == "sqlite",
                    reason="SQLite has no row locks: it runs one writer at a time anyway")
@pytest.mark.django_db(transaction=True)
def test_concurrent_round_robin_never_gives_two_leads_the_same_turn(org, crew):
    team, _ = crew
    rule(org.admin, action="round_robin", team_id=team.pk)
    barrier, errors = threading.Barrier(6), []

    def create(i):
        try:
            barrier.wait()
            services.lead_create(actor=org.admin, data={"first_name": f"Racer {i}"})
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(Counter(Lead.objects.values_list("owner_id", flat=True)).values()) == [2, 2, 2]
    assert AssignmentRule.objects.get().round_robin_position == 6


# Conversion -------------------------------------------------------------------------------

def test_conversion_links_the_contact_with_the_same_email_whatever_its_case(org):
    existing = contact_create(actor=org.sales_a1, data={
        "first_name": "Grace", "email": "GRACE@Navy.example", "lifecycle_stage": "lead"})
    created = lead(org.sales_a1, first_name="Grace", last_name="Hopper",
                   email="grace@NAVY.example", title="Rear Admiral", phone="+14155550123")
    result = services.lead_convert(actor=org.sales_a1, lead_id=created.pk)
    assert result.contact.pk == existing.pk and not result.contact_created
    assert Contact.objects.count() == 1
    existing.refresh_from_db()
    # Empty fields filled, what it had kept, its stage moved up (never down).
    assert (existing.first_name, existing.last_name, existing.title, existing.phone) == \
        ("Grace", "Hopper", "Rear Admiral", "+14155550123")
    assert existing.lifecycle_stage == "sales_qualified"
    created.refresh_from_db()
    assert created.status == "qualified" and created.converted_at is not None
    assert created.converted_contact_id == existing.pk
    assert types(created)[-2:] == ["lead.updated", "lead.converted"]


def test_conversion_creates_the_contact_and_company_and_a_deal(org):
    pipeline = Pipeline.objects.get(is_default=True)
    custom_field_create(actor=org.admin, object_type="lead", key="tier", label="Tier",
                        type="text")
    custom_field_create(actor=org.admin, object_type="contact", key="tier", label="Tier",
                        type="text")
    created = lead(org.sales_a1, email="ada@engines.example", company_name="Analytical Engines",
                   company_size="11-50", country="GB", tags=["Hot"], custom_fields={"tier": "A"})
    result = services.lead_convert(actor=org.sales_a1, lead_id=created.pk, create_deal=True,
                                   pipeline_id=pipeline.pk, amount="1250.50", currency="eur",
                                   deal_name="Engines pilot")
    contact, company, deal = result.contact, result.company, result.deal
    assert result.contact_created and result.company_created
    assert (contact.email, contact.company_id, contact.owner_id) == \
        ("ada@engines.example", company.pk, org.sales_a1.pk)
    assert contact.lifecycle_stage == "opportunity"
    assert contact.custom_fields == {"tier": "A"}
    assert sorted(t.name for t in contact.tags.all()) == ["Hot"]
    assert (company.name, company.domain, company.size, company.country) == \
        ("Analytical Engines", "engines.example", "11-50", "GB")
    assert (deal.name, str(deal.amount), deal.currency, deal.pipeline_id, deal.company_id) == \
        ("Engines pilot", "1250.50", "EUR", pipeline.pk, company.pk)
    assert DealContact.objects.filter(deal=deal, contact=contact).exists()
    created.refresh_from_db()
    assert (created.converted_company_id, created.converted_deal_id) == (company.pk, deal.pk)
    converted = Event.objects.get(type="lead.converted", object_id=created.pk).data
    assert converted["contact_created"] and converted["company_created"]


def test_conversion_matches_the_company_by_domain_then_by_name(org):
    by_domain = company_create(actor=org.sales_a1, data={"name": "Globex Corporation",
                                                        "domain": "globex.example"})
    by_name = company_create(actor=org.sales_a1, data={"name": "Initech, Inc."})

    first = lead(org.sales_a1, email="hank@globex.example", company_name="Globex")
    assert services.lead_convert(actor=org.sales_a1, lead_id=first.pk).company.pk == by_domain.pk
    second = lead(org.sales_a1, email="x@y.example", website="https://www.globex.example/en",
                  company_name="Something else")
    assert services.lead_convert(actor=org.sales_a1, lead_id=second.pk).company.pk == by_domain.pk
    third = lead(org.sales_a1, email="peter@gmail.com", company_name="INITECH")
    result = services.lead_convert(actor=org.sales_a1, lead_id=third.pk)
    assert result.company.pk == by_name.pk and not result.company_created
    assert Company.objects.count() == 2


def test_free_mail_domains_never_make_or_match_a_company(org):
    company_create(actor=org.admin, data={"name": "Gmail", "domain": "gmail.com"})
    plain = lead(org.sales_a1, email="someone@gmail.com")
    result = services.lead_convert(actor=org.sales_a1, lead_id=plain.pk)
    assert result.company is None and result.contact.company_id is None
    named = lead(org.sales_a1, email="other@gmail.com", company_name="Bluth Company")
    result = services.lead_convert(actor=org.sales_a1, lead_id=named.pk)
    assert result.company_created and result.company.domain == ""


def test_conversion_moves_the_leads_activities_to_the_contact(org):
    created = lead(org.sales_a1, email="ada@engines.example", company_name="Engines")
    note = activity_create(actor=org.sales_a1, data={"kind": "note", "body": "Met at the fair",
                                                     "lead_id": created.pk})
    call = activity_create(actor=org.sales_a1, data={"kind": "call", "lead_id": created.pk})
    assert [i.activity.pk for i in timeline(record=created) if i.activity] == [call.pk, note.pk]
    result = services.lead_convert(actor=org.sales_a1, lead_id=created.pk)
    assert result.activities_moved == 2
    for activity in Activity.objects.filter(pk__in=[note.pk, call.pk]):
        assert (activity.contact_id, activity.company_id, activity.lead_id) == \
            (result.contact.pk, result.company.pk, created.pk)
    on_contact = [i.activity.pk for i in timeline(record=result.contact) if i.activity]
    assert set(on_contact) == {note.pk, call.pk}


def test_a_lead_is_converted_once(org):
    created = lead(org.sales_a1, email="once@only.example")
    services.lead_convert(actor=org.sales_a1, lead_id=created.pk)
    with pytest.raises(Conflict) as caught:
        services.lead_convert(actor=org.sales_a1, lead_id=created.pk, create_deal=True)
    assert "status" in caught.value.fields
    assert Contact.objects.count() == 1 and not Deal.objects.exists()
    disqualified = lead(org.sales_a1, status="disqualified", disqualified_reason="Spam")
    with pytest.raises(Conflict):
        services.lead_convert(actor=org.sales_a1, lead_id=disqualified.pk)


def test_a_contact_the_actor_cannot_see_blocks_conversion_rather_than_being_duplicated(org):
    contact_create(actor=org.sales_b1, data={"first_name": "Hidden", "email": "hidden@corp.example"})
    created = lead(org.sales_a1, email="hidden@corp.example", company_name="Corp")
    with pytest.raises(Conflict) as caught:
        services.lead_convert(actor=org.sales_a1, lead_id=created.pk)
    assert "email" in caught.value.fields
    assert Contact.objects.count() == 1 and not Company.objects.exists()
    assert Lead.objects.get(pk=created.pk).converted_at is None
    # An admin sees it, and links it.
    assert services.lead_convert(actor=org.admin, lead_id=created.pk).contact.first_name == "Hidden"


def test_a_company_domain_outside_the_actors_scope_blocks_unless_a_company_is_chosen(org):
    company_create(actor=org.sales_b1, data={"name": "Team B's account", "domain": "far.example"})
    mine = company_create(actor=org.sales_a1, data={"name": "Far Ltd"})
    created = lead(org.sales_a1, email="ann@far.example", company_name="Far")
    with pytest.raises(Conflict) as caught:
        services.lead_convert(actor=org.sales_a1, lead_id=created.pk)
    assert "email" in caught.value.fields
    result = services.lead_convert(actor=org.sales_a1, lead_id=created.pk, company_id=mine.pk)
    assert result.company.pk == mine.pk


def test_a_failed_conversion_writes_nothing(org):
    created = lead(org.sales_a1, email="ada@engines.example", company_name="Engines")
    activity_create(actor=org.sales_a1, data={"kind": "call", "lead_id": created.pk})
    before = Event.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.lead_convert(actor=org.sales_a1, lead_id=created.pk, create_deal=True,
                              amount="-5", deal_name="")
    assert "amount" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.lead_convert(actor=org.sales_a1, lead_id=created.pk, amount="5")
    assert caught.value.fields == {"amount": ["Set create_deal to true to create a deal."]}
    assert not Contact.objects.exists() and not Company.objects.exists()
    assert not Deal.objects.exists() and Event.objects.count() == before
    assert Activity.objects.get().contact_id is None


def test_leads_are_scoped_like_other_records(org):
    mine = lead(org.sales_a1)
    theirs = lead(org.sales_b1)
    assert set(selectors.lead_visible(user=org.sales_a1).values_list("pk", flat=True)) == {mine.pk}
    assert set(selectors.lead_visible(user=org.manager_a).values_list("pk", flat=True)) == {mine.pk}
    assert selectors.lead_visible(user=org.marketing).count() == 2
    for call in (lambda: services.lead_update(actor=org.sales_a1, lead_id=theirs.pk,
                                              data={"score": 1}),
                 lambda: services.lead_convert(actor=org.sales_a1, lead_id=theirs.pk),
                 lambda: services.lead_delete(actor=org.sales_a1, lead_id=theirs.pk)):
        with pytest.raises(NotFound):
            call()
