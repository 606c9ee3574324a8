"""The home dashboard: charts over the user's own scope, and recent activity that has happened."""

import datetime

from django.utils import timezone

from rapport.activities.selectors import activity_daily_counts, recent_activity
from rapport.activities.services import activity_create
from rapport.contacts.selectors import contact_stage_counts
from rapport.contacts.services import contact_create


def test_stage_counts_cover_every_stage_within_the_scope(org):
    for owner, stage in [(org.sales_a1, "customer"), (org.sales_a1, "customer"),
                         (org.sales_b1, "lead")]:
        contact_create(actor=org.admin, data={"first_name": "x", "lifecycle_stage": stage,
                                              "owner_id": owner.pk})
    mine = {row["stage"]: row["count"] for row in contact_stage_counts(user=org.sales_a1)}
    assert mine["customer"] == 2 and mine["lead"] == 0 and len(mine) == 8
    everyone = {row["stage"]: row["count"] for row in contact_stage_counts(user=org.admin)}
    assert everyone["customer"] == 2 and everyone["lead"] == 1


def test_daily_activity_counts_fill_every_day_and_skip_tasks(org, django_assert_max_num_queries):
    contact = contact_create(actor=org.admin, data={"first_name": "x"})
    yesterday = timezone.now() - datetime.timedelta(days=1)
    for kind, extra in [("note", {"body": "a"}), ("note", {"body": "b"}),
                        ("call", {"direction": "outbound"})]:
        activity_create(actor=org.admin, data={"kind": kind, "contact_id": contact.pk,
                                               "occurred_at": yesterday.isoformat(), **extra})
    activity_create(actor=org.admin, data={"kind": "task", "subject": "not counted"})
    with django_assert_max_num_queries(1):
        days = activity_daily_counts(user=org.admin, days=30)
    assert len(days) == 30 and days[-1]["day"] == timezone.localdate()
    assert days[-2]["counts"] == {"note": 2, "call": 1}
    assert sum(sum(d["counts"].values()) for d in days) == 3


def test_recent_activity_leaves_out_future_meetings(org):
    contact = contact_create(actor=org.admin, data={"first_name": "x"})
    soon = timezone.now() + datetime.timedelta(days=3)
    activity_create(actor=org.admin, data={"kind": "meeting", "contact_id": contact.pk,
                                           "starts_at": soon.isoformat()})
    note = activity_create(actor=org.admin, data={"kind": "note", "contact_id": contact.pk,
                                                  "body": "done"})
    assert [a.pk for a in recent_activity(user=org.admin)] == [note.pk]


def test_home_page_sends_chart_data_as_json_not_script(org, client):
    client.force_login(org.admin)
    contact_create(actor=org.admin, data={"first_name": "x", "lifecycle_stage": "customer"})
    html = client.get("/").content.decode()
    assert 'id="stage-chart-data" type="application/json"' in html
    assert 'data-chart="activity-chart-data"' in html
    assert "vendor/chart.umd.min.js" in html
