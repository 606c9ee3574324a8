"""Visibility scopes: each role sees own, team or all records, everywhere alike."""

import pytest
from django.utils import timezone

from rapport.contacts.models import Contact
from rapport.contacts.selectors import contact_list, contact_visible, search_all
from rapport.contacts.services import contact_create, contact_update, record_delete
from rapport.core import listing
from rapport.core.errors import NotFound


@pytest.fixture
def records(org):
    """One contact owned by each seller, created by the admin on their behalf."""
    def make(owner, name):
        return contact_create(actor=org.admin, data={"first_name": name, "last_name": "Zed",
                                                     "owner_id": owner.pk})
    return {
        "a1": make(org.sales_a1, "Alpha"), "a2": make(org.sales_a2, "Beta"),
        "b1": make(org.sales_b1, "Gamma"),
    }


@pytest.mark.parametrize(("who", "sees"), [
    ("admin", {"a1", "a2", "b1"}),
    ("manager_a", {"a1", "a2"}),
    ("sales_a1", {"a1"}),
    ("sales_b1", {"b1"}),
    ("marketing", {"a1", "a2", "b1"}),
])
def test_each_role_sees_its_scope_in_lists_search_and_api(org, records, api, who, sees):
    user = getattr(org, who)
    expected = {records[k].pk for k in sees}
    assert set(contact_visible(user=user).values_list("pk", flat=True)) == expected

    assert {c.pk for c in contact_list(user=user, params=listing.params()).items} == expected
    assert {c.pk for c in search_all(user=user, query="zed")["contacts"]} == expected
    api_ids = {c["id"] for c in api(user).get("/contacts").json()["items"]}
    assert api_ids == expected
    for key, contact in records.items():
        status = api(user).get(f"/contacts/{contact.pk}").status_code
        assert status == (200 if key in sees else 404)


def test_out_of_scope_writes_are_404_and_change_nothing(org, records, api):
    theirs = records["b1"]
    client = api(org.sales_a1)
    assert client.patch(f"/contacts/{theirs.pk}", {"first_name": "Hacked"}).status_code == 404
    assert client.delete(f"/contacts/{theirs.pk}").status_code == 404
    assert client.post(f"/contacts/{theirs.pk}/restore").status_code == 404
    with pytest.raises(NotFound):
        contact_update(actor=org.sales_a1, contact_id=theirs.pk, data={"first_name": "X"})
    with pytest.raises(NotFound):
        record_delete(actor=org.sales_a1, object_type="contact", record_id=theirs.pk)
    theirs.refresh_from_db()
    assert theirs.first_name == "Gamma" and theirs.deleted_at is None and theirs.version == 1


def test_bulk_actions_skip_records_outside_the_scope(org, records, api):
    from rapport.contacts.services import records_bulk_tag

    changed = records_bulk_tag(actor=org.sales_a1, object_type="contact",
                               ids=[r.pk for r in records.values()], tags=["hot"])
    assert changed == 1
    assert list(Contact.objects.filter(tags__slug="hot").values_list("pk", flat=True)) == \
        [records["a1"].pk]


def test_linking_a_company_outside_the_scope_is_refused(org, api):
    company = api(org.sales_b1).post("/companies", {"name": "B Corp"}).json()
    response = api(org.sales_a1).post("/contacts", {"first_name": "X", "company_id": company["id"]})
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["company_id"] == ["No such company."]


def test_a_deactivated_users_token_stops_working(org, api):
    client = api(org.sales_a1)
    assert client.get("/contacts").status_code == 200
    api().patch(f"/users/{org.sales_a1.pk}", {"is_active": False})
    assert client.get("/contacts").status_code == 401


def test_a_revoked_token_stops_working(org):
    from rapport.accounts.services import token_create, token_revoke
    from tests.conftest import ApiClient

    token, raw = token_create(user=org.sales_a1, name="laptop")
    client = ApiClient(token=raw)
    assert client.get("/contacts").status_code == 200
    token_revoke(actor=org.sales_a1, token_id=token.pk)
    assert client.get("/contacts").status_code == 401


