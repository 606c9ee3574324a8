"""What automation does with the event stream."""

from rapport.automation.services import deliveries_for_event
from rapport.core.dispatch import consumer


@consumer("webhooks", "*")
def queue_webhook_deliveries(event):
    deliveries_for_event(event)
