"""Webhooks: subscriptions, signed deliveries, retries with backoff, disabling after failure."""

import datetime
import hashlib
import hmac
import json
import secrets
import time

from django.db import transaction
from django.utils import timezone

from rapport.automation import outbound
from rapport.automation.models import Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from rapport.core.cleaning import clean_fields, text
from rapport.core.dispatch import matches
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.events import record_event
from rapport.core.models import Event
from rapport.core.permissions import require_admin

MAX_ATTEMPTS = 16
LEASE = datetime.timedelta(minutes=2)  # longer than any request can take
EVENT_PATTERN_MAX = 64


def retry_delay(attempts: int) -> datetime.timedelta:
    """30 s doubling to a ceiling of 4 h: sixteen attempts keep trying for about 28 hours."""
    return min(datetime.timedelta(seconds=30 * 2 ** (attempts - 1)), datetime.timedelta(hours=4))


ADMIN_ONLY = "manage webhooks: they receive every record's events"


def _clean_url(value) -> str:
    url = text(2000)(value)
    if not url:
        raise ValueError("Enter the URL that receives the events.")
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise ValueError(str(exc)) from None
    return url


def _clean_events(value) -> list[str]:
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, list) or not value:
        raise ValueError("List at least one event type, such as contact.created or deal.*.")
    patterns = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError("Each event type must be text.")
        item = item.strip()
        name = item.removesuffix(".*")
        if len(item) > EVENT_PATTERN_MAX or not (item == "*" or all(
                part and part.replace("_", "").isalnum() for part in name.split("."))):
            raise ValueError(f"“{item[:64]}” is not an event type or pattern (contact.created, "
                             "deal.*, *).")
        if item not in patterns:
            patterns.append(item)
    return patterns


def _clean_active(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Send true or false.")
    return value


CLEANERS = {
    "url": _clean_url,
    "events": _clean_events,
    "description": text(200),
    "is_active": _clean_active,
}


@transaction.atomic
def webhook_create(*, actor, data: dict) -> tuple[Webhook, str]:
    """The webhook and its signing secret, which the caller shows once."""
    require_admin(actor, ADMIN_ONLY)
    values = clean_fields(CLEANERS, data, required=("url", "events"))
    secret = "whsec_" + secrets.token_urlsafe(32)
    webhook = Webhook.objects.create(owner=actor, secret=secret, **values)
    record_event(type="webhook.created", object_type="webhook", object_id=webhook.pk,
                 actor=actor, data={"url": webhook.url, "events": webhook.events})
    return webhook, secret


@transaction.atomic
def webhook_update(*, actor, webhook_id: int, data: dict) -> Webhook:
    require_admin(actor, ADMIN_ONLY)
    webhook = Webhook.objects.select_for_update().filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound()
    values = clean_fields(CLEANERS, data)
    for name, value in values.items():
        setattr(webhook, name, value)
    if values.get("is_active"):
        webhook.disabled_reason = ""
    webhook.updated_at = timezone.now()
    webhook.save()
    record_event(type="webhook.updated", object_type="webhook", object_id=webhook.pk,
                 actor=actor, data={"fields": sorted(values)})
    return webhook


@transaction.atomic
def webhook_delete(*, actor, webhook_id: int) -> None:
    require_admin(actor, ADMIN_ONLY)
    deleted, _ = Webhook.objects.filter(pk=webhook_id).delete()
    if not deleted:
        raise NotFound()
    record_event(type="webhook.deleted", object_type="webhook", object_id=webhook_id, actor=actor)


def payload(event: Event) -> dict:
    return {
        "id": event.pk,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": {"object_type": event.object_type, "object_id": event.object_id,
                 "actor_id": event.actor_id, "source": event.source, **event.data},
    }


def deliveries_for_event(event: Event) -> list[Delivery]:
    """The event consumer's effect: one pending delivery per subscribed, active webhook."""
    return deliveries_for_events([event])


def deliveries_for_events(events: list[Event]) -> list[Delivery]:
    """The same for a batch of events: the webhooks read once, the deliveries in one INSERT."""
    webhooks = list(Webhook.objects.filter(is_active=True).only("id", "events", "created_at"))
    rows = []
    for event in events:
        if event.object_type == "webhook":
            continue  # a webhook's own changes are not news for webhooks
        body = None
        for webhook in webhooks:
            # A webhook hears what happens from its creation on, however late dispatch runs.
            if webhook.created_at <= event.created_at and any(
                    matches(pattern, event.type) for pattern in webhook.events):
                body = body or json.dumps(payload(event), separators=(",", ":"), default=str)
                rows.append(Delivery(webhook=webhook, event_id=event.pk, event_type=event.type,
                                     body=body))
    if not rows:
        return []
    created = Delivery.objects.bulk_create(rows, batch_size=500)
    _send_after_commit([d.pk for d in created])
    return created