def test_a_role_change_applies_to_the_users_next_api_request(org, api):
    client = api(org.sales_a1)
    other = contact_create(actor=org.admin, data={"first_name": "Theirs", "owner_id": org.sales_b1.pk})
    assert client.get(f"/contacts/{other.pk}").status_code == 404
    api().patch(f"/users/{org.sales_a1.pk}", {"role": "marketing"})
    assert client.get(f"/contacts/{other.pk}").status_code == 200


def test_a_token_revoked_by_another_server_process_stops_working_within_seconds(org, monkeypatch):
    from rapport.accounts import services
    from rapport.accounts.models import ApiToken
    from tests.conftest import ApiClient

    now = [1000.0]
    monkeypatch.setattr(services, "_clock", lambda: now[0])
    token, raw = services.token_create(user=org.sales_a1, name="laptop")
    client = ApiClient(token=raw)
    assert client.get("/contacts").status_code == 200
    # Another process revokes it: this process has not heard, and remembers the user a while.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert client.get("/contacts").status_code == 200
    now[0] += services.TOKEN_USER_SECONDS + 0.01
    assert client.get("/contacts").status_code == 401


def test_activity_scopes_cover_owned_assigned_and_on_visible_records(org, api):
    from rapport.activities.selectors import activity_visible
    from rapport.activities.services import activity_create

    contact_b = contact_create(actor=org.admin, data={"first_name": "B", "owner_id": org.sales_b1.pk})
    standalone = activity_create(actor=org.sales_b1, data={"kind": "task", "subject": "Solo"})
    assigned = activity_create(actor=org.sales_b1, data={"kind": "task", "subject": "For A1",
                                                         "assignee_id": org.sales_a1.pk})
    on_b = activity_create(actor=org.sales_b1, data={"kind": "note", "body": "x",
                                                     "contact_id": contact_b.pk})

    def visible(user):
        return set(activity_visible(user=user).values_list("pk", flat=True))

    assert visible(org.admin) == {standalone.pk, assigned.pk, on_b.pk}
    assert visible(org.sales_b1) == {standalone.pk, assigned.pk, on_b.pk}
    assert visible(org.sales_a1) == {assigned.pk}
    assert visible(org.manager_a) == set()


def test_a_token_acts_as_its_user_exactly_and_marks_its_use_once_a_minute(org):
    import datetime

    from rapport.accounts.models import ApiToken, User
    from rapport.accounts.services import forget_token_users, token_create, user_for_token

    User.objects.filter(pk=org.sales_a1.pk).update(last_login=timezone.now())
    token, raw = token_create(user=org.sales_a1, name="laptop")
    user = user_for_token(raw)
    stored = User.objects.get(pk=org.sales_a1.pk)
    for field in User._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(stored, field.attname), field.name
    assert user.is_authenticated and user.team_id == org.sales_a1.team_id

    first_use = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first_use is not None
    user_for_token(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first_use
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - datetime.timedelta(minutes=2))
    forget_token_users()  # the next lookup reaches the database
    user_for_token(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first_use
    assert user_for_token(raw[:-1] + "x") is None and user_for_token("nope") is None


def test_the_compiled_detail_read_matches_the_orms_for_every_scope(org, records):
    """contact_get compiles its SQL once per scope; what it returns must be what the ORM
    would: every column converted (dates, JSON), the tags, and nothing outside the scope."""
    from rapport.contacts.selectors import contact_get
    from rapport.core.selectors import one
    from rapport.core.tags import tag_names

    contact_update(actor=org.admin, contact_id=records["a1"].pk,
                   data={"tags": ["vip", "Berlin"], "title": "Buyer"})
    for who in ("admin", "manager_a", "sales_a1", "sales_b1"):
        user = getattr(org, who)
        for contact in records.values():
            compiled = contact_get(user=user, contact_id=contact.pk)
            orm = one(contact_visible(user=user, pk=contact.pk)
                      .annotate(tag_names=tag_names(Contact)))
            if orm is None:
                assert compiled is None, (who, contact.pk)
                continue
            for field in Contact._meta.concrete_fields:
                assert getattr(compiled, field.attname) == getattr(orm, field.attname), field
            assert compiled.tag_names == orm.tag_names
    assert contact_get(user=org.admin, contact_id=records["a1"].pk).tag_names == ["Berlin", "vip"]
