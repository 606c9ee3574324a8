"""Quote jobs: thin wrappers around rapport.sales.quote_services. Imported by SalesConfig.ready
(Huey discovers only modules named tasks.py), which also registers the event consumer that
emails approvers and sellers (rapport.sales.quote_notifications)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from rapport.sales import quote_services
from rapport.sales.quote_notifications import email_about_approval  # noqa: F401 - registers it


@db_periodic_task(crontab(minute="23"))
def expire_quotes():
    """Sent quotes whose valid-until date has passed become expired (quote.expired), hourly;
    the customer's page and the quote's own page also expire one the moment it is opened."""
    quote_services.quotes_expire_due()