@transaction.atomic
def send_test(*, actor, webhook_id: int) -> Delivery:
    """A `webhook.test` delivery, sent now by a job like any other (and retried like one)."""
    require_admin(actor, ADMIN_ONLY)
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound()
    now = timezone.now()
    body = json.dumps({"id": None, "type": "webhook.test", "created_at": now.isoformat(),
                       "data": {"webhook_id": webhook.pk, "message": "A test event from Rapport."}},
                      separators=(",", ":"))
    delivery = Delivery.objects.create(webhook=webhook, event_type="webhook.test", body=body,
                                       is_test=True)
    _send_after_commit([delivery.pk])
    return delivery


def queue_delivery(*, webhook_id: int, event_type: str, data: dict) -> Delivery:
    """A delivery of our own making (a rule's "call a webhook"): signed, retried and logged
    like an event's, but not tied to a recorded event."""
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise ValidationFailed(fields={"webhook_id": ["No such webhook."]})
    if not webhook.is_active:
        raise ValidationFailed(f"The webhook {webhook} is switched off.",
                               fields={"webhook_id": ["The webhook is switched off."]})
    body = json.dumps({"id": None, "type": event_type, "created_at": timezone.now().isoformat(),
                       "data": data}, separators=(",", ":"), default=str)
    delivery = Delivery.objects.create(webhook=webhook, event_type=event_type, body=body)
    _send_after_commit([delivery.pk])
    return delivery


JOB_SIZE = 25  # deliveries per job: several jobs spread a burst over the worker threads


def _send_after_commit(delivery_ids: list[int]) -> None:
    def enqueue():
        from rapport.automation.tasks import deliver_many

        for start in range(0, len(delivery_ids), JOB_SIZE):
            deliver_many(delivery_ids[start:start + JOB_SIZE])
    transaction.on_commit(enqueue)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def attempt(delivery_id: int) -> DeliveryAttempt | None:
    """Send a due, pending delivery once; None when it is not due or another worker has it.

    The claim moves `next_attempt_at` past the lease in one UPDATE, so two workers
    (or a job and the sweep) never send the same attempt twice.
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
    ).update(next_attempt_at=now + LEASE)
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("webhook").get(pk=delivery_id)
    webhook = delivery.webhook
    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Rapport-Webhooks/1",
        "Rapport-Event-Id": str(delivery.event_id or
                                f"{'test' if delivery.is_test else 'delivery'}-{delivery.pk}"),
        "Rapport-Event-Type": delivery.event_type,
        "Rapport-Delivery-Id": str(delivery.pk),
    }
    if not webhook.is_active and not delivery.is_test:
        return _give_up(delivery, None)
    result = outbound.post(webhook.url, body, {
        **headers, "Rapport-Signature": signature(webhook.secret, timestamp, body)})
    with transaction.atomic():
        logged = DeliveryAttempt.objects.create(
            delivery=delivery, request_headers=headers, status_code=result.status_code,
            response_body=result.body[:4000], error=result.error, duration_ms=result.duration_ms)
        delivery.attempts += 1
        if result.ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
        elif delivery.attempts >= MAX_ATTEMPTS:
            return _give_up(delivery, logged)
        else:
            delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
        delivery.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
    return logged


@transaction.atomic
def _give_up(delivery: Delivery, logged: DeliveryAttempt | None):
    """Out of retries: the delivery fails, and the webhook is switched off with a notice."""
    delivery.status = DeliveryStatus.FAILED
    delivery.save(update_fields=["attempts", "status"])
    webhook = Webhook.objects.select_for_update().get(pk=delivery.webhook_id)
    if webhook.is_active and not delivery.is_test:
        webhook.is_active = False
        webhook.disabled_reason = (
            f"Switched off on {timezone.now():%Y-%m-%d %H:%M} UTC: a delivery failed "
            f"{delivery.attempts} times over more than a day.")
        webhook.save(update_fields=["is_active", "disabled_reason"])
        record_event(type="webhook.disabled", object_type="webhook", object_id=webhook.pk,
                     data={"reason": webhook.disabled_reason, "url": webhook.url})
        _notify_owner(webhook)
    return logged


def _notify_owner(webhook: Webhook) -> None:
    """A task on the owner's list: it shows on their home page and under My tasks."""
    from rapport.activities.services import activity_create

    owner = webhook.owner
    if owner is None or not owner.is_active:
        return
    activity_create(actor=owner, data={
        "kind": "task", "subject": f"Webhook switched off: {webhook}"[:200],
        "body": f"{webhook.disabled_reason}\n\nCheck the receiver at {webhook.url}, then switch "
                "the webhook back on under Settings → Webhooks.",
        "assignee_id": owner.pk, "priority": "high",
        "due_date": timezone.localdate().isoformat(),
    })


def due_delivery_ids(limit: int = 500) -> list[int]:
    return list(Delivery.objects.filter(status=DeliveryStatus.PENDING,
                                        next_attempt_at__lte=timezone.now())
                .order_by("next_attempt_at").values_list("id", flat=True)[:limit])
