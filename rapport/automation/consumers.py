"""What automation does with the event stream."""

from rapport.automation.services import deliveries_for_event, deliveries_for_events
from rapport.core.dispatch import consumer


@consumer("webhooks", "*", batch=deliveries_for_events)
def queue_webhook_deliveries(event):
    deliveries_for_event(event)
