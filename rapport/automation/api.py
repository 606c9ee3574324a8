"""Webhooks over the API (admins only): subscribe, inspect deliveries, send a test."""

from ninja import Router, Status

from rapport.api.schemas import ERRORS
from rapport.automation import selectors, services
from rapport.automation.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut
from rapport.core.errors import NotFound
from rapport.core.permissions import require_admin

router = Router(tags=["webhooks"])


def _webhook(request, webhook_id: int):
    require_admin(request.auth, services.ADMIN_ONLY)
    webhook = selectors.webhook_get(user=request.auth, webhook_id=webhook_id)
    if webhook is None:
        raise NotFound()
    return webhook


@router.get("", response={200: list[WebhookOut], **ERRORS})
def list_webhooks(request):
    require_admin(request.auth, services.ADMIN_ONLY)
    return list(selectors.webhook_list(user=request.auth))


@router.post("", response={201: WebhookCreated, **ERRORS},
             description="Subscribes `url` to `events` (names or patterns such as `deal.*`). "
                         "The response holds the signing `secret`, shown this once.")
def create_webhook(request, payload: WebhookIn):
    webhook, secret = services.webhook_create(actor=request.auth,
                                              data=payload.model_dump(exclude_unset=True))
    webhook.secret = secret
    return Status(201, webhook)


@router.get("/{int:webhook_id}", response={200: WebhookOut, **ERRORS})
def get_webhook(request, webhook_id: int):
    return _webhook(request, webhook_id)


@router.patch("/{int:webhook_id}", response={200: WebhookOut, **ERRORS})
def update_webhook(request, webhook_id: int, payload: WebhookIn):
    return services.webhook_update(actor=request.auth, webhook_id=webhook_id,
                                   data=payload.model_dump(exclude_unset=True))


@router.delete("/{int:webhook_id}", response={204: None, **ERRORS})
def delete_webhook(request, webhook_id: int):
    services.webhook_delete(actor=request.auth, webhook_id=webhook_id)
    return Status(204, None)


@router.get("/{int:webhook_id}/deliveries", response={200: list[DeliveryOut], **ERRORS},
            description="The 50 newest deliveries, each with every attempt's response.")
def list_deliveries(request, webhook_id: int):
    return list(selectors.delivery_log(webhook=_webhook(request, webhook_id)))


@router.post("/{int:webhook_id}/test", response={202: DeliveryOut, **ERRORS},
             description="Queues a `webhook.test` delivery to the webhook's URL.")
def test_webhook(request, webhook_id: int):
    _webhook(request, webhook_id)
    return Status(202, services.send_test(actor=request.auth, webhook_id=webhook_id))
