"""Event dispatch and webhooks, against a real HTTP receiver on localhost.

Jobs run in Huey's immediate mode (conftest), and the tests commit for real
(transactional_db), so after-commit dispatch happens as in production.
"""

import datetime
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from rapport.automation import outbound, services
from rapport.automation.models import Delivery, DeliveryStatus, Webhook
from rapport.automation.tasks import deliver_due
from rapport.contacts.services import contact_create
from rapport.core import dispatch
from rapport.core.dispatch import dispatch_pending
from rapport.core.models import Event, EventReceipt, Tag

pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """An HTTP server that records every POST and answers with the statuses it is given."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"try later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/rapport"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verified(self, secret: str) -> list[dict]:
        """The requests whose Rapport-Signature checks out with `secret`."""
        good = []
        for request in self.requests:
            parts = dict(p.split("=", 1) for p in request["headers"]["Rapport-Signature"].split(","))
            expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + request["body"],
                                hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, parts["v1"]):
                good.append(request)
        return good


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def _make_due(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_an_event_reaches_a_subscribed_webhook_signed_and_is_retried_until_it_lands(
        org, receiver, loopback_allowed):
    webhook, secret = services.webhook_create(actor=org.admin, data={
        "url": receiver.url, "events": ["contact.*"]})
    services.webhook_create(actor=org.admin, data={"url": receiver.url, "events": ["deal.*"]})
    receiver.statuses = [500, 503]

    contact = contact_create(actor=org.sales_a1, data={"first_name": "Ada", "last_name": "Hook"})

    delivery = Delivery.objects.get(webhook=webhook)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now() + datetime.timedelta(seconds=20)
    for _ in range(2):
        _make_due(delivery)
        deliver_due.call_local()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert [a.status_code for a in delivery.attempt_log.order_by("id")] == [500, 503, 200]

    assert len(receiver.requests) == 3 and len(receiver.verified(secret)) == 3
    assert len(receiver.verified("whsec_wrong")) == 0
    event_ids = {r["headers"]["Rapport-Event-Id"] for r in receiver.requests}
    assert len(event_ids) == 1, "every retry carries the same event id for the receiver to dedupe"
    body = json.loads(receiver.requests[-1]["body"])
    assert body["type"] == "contact.created" and body["id"] == int(event_ids.pop())
    assert body["data"]["object_id"] == contact.pk and set(body) == {"id", "type", "created_at",
                                                                     "data"}
    # The deal.* webhook got nothing; a delivered delivery is never sent again.
    assert Delivery.objects.count() == 1
    _make_due(delivery)
    deliver_due.call_local()
    assert len(receiver.requests) == 3


def test_a_replayed_or_redispatched_event_never_doubles_a_delivery(
        org, receiver, loopback_allowed):
    services.webhook_create(actor=org.admin, data={"url": receiver.url, "events": ["*"]})
    contact_create(actor=org.admin, data={"first_name": "Once"})
    event = Event.objects.get(type="contact.created")
    assert event.dispatched_at is not None
    assert EventReceipt.objects.filter(event=event, consumer="webhooks").count() == 1

    Event.objects.filter(pk=event.pk).update(dispatched_at=None)  # as if a crash lost the mark
    report = dispatch_pending()
    assert report.events >= 1 and report.handled == 0 and report.skipped >= 1
    assert Delivery.objects.filter(event_id=event.pk).count() == 1
    assert len(receiver.requests) == 1


def test_a_failing_consumer_is_retried_later_without_holding_up_the_others(org, monkeypatch):
    calls = []

    def flaky(event):
        calls.append(event.pk)
        if len(calls) == 1:
            raise RuntimeError("downstream is down")

    monkeypatch.setitem(dispatch._consumers, "flaky", dispatch.Consumer("flaky", ("contact.*",), flaky))
    contact_create(actor=org.admin, data={"first_name": "Retry"})
    other = Event.objects.create(type="company.created", object_type="company", object_id=1)
    dispatch_pending()
    event = Event.objects.get(type="contact.created")
    assert event.dispatched_at is None and event.dispatch_attempts == 1
    assert "downstream is down" in event.dispatch_error and event.retry_at > timezone.now()
    other.refresh_from_db()
    assert other.dispatched_at is not None

    dispatch_pending()  # not due yet: nothing happens
    assert calls == [event.pk]
    Event.objects.filter(pk=event.pk).update(retry_at=timezone.now())
    dispatch_pending()
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.dispatch_error == ""
    assert calls == [event.pk, event.pk]
    assert list(EventReceipt.objects.filter(consumer="flaky").values_list("event_id", flat=True)) \
        == [event.pk]


def picky_consumer(monkeypatch):
    """A batch-taking consumer of test.* events whose effect is a row (so a rolled-back
    batch leaves none behind), refusing events marked poison; returns its one-event handler."""
    def one(event):
        if event.data.get("poison"):
            raise ValueError("cannot digest this one")
        Tag.objects.create(name=f"effect {event.pk}", slug=f"effect-{event.pk}")

    def many(events):
        for event in events:
            one(event)

    monkeypatch.setitem(dispatch._consumers, "picky",
                        dispatch.Consumer("picky", ("test.*",), one, many))
    return one


def test_a_batch_that_fails_is_redone_one_event_at_a_time_isolating_the_bad_one(org, monkeypatch):
    picky_consumer(monkeypatch)
    good = [Event.objects.create(type="test.ok", object_type="test", object_id=n) for n in range(3)]
    bad = Event.objects.create(type="test.ok", object_type="test", object_id=9,
                               data={"poison": True})
    report = dispatch_pending()
    assert report.failed == 1
    assert sorted(Tag.objects.filter(slug__startswith="effect-").values_list("name", flat=True)) \
        == sorted(f"effect {e.pk}" for e in good)  # once each: the failed batch left nothing
    assert set(EventReceipt.objects.filter(consumer="picky").values_list("event_id", flat=True)) \
        == {e.pk for e in good}
    bad.refresh_from_db()
    assert bad.dispatched_at is None and "cannot digest this one" in bad.dispatch_error


def test_a_batch_raced_by_another_worker_skips_what_that_worker_took(org, monkeypatch, caplog):
    one = picky_consumer(monkeypatch)
    events = [Event.objects.create(type="test.ok", object_type="test", object_id=n)
              for n in range(3)]
    # The other worker committed its effect and receipt for the middle event meanwhile.
    one(events[1])
    EventReceipt.objects.create(event=events[1], consumer="picky")
    monkeypatch.setattr(EventReceipt.objects, "filter", _no_receipts_seen(EventReceipt.objects))
    report = dispatch_pending()
    assert report.failed == 0 and report.skipped == 1  # the other worker's event, for picky
    assert Tag.objects.filter(slug__startswith="effect-").count() == 3  # each effect once
    assert all(e.dispatched_at for e in Event.objects.filter(type="test.ok"))
    assert "Traceback" not in caplog.text


def _no_receipts_seen(manager):
    """The batch read its receipts before the other worker's committed: it sees none once."""
    original = manager.filter
    calls = []

    def filter(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1 and "event_id__in" in kwargs:
            return original(pk__in=[])
        return original(*args, **kwargs)
    return filter


def test_persistent_failure_switches_the_webhook_off_and_tells_its_owner(
        org, receiver, loopback_allowed, monkeypatch):
    from rapport.activities.models import Activity

    monkeypatch.setattr(services, "MAX_ATTEMPTS", 3)
    webhook, _ = services.webhook_create(actor=org.admin, data={"url": receiver.url,
                                                               "events": ["contact.created"]})
    receiver.statuses = [500] * 10
    contact_create(actor=org.admin, data={"first_name": "Doomed"})
    delivery = Delivery.objects.get(webhook=webhook)
    for _ in range(2):
        _make_due(delivery)
        deliver_due.call_local()
    delivery.refresh_from_db()
    webhook.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert not webhook.is_active and "failed 3 times" in webhook.disabled_reason
    notice = Activity.objects.get(kind="task", assignee=org.admin)
    assert "Webhook switched off" in notice.subject and receiver.url in notice.body
    assert Event.objects.filter(type="webhook.disabled", object_id=webhook.pk).exists()

    contact_create(actor=org.admin, data={"first_name": "Ignored"})
    assert Delivery.objects.filter(webhook=webhook).count() == 1, "a disabled webhook gets nothing"


def test_the_backoff_keeps_trying_for_more_than_a_day():
    total = sum((services.retry_delay(n) for n in range(1, services.MAX_ATTEMPTS)),
                datetime.timedelta())
    assert total > datetime.timedelta(hours=24)
    assert services.retry_delay(1) == datetime.timedelta(seconds=30)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook", "http://10.0.0.7/hook", "http://0.0.0.0/", "ftp://example.com/x",
    "http://user:pw@example.com/", "http://nonexistent.invalid/hook",
])
def test_internal_or_unusable_urls_are_refused_with_the_reason(org, api, url):
    response = api().post("/webhooks", {"url": url, "events": ["contact.created"]})
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["url"]
    assert not Webhook.objects.exists()


