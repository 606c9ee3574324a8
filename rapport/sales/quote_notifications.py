"""Emails about quote approvals: each approver when a quote is submitted, and the seller when it
is approved or rejected (with the approver's comment). The tasks quote_services makes stay the
record of who has to act; these emails tell them.

An event consumer (rapport.core.dispatch) of quote.submitted, quote.approved and quote.rejected,
so an email goes out only once the transition has committed, and once per transition: the
consumer's receipt commits with the messages it queues, and each message's Message-ID is made
from the event, the quote and the recipient, so a replayed event queues nothing twice. The
outbound mail job (rapport.mail.tasks.send_emails) sends each queued message once; with no
RAPPORT_EMAIL_URL they land in the outbox folder like any other message, and a message that
cannot be sent fails on its own, never the approval.

Who is told: the approvers the submit event names (the managers of the deal owner's team, else
the admins; quote_services.approvers_for), and for a decision the quote's seller: whoever
submitted it, else whoever created it, else the deal's owner; never the person who acted.
"""

from django.template.loader import render_to_string

from rapport.accounts.models import User
from rapport.core.dispatch import consumer
from rapport.core.models import Event
from rapport.mail.services import notification_send
from rapport.sales.models import Quote
from rapport.sales.quote_services import quote_page_url

APPROVAL_EVENTS = ("quote.submitted", "quote.approved", "quote.rejected")


@consumer("quote_approval_emails", *APPROVAL_EVENTS)
def email_about_approval(event: Event) -> None:
    quote = (Quote.objects.select_related("deal", "deal__owner", "submitted_by", "created_by")
             .filter(pk=event.object_id).first())
    actor = event.actor
    if quote is None or actor is None:
        return  # deleted since (a draft), or nobody to send it from
    data = event.data or {}
    url = data.get("url") or quote_page_url(quote)
    if event.type == "quote.submitted":
        recipients = list(User.objects.filter(pk__in=data.get("approver_ids") or [],
                                              is_active=True).order_by("pk"))
        subject = f"Approve quote {quote.number} ({quote.deal.name})"
        template = "sales/quotes/emails/approval_requested.txt"
    else:
        approved = event.type == "quote.approved"
        seller = next((u for u in (quote.submitted_by, quote.created_by, quote.deal.owner)
                       if u is not None), None)
        recipients = [seller] if seller is not None and seller.is_active else []
        subject = (f"Quote {quote.number} {'approved' if approved else 'rejected'} by "
                   f"{actor.full_name or actor.email}")
        template = "sales/quotes/emails/approval_decided.txt"
    body = render_to_string(template, {
        "event": event, "data": data, "quote": quote, "deal": quote.deal, "actor": actor,
        "url": url, "comment": _quoted(data.get("comment", "")),
        "approved": event.type == "quote.approved",
    })
    for person in recipients:
        if person.pk == actor.pk or not person.email:
            continue
        notification_send(sender=actor, to=person.email, subject=subject, body=body,
                           key=f"quote-{quote.pk}.{event.type}.{event.pk}.{person.pk}")


def _quoted(comment: str) -> str:
    """A comment as a Markdown block quote, line by line."""
    return "\n".join(f"> {line}" for line in comment.strip().splitlines())
