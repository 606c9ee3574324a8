import datetime

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from rapport.core import search
from rapport.core.events import record_event
from rapport.core.models import CRMModel, EventReceipt, IdempotencyRecord


def purge_trash(*, older_than: datetime.timedelta) -> int:
    """Hard-delete records in the trash for longer than `older_than`, every CRM model."""
    cutoff = timezone.now() - older_than
    purged = 0
    for model in apps.get_models():
        if not issubclass(model, CRMModel):
            continue
        for instance in model.all_objects.filter(deleted_at__lt=cutoff).iterator():
            with transaction.atomic():
                record_event(type=f"{model.object_type}.purged", obj=instance)
                search.unindex(model.object_type, instance.pk)
                instance.delete()
            purged += 1
    return purged


def forget_idempotency_keys() -> int:
    cutoff = timezone.now() - datetime.timedelta(hours=24)
    return IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()[0]


def forget_receipts(*, older_than: datetime.timedelta = datetime.timedelta(days=30)) -> int:
    """Receipts of events dispatched long ago: no retry or replay can reach them now."""
    cutoff = timezone.now() - older_than
    return EventReceipt.objects.filter(event__dispatched_at__lt=cutoff).delete()[0]
