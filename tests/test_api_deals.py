"""The deals, pipelines and lost reasons API, per the API conventions (shared/docs/API.md)."""

import pytest

from rapport.core.models import Event
from rapport.sales.forecasting import with_category
from rapport.sales.models import Deal, LostReason, Pipeline, Stage, StageHistory


@pytest.fixture
def stages(db):
    return {s.name: s.pk for s in Stage.objects.filter(pipeline__is_default=True)}


@pytest.fixture
def reason(db):
    return LostReason.objects.get(name="Price").pk


def create(client, **body):
    response = client.post("/deals", {"name": "Deal", "amount": "1000.00", **body})
    assert response.status_code == 201, response.json()
    return response.json()


# Creating and reading ---------------------------------------------------------------------

def test_create_then_read_a_deal(org, api, stages):
    response = api(org.sales_a1).post("/deals", {
        "name": "  Globex   renewal ", "amount": "12500.5", "currency": "eur",
        "expected_close_date": "2026-12-15", "tags": ["Q4", "q4", "upsell"],
        "next_step": "Send the proposal"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Globex renewal"
    assert body["amount"] == "12500.50" and body["currency"] == "EUR"
    assert body["stage_id"] == stages["Qualification"] and body["status"] == "open"
    assert body["probability"] == 10 and not body["probability_overridden"]
    assert body["weighted_amount"] == "1250.05"
    assert sorted(body["tags"]) == ["Q4", "upsell"]
    assert body["owner_id"] == org.sales_a1.pk and body["version"] == 1
    assert body["created_at"].endswith("Z") and body["expected_close_date"] == "2026-12-15"
    assert body["is_stale"] is False and body["contacts"] == []
    assert [s["stage_id"] for s in body["stage_history"]] == [stages["Qualification"]]
    assert response.headers["ETag"] == '"1"'

    fetched = api(org.sales_a1).get(f"/deals/{body['id']}")
    assert fetched.status_code == 200
    assert {k: v for k, v in fetched.json().items() if k not in {"stage_history", "seconds_in_stage",
                                                                 "time_in_stages"}} == \
        {k: v for k, v in body.items() if k not in {"stage_history", "seconds_in_stage", "time_in_stages"}}


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": 12}, "name"),
    ({"name": "D", "amount": "-1"}, "amount"),
    ({"name": "D", "amount": "1.001"}, "amount"),
    ({"name": "D", "amount": "a lot"}, "amount"),
    ({"name": "D", "currency": "Euro"}, "currency"),
    ({"name": "D", "probability": 101}, "probability"),
    ({"name": "D", "expected_close_date": "next week"}, "expected_close_date"),
    ({"name": "D", "stage_id": 999999}, "stage_id"),
    ({"name": "D", "pipeline_id": 999999}, "pipeline_id"),
    ({"name": "D", "company_id": 999999}, "company_id"),
    ({"name": "D", "owner_id": 999999}, "owner_id"),
    ({"name": "D", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ({"name": "D", "shoe_size": 44}, "shoe_size"),
])
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(org, api, body, field):
    response = api().post("/deals", body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not Deal.all_objects.exists()
    assert not Event.objects.filter(object_type="deal").exists()


def test_creating_in_the_lost_stage_without_a_reason_is_a_422(org, api, stages):
    response = api().post("/deals", {"name": "D", "stage_id": stages["Lost"]})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"lost_reason_id": ["Choose why the deal was lost."]}
    assert not Deal.all_objects.exists() and not StageHistory.objects.exists()


def test_idempotency_key_replays_the_first_response(org, api):
    headers = {"Idempotency-Key": "deal-1"}
    first = api().post("/deals", {"name": "Once"}, headers=headers)
    again = api().post("/deals", {"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert Deal.objects.count() == 1
    assert api().post("/deals", {"name": "Other"}, headers=headers).status_code == 409


def test_patch_changes_only_what_is_sent(org, api):
    deal = create(api(), next_step="Call")
    response = api().patch(f"/deals/{deal['id']}", {"amount": 2000, "probability": 60},
                           headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["amount"] == "2000.00" and body["next_step"] == "Call" and body["version"] == 2
    assert body["probability"] == 60 and body["probability_overridden"]
    assert body["weighted_amount"] == "1200.00" and response.headers["ETag"] == '"2"'
    event = Event.objects.get(type="deal.updated", object_id=deal["id"])
    assert event.changes == {"amount": ["1000.00", "2000.00"], "probability": [None, 60]}
    assert event.source == "api"


def test_handing_a_deal_to_someone_outside_the_scope_answers_with_it_once(org, api):
    client = api(org.sales_a1)
    deal = create(client)
    response = client.patch(f"/deals/{deal['id']}", {"owner_id": org.sales_b1.pk})
    assert response.status_code == 200 and response.json()["owner_id"] == org.sales_b1.pk
    assert client.get(f"/deals/{deal['id']}").status_code == 404


def test_delete_sends_to_the_trash_and_restore_brings_back(org, api):
    deal = create(api())
    assert api().delete(f"/deals/{deal['id']}").status_code == 204
    assert api().get(f"/deals/{deal['id']}").status_code == 404
    assert api().get("/deals").json()["items"] == []
    restored = api().post(f"/deals/{deal['id']}/restore")
    assert restored.status_code == 200 and restored.json()["id"] == deal["id"]


# Scopes -----------------------------------------------------------------------------------

def test_a_seller_cannot_see_or_touch_another_sellers_deal(org, api, stages):
    theirs = create(api(org.sales_b1), name="Bob's")
    mine = create(api(org.sales_a1), name="Sam's")
    client = api(org.sales_a1)
    assert [d["id"] for d in client.get("/deals").json()["items"]] == [mine["id"]]
    path = f"/deals/{theirs['id']}"
    for response in (client.get(path), client.patch(path, {"name": "Mine now"}),
                     client.post(f"{path}/move", {"stage_id": stages["Won"]}),
                     client.delete(path), client.post(f"{path}/restore"),
                     client.get(f"{path}/contacts"),
                     client.post(f"{path}/contacts", {"contact_id": 1})):
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    deal = Deal.objects.get(pk=theirs["id"])
    assert (deal.name, deal.status, deal.version) == ("Bob's", "open", 1)
    assert api(org.manager_a).get(path).status_code == 404     # another team's
    assert api(org.manager_a).get(f"/deals/{mine['id']}").status_code == 200
    board = api(org.sales_a1).get(f"/pipelines/{Pipeline.objects.get(is_default=True).pk}/board").json()
    assert [d["id"] for c in board["columns"] for d in c["deals"]] == [mine["id"]]


# Moving -----------------------------------------------------------------------------------

def test_two_moves_from_the_same_version_the_second_is_a_412(org, api, stages):
    deal = create(api(org.sales_a1))
    client = api(org.sales_a1)
    first = client.post(f"/deals/{deal['id']}/move", {"stage_id": stages["Meeting"]},
                        headers={"If-Match": '"1"'})
    assert first.status_code == 200, first.json()
    assert first.json()["stage_id"] == stages["Meeting"] and first.headers["ETag"] == '"2"'
    second = client.post(f"/deals/{deal['id']}/move", {"stage_id": stages["Proposal"]},
                         headers={"If-Match": '"1"'})
    assert second.status_code == 412
    assert second.json()["error"]["code"] == "version_conflict"
    current = client.get(f"/deals/{deal['id']}").json()
    assert current["stage_id"] == stages["Meeting"] and current["version"] == 2
    assert len(current["stage_history"]) == 2


def test_a_move_shows_its_history_and_time_in_stage(org, api, stages):
    deal = create(api())
    moved = api().post(f"/deals/{deal['id']}/move", {"stage_id": stages["Proposal"]}).json()
    history = moved["stage_history"]
    assert [(h["stage_id"], h["stage_name"]) for h in history] == [
        (stages["Qualification"], "Qualification"), (stages["Proposal"], "Proposal")]
    assert history[0]["left_at"] == history[1]["entered_at"] and history[1]["left_at"] is None
    assert history[0]["user_id"] == org.admin.pk and history[0]["seconds"] >= 0
    assert {t["stage_id"] for t in moved["time_in_stages"]} == {stages["Qualification"], stages["Proposal"]}
    assert moved["stage_entered_at"] == history[1]["entered_at"]
    types = list(Event.objects.filter(object_id=deal["id"], object_type="deal").order_by("id")
                 .values_list("type", flat=True))
    assert types == ["deal.created", "deal.updated", "deal.stage_changed"]


def test_win_by_status(org, api, stages):
    deal = create(api())
    won = api().post(f"/deals/{deal['id']}/move", {"status": "won"})
    assert won.status_code == 200
    body = won.json()
    assert body["stage_id"] == stages["Won"] and body["status"] == "won"
    assert body["won_at"] and body["closed_at"] == body["won_at"] and body["probability"] == 100
    assert Event.objects.filter(type="deal.won", object_id=deal["id"]).exists()


def test_losing_needs_a_reason(org, api, stages, reason):
    deal = create(api())
    refused = api().post(f"/deals/{deal['id']}/move", {"stage_id": stages["Lost"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {"lost_reason_id": ["Choose why the deal was lost."]}
    assert Deal.objects.get(pk=deal["id"]).version == 1
    lost = api().post(f"/deals/{deal['id']}/move", {"stage_id": stages["Lost"], "lost_reason_id": reason,
                                                    "lost_note": "Budget moved to next year"})
    assert lost.status_code == 200
    body = lost.json()
    assert (body["status"], body["lost_reason_id"], body["lost_note"]) == (
        "lost", reason, "Budget moved to next year")
    assert body["weighted_amount"] == "0.00"
    event = Event.objects.get(type="deal.lost", object_id=deal["id"])
    assert event.data["lost_reason"] == "Price"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "stage_id"),
    ({"stage_id": 999999}, "stage_id"),
    ({"status": "maybe"}, "status"),
    ({"status": "won", "stage_id": 1}, "status"),
    ({"status": "won", "lost_reason_id": 1}, "lost_reason_id"),
    ({"stage_id": "x"}, "stage_id"),
])
def test_bad_moves_are_a_422_naming_the_field(org, api, body, field):
    deal = create(api())
    response = api().post(f"/deals/{deal['id']}/move", body)
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]["fields"]
    assert StageHistory.objects.filter(deal_id=deal["id"]).count() == 1


def test_a_patch_with_a_stage_moves_the_deal(org, api, stages):
    deal = create(api())
    response = api().patch(f"/deals/{deal['id']}", {"stage_id": stages["Negotiation"]})
    assert response.status_code == 200
    assert response.json()["probability"] == 75 and len(response.json()["stage_history"]) == 2


def test_a_malformed_if_match_is_a_400(org, api, stages):
    deal = create(api())
    response = api().post(f"/deals/{deal['id']}/move", {"status": "won"}, headers={"If-Match": "soon"})
    assert response.status_code == 400


# Listing ----------------------------------------------------------------------------------

def test_filters_search_tags_and_count(org, api, stages, reason):
    client = api()
    create(client, name="Acme expansion", owner_id=org.sales_a1.pk, expected_close_date="2026-11-10",
           tags=["vip"])
    create(client, name="Globex renewal", owner_id=org.sales_b1.pk, expected_close_date="2026-12-20",
           amount="5000", stage_id=stages["Won"])
    create(client, name="Initech pilot", owner_id=org.sales_a2.pk, stage_id=stages["Lost"],
           lost_reason_id=reason)

    def names(**params):
        response = client.get("/deals", **params)
        assert response.status_code == 200, response.json()
        return sorted(d["name"] for d in response.json()["items"])

    assert names(status="won") == ["Globex renewal"]
    assert names(owner_id=str(org.sales_a1.pk)) == ["Acme expansion"]
    assert names(team_id=str(org.team_a.pk)) == ["Acme expansion", "Initech pilot"]
    assert names(stage_id=str(stages["Lost"])) == ["Initech pilot"]
    assert names(pipeline_id=str(Pipeline.objects.get(is_default=True).pk)) == [
        "Acme expansion", "Globex renewal", "Initech pilot"]
    assert names(expected_close_date__gte="2026-11-01", expected_close_date__lte="2026-11-30") == [
        "Acme expansion"]
    assert names(amount__gte="2000") == ["Globex renewal"]
    assert names(tag="VIP") == ["Acme expansion"]
    assert names(q="globex") == ["Globex renewal"]
    assert names(lost_reason_id=str(reason)) == ["Initech pilot"]
    assert client.get("/deals", count="true").json()["count"] == 3


@pytest.mark.parametrize("params", [
    {"shoe_size": "44"}, {"sort": "probability"}, {"status": "maybe"}, {"limit": "0"},
    {"cursor": "garbage"}, {"expected_close_date__gte": "soon"}, {"stale": "perhaps"},
    {"amount__gte": "12.5"}, {"custom__nope": "1"},
])
def test_unknown_or_bad_list_parameters_are_a_400(org, api, params):
    response = api().get("/deals", **params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("sort", ["expected_close_date", "-expected_close_date", "amount", "-amount",
                                  "name", "-updated_at"])
def test_cursor_pages_walk_every_deal_once_in_order(org, api, sort):
    client = api()
    for i, day in enumerate(["2026-11-03", None, "2026-11-01", None, "2026-11-03", "2026-12-01", None]):
        create(client, name=f"D{i % 3}", amount=f"{(i % 4) * 100}.50",
               **({"expected_close_date": day} if day else {}))
    seen, cursor = [], None
    while True:
        params = {"limit": "2", "sort": sort, **({"cursor": cursor} if cursor else {})}
        body = client.get("/deals", **params).json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len({d["id"] for d in seen}) == len(seen) == 7
    key = sort.lstrip("-")
    if key == "expected_close_date":
        values = [d[key] or "9999-12-31" for d in seen]
    elif key == "amount":
        values = [float(d[key]) for d in seen]
    else:
        values = [d[key] for d in seen]
    assert values == sorted(values, reverse=sort.startswith("-"))
    if sort == "expected_close_date":
        assert [d["expected_close_date"] for d in seen][-3:] == [None, None, None]


def test_the_list_does_not_grow_queries_with_rows(org, api, django_assert_max_num_queries):
    client = api()
    for i in range(30):
        create(client, name=f"D{i}", tags=["a", "b"])
    with django_assert_max_num_queries(3):  # token, user, the page
        body = client.get("/deals").json()
    assert len(body["items"]) == 30


# The board --------------------------------------------------------------------------------

def test_the_board_has_totals_and_weighted_totals_in_a_few_queries(
        org, api, stages, django_assert_max_num_queries):
    client = api()
    pipeline = Pipeline.objects.get(is_default=True).pk
    create(client, amount="1000.00")
    create(client, amount="333.33", probability=33)
    create(client, amount="200", currency="GBP")
    create(client, amount="800", stage_id=stages["Negotiation"], owner_id=org.sales_a1.pk)
    with django_assert_max_num_queries(5):  # token, pipeline, stages, sums, cards
        response = client.get(f"/pipelines/{pipeline}/board")
    assert response.status_code == 200, response.json()
    columns = {c["stage"]["name"]: c for c in response.json()["columns"]}
    first = columns["Qualification"]
    assert first["count"] == 3 and first["has_more"] is False
    assert first["totals"] == [
        {"currency": "USD", "amount": "1333.33", "weighted_amount": "210.00"},
        {"currency": "GBP", "amount": "200.00", "weighted_amount": "20.00"}]
    assert len(first["deals"]) == 3
    assert columns["Negotiation"]["totals"] == [
        {"currency": "USD", "amount": "800.00", "weighted_amount": "600.00"}]
    assert columns["Won"]["count"] == 0

    filtered = client.get(f"/pipelines/{pipeline}/board", owner_id=str(org.sales_a1.pk)).json()
    assert [c["count"] for c in filtered["columns"]] == [0, 0, 0, 1, 0, 0]
    limited = client.get(f"/pipelines/{pipeline}/board", limit="1").json()
    assert len(limited["columns"][0]["deals"]) == 1 and limited["columns"][0]["has_more"]
    assert client.get(f"/pipelines/{pipeline}/board", bogus="1").status_code == 400
    assert client.get("/pipelines/999999/board").status_code == 404


# Contacts on a deal -----------------------------------------------------------------------

def test_contacts_on_a_deal(org, api):
    client = api(org.sales_a1)
    deal = create(client)
    person = client.post("/contacts", {"first_name": "Cleo", "email": "cleo@x.example"}).json()
    added = client.post(f"/deals/{deal['id']}/contacts", {"contact_id": person["id"], "role": "champion"})
    assert added.status_code == 201, added.json()
    assert added.json()["contact_id"] == person["id"] and added.json()["role"] == "champion"
    assert added.json()["name"] == "Cleo" and added.json()["email"] == "cleo@x.example"
    again = client.post(f"/deals/{deal['id']}/contacts", {"contact_id": person["id"], "role": "user"})
    assert again.status_code == 200 and again.json()["role"] == "user"
    changed = client.patch(f"/deals/{deal['id']}/contacts/{person['id']}", {"role": "decision_maker"})
    assert changed.status_code == 200 and changed.json()["role"] == "decision_maker"
    unchanged = client.patch(f"/deals/{deal['id']}/contacts/{person['id']}", {})
    assert unchanged.status_code == 200 and unchanged.json()["role"] == "decision_maker"
    listed = client.get(f"/deals/{deal['id']}/contacts").json()["items"]
    assert [(c["contact_id"], c["role"]) for c in listed] == [(person["id"], "decision_maker")]
    assert client.get(f"/deals/{deal['id']}").json()["contacts"][0]["name"] == "Cleo"
    bad = client.post(f"/deals/{deal['id']}/contacts", {"contact_id": person["id"], "role": "boss"})
    assert bad.status_code == 422 and "role" in bad.json()["error"]["fields"]
    assert client.delete(f"/deals/{deal['id']}/contacts/{person['id']}").status_code == 204
    assert client.delete(f"/deals/{deal['id']}/contacts/{person['id']}").status_code == 404
    assert client.patch(f"/deals/{deal['id']}/contacts/{person['id']}", {"role": "user"}).status_code == 404
    hidden = api(org.sales_b1).post("/contacts", {"first_name": "Hidden"}).json()
    refused = client.post(f"/deals/{deal['id']}/contacts", {"contact_id": hidden["id"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {"contact_id": ["No such contact."]}


# Pipelines and lost reasons ---------------------------------------------------------------

def test_pipelines_are_listed_with_their_stages(org, api):
    body = api(org.sales_a1).get("/pipelines").json()
    assert body["next_cursor"] is None
    [pipeline] = body["items"]
    assert pipeline["is_default"] and pipeline["name"] == "Sales pipeline"
    assert [(s["name"], s["probability"], s["kind"]) for s in pipeline["stages"]] == [
        ("Qualification", 10, "open"), ("Meeting", 25, "open"), ("Proposal", 50, "open"),
        ("Negotiation", 75, "open"), ("Won", 100, "won"), ("Lost", 0, "lost")]


def test_admins_manage_pipelines_and_stages(org, api):
    admin = api()
    created = admin.post("/pipelines", {"name": "Partners", "stages": [
        {"name": "Intro", "probability": 20, "rotting_days": 14}, {"name": "Signed", "kind": "won"},
        {"name": "Dropped", "kind": "lost"}]})
    assert created.status_code == 201, created.json()
    pipeline = created.json()
    assert [s["name"] for s in pipeline["stages"]] == ["Intro", "Signed", "Dropped"]
    assert created.headers["ETag"] == '"1"'
    path = f"/pipelines/{pipeline['id']}"

    stage = admin.post(f"{path}/stages", {"name": "Pilot", "probability": 60})
    assert stage.status_code == 201, stage.json()
    assert stage.json()["position"] == 2
    patched = admin.patch(f"{path}/stages/{stage.json()['id']}", {"rotting_days": 21})
    assert patched.status_code == 200 and patched.json()["rotting_days"] == 21
    ids = [s["id"] for s in admin.get(path).json()["stages"]]
    reordered = admin.post(f"{path}/stages/reorder", {"stage_ids": [ids[1], ids[0], *ids[2:]]})
    assert reordered.status_code == 200
    assert [s["name"] for s in reordered.json()["stages"]] == ["Pilot", "Intro", "Signed", "Dropped"]
    stale = admin.patch(path, {"name": "Partner deals"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    renamed = admin.patch(path, {"name": "Partner deals"},
                          headers={"If-Match": reordered.headers["ETag"]})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Partner deals"
    assert admin.delete(f"{path}/stages/{stage.json()['id']}").status_code == 204
    assert admin.delete(f"{path}/stages/{ids[2]}").status_code == 409  # the won stage
    assert admin.delete(path).status_code == 204
    assert admin.get(path).status_code == 404


def test_others_may_read_pipelines_but_not_change_them(org, api):
    client = api(org.manager_a)
    pipeline = Pipeline.objects.get(is_default=True)
    stage = pipeline.stages.first()
    for response in (client.post("/pipelines", {"name": "Mine"}),
                     client.patch(f"/pipelines/{pipeline.pk}", {"name": "Mine"}),
                     client.delete(f"/pipelines/{pipeline.pk}"),
                     client.post(f"/pipelines/{pipeline.pk}/stages", {"name": "X"}),
                     client.patch(f"/pipelines/{pipeline.pk}/stages/{stage.pk}", {"name": "X"}),
                     client.delete(f"/pipelines/{pipeline.pk}/stages/{stage.pk}"),
                     client.post("/lost-reasons", {"name": "X"})):
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "forbidden"
    assert client.get(f"/pipelines/{pipeline.pk}").status_code == 200


@pytest.mark.parametrize(("body", "field", "status"), [
    ({}, "name", 422),
    ({"name": "Sales pipeline"}, "name", 409),
    ({"name": "X", "stages": []}, "stages", 422),
    ({"name": "X", "stages": [{"name": "A"}]}, "stages", 422),
    ({"name": "X", "stages": [{"name": "A", "probability": -1}, {"name": "W", "kind": "won"},
                              {"name": "L", "kind": "lost"}]}, "stages[0].probability", 422),
    ({"name": "X", "stages": [{"name": "A", "colour": "red"}]}, "stages.0.colour", 422),
    ({"name": "X", "stages": [{"name": "A", "position": 3}]}, "stages.0.position", 422),
])
def test_bad_pipelines_are_refused_naming_the_field(org, api, body, field, status):
    response = api().post("/pipelines", body)
    assert response.status_code == status, response.content
    assert field in response.json()["error"]["fields"]
    assert Pipeline.objects.count() == 1


def test_a_stage_has_a_forecast_category_that_deals_follow_unless_they_have_their_own(
        org, api, stages):
    admin = api()
    pipeline = Pipeline.objects.get(is_default=True).pk
    path = f"/pipelines/{pipeline}/stages/{stages['Meeting']}"
    follows = create(api(org.sales_a1), stage_id=stages["Meeting"])
    own = create(api(org.sales_a1), stage_id=stages["Meeting"], forecast_category="best_case")

    def category(deal):
        return with_category(Deal.objects.filter(pk=deal["id"])).get().category

    listed = admin.get(f"/pipelines/{pipeline}").json()["stages"]
    assert {s["name"]: s["forecast_category"] for s in listed}["Meeting"] == ""
    assert (category(follows), category(own)) == ("pipeline", "best_case")  # 25 %: pipeline

    changed = admin.patch(path, {"forecast_category": "commit"})
    assert changed.status_code == 200 and changed.json()["forecast_category"] == "commit"
    # Deals without their own category follow the stage at once; the other keeps its own, and
    # no deal row was rewritten (its own category is still what its owner chose).
    assert (category(follows), category(own)) == ("commit", "best_case")
    assert Deal.objects.get(pk=follows["id"]).forecast_category == ""
    assert api(org.sales_a1).get(f"/deals/{own['id']}").json()["forecast_category"] == "best_case"
    assert Event.objects.filter(type="stage.updated").last().data["changes"] == {
        "forecast_category": ["", "commit"]}

    for bad in ("nope", "closed", "omitted", "COMMIT"):
        refused = admin.patch(path, {"forecast_category": bad})
        assert refused.status_code == 422, refused.content
        assert list(refused.json()["error"]["fields"]) == ["forecast_category"]
    assert admin.patch(path, {"forecast_category": 3}).status_code == 422
    assert Stage.objects.get(pk=stages["Meeting"]).forecast_category == "commit"
    back = admin.patch(path, {"forecast_category": None})  # null: from the probability again
    assert back.status_code == 200 and back.json()["forecast_category"] == ""
    assert category(follows) == "pipeline"

    made = admin.post(f"/pipelines/{pipeline}/stages", {"name": "Verbal yes", "probability": 60,
                                                        "forecast_category": "commit"})
    assert made.status_code == 201 and made.json()["forecast_category"] == "commit"
    refused = admin.post("/pipelines", {"name": "Partners", "stages": [
        {"name": "Intro", "forecast_category": "maybe"}, {"name": "Signed", "kind": "won"},
        {"name": "Dropped", "kind": "lost"}]})
    assert refused.status_code == 422
    assert "stages[0].forecast_category" in refused.json()["error"]["fields"]


def test_a_stage_with_deals_cannot_be_deleted(org, api, stages):
    create(api(), stage_id=stages["Meeting"])
    pipeline = Pipeline.objects.get(is_default=True).pk
    response = api().delete(f"/pipelines/{pipeline}/stages/{stages['Meeting']}")
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("1 deal is in this stage")


def test_lost_reasons(org, api):
    client = api()
    names = [r["name"] for r in client.get("/lost-reasons").json()["items"]]
    assert names[:2] == ["Price", "Chose a competitor"]
    made = client.post("/lost-reasons", {"name": "Legal review"})
    assert made.status_code == 201 and made.json()["active"]
    off = client.patch(f"/lost-reasons/{made.json()['id']}", {"active": False})
    assert off.status_code == 200 and not off.json()["active"]
    assert "Legal review" not in [r["name"] for r in client.get("/lost-reasons").json()["items"]]
    assert "Legal review" in [r["name"] for r in client.get("/lost-reasons", include_inactive="true")
                              .json()["items"]]
    assert client.post("/lost-reasons", {"name": "price"}).status_code == 409
    assert client.delete(f"/lost-reasons/{made.json()['id']}").status_code == 204
    assert client.delete(f"/lost-reasons/{made.json()['id']}").status_code == 404


def test_the_openapi_document_lists_the_sales_resources(org):
    from django.test import Client

    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    for path in ["/api/v1/deals", "/api/v1/deals/{deal_id}", "/api/v1/deals/{deal_id}/move",
                 "/api/v1/deals/{deal_id}/contacts", "/api/v1/deals/{deal_id}/contacts/{contact_id}",
                 "/api/v1/pipelines", "/api/v1/pipelines/{pipeline_id}",
                 "/api/v1/pipelines/{pipeline_id}/board", "/api/v1/pipelines/{pipeline_id}/stages",
                 "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}",
                 "/api/v1/pipelines/{pipeline_id}/stages/reorder",
                 "/api/v1/lost-reasons", "/api/v1/lost-reasons/{reason_id}"]:
        assert path in paths, path


@pytest.mark.parametrize("path", ["/deals", "/pipelines", "/lost-reasons"])
def test_every_sales_collection_needs_authentication(db, path):
    from django.test import Client

    response = Client().get(f"/api/v1{path}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