def test_a_url_that_turns_internal_after_creation_is_refused_at_send_time(org, settings):
    result = outbound.post("http://localhost:9/hook", b"{}", {})
    assert result.status_code is None and result.error.startswith("Refused:")
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
    assert "Refused" not in outbound.post("http://localhost:9/hook", b"{}", {}).error


def test_responses_are_capped_and_slow_receivers_time_out(org, settings):
    import socket

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.OUTBOUND_TIMEOUT_SECONDS = 0.5
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    result = outbound.post(f"http://127.0.0.1:{silent.getsockname()[1]}/", b"{}", {})
    silent.close()
    assert result.status_code is None and "Timeout" in result.error
    assert result.duration_ms < 5000


def test_the_webhooks_api(org, api, receiver, loopback_allowed):
    created = api().post("/webhooks", {"url": receiver.url, "events": ["contact.*", "deal.*"],
                                       "description": "Billing system"})
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["contact.*", "deal.*"]
    assert "secret" not in api().get(f"/webhooks/{hook['id']}").json()
    assert [w["id"] for w in api().get("/webhooks").json()] == [hook["id"]]

    tested = api().post(f"/webhooks/{hook['id']}/test")
    assert tested.status_code == 202
    log = api().get(f"/webhooks/{hook['id']}/deliveries").json()
    assert log[0]["event_type"] == "webhook.test" and log[0]["status"] == "delivered"
    assert log[0]["attempt_log"][0]["status_code"] == 200
    assert receiver.verified(hook["secret"])

    bad = api().post("/webhooks", {"url": receiver.url, "events": ["not a pattern!"]})
    assert bad.status_code == 422 and "events" in bad.json()["error"]["fields"]
    assert api().post("/webhooks", {"url": receiver.url}).json()["error"]["fields"]["events"]
    assert api().post("/webhooks", {"url": receiver.url, "events": ["*"], "x": 1}).status_code == 422

    off = api().patch(f"/webhooks/{hook['id']}", {"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    for user in (org.manager_a, org.sales_a1):
        assert api(user).get("/webhooks").status_code == 403
        assert api(user).post("/webhooks", {"url": receiver.url, "events": ["*"]}).status_code == 403
        assert api(user).get(f"/webhooks/{hook['id']}/deliveries").status_code == 403
    assert api().delete(f"/webhooks/{hook['id']}").status_code == 204
    assert api().get(f"/webhooks/{hook['id']}").status_code == 404


def test_settings_webhooks_pages(client, org, receiver, loopback_allowed):
    from django.urls import reverse

    client.force_login(org.admin)
    page = client.get(reverse("webhooks:list")).content.decode()
    assert "No webhooks yet" in page
    refused = client.post(reverse("webhooks:list"), {"url": "http://169.254.169.254/", "events": "*"})
    assert "link-local" in refused.content.decode() and not Webhook.objects.exists()

    created = client.post(reverse("webhooks:list"), {"url": receiver.url, "events": "contact.*, deal.*",
                                                     "description": "<b>ERP</b>"})
    webhook = Webhook.objects.get()
    assert webhook.secret in created.content.decode() and webhook.events == ["contact.*", "deal.*"]
    assert "&lt;b&gt;ERP&lt;/b&gt;" in created.content.decode()
    assert webhook.secret not in client.get(reverse("webhooks:list")).content.decode()

    client.post(reverse("webhooks:test", args=[webhook.pk]))
    detail = client.get(reverse("webhooks:detail", args=[webhook.pk])).content.decode()
    assert "webhook.test" in detail and "HTTP 200" in detail and "Delivered" in detail
    client.post(reverse("webhooks:toggle", args=[webhook.pk]))
    webhook.refresh_from_db()
    assert not webhook.is_active
    client.post(reverse("webhooks:delete", args=[webhook.pk]))
    assert not Webhook.objects.exists()

    client.force_login(org.sales_a1)
    assert "Only admins manage webhooks" in client.get(reverse("webhooks:list")).content.decode()
    assert client.post(reverse("webhooks:list"), {"url": receiver.url, "events": "*"}).status_code == 200
    assert not Webhook.objects.exists()
