from rapport.automation.models import Delivery, Webhook
from rapport.core.permissions import is_admin


def webhook_list(*, user):
    return Webhook.objects.all() if is_admin(user) else Webhook.objects.none()


def webhook_get(*, user, webhook_id: int) -> Webhook | None:
    return webhook_list(user=user).filter(pk=webhook_id).first()


def delivery_log(*, webhook: Webhook, limit: int = 50):
    return (Delivery.objects.filter(webhook=webhook).prefetch_related("attempt_log")
            .order_by("-created_at", "-id")[:limit])
