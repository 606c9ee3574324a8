"""Reads of templates, identities, sent and received messages, scoped like the timeline
they sit on; mailboxes for admins."""

from django.db.models import Q

from rapport.activities.selectors import activity_visible
from rapport.core import listing
from rapport.core.errors import BadRequest
from rapport.core.listing import Field, ListSpec
from rapport.core.permissions import is_admin
from rapport.mail.models import (
    EmailStatus,
    EmailTemplate,
    InboundAttachment,
    InboundMessage,
    Mailbox,
    OutboundEmail,
)

EMAIL_LIST = ListSpec(object_type="email", default_sort="-created_at", fields={
    "status": Field("choice", choices=tuple(EmailStatus.values)),
    "sender_id": Field("ref"), "template_id": Field("ref"),
    "contact_id": Field("ref", path="activity__contact_id"),
    "company_id": Field("ref", path="activity__company_id"),
    "lead_id": Field("ref", path="activity__lead_id"),
    "created_at": Field("datetime", sortable=True),
})
TEMPLATE_LIST = ListSpec(object_type="email_template", default_sort="name", fields={
    "name": Field("text", sortable=True), "created_by_id": Field("ref"),
    "updated_at": Field("datetime", sortable=True),
})
NOT_FOR_THESE_LISTS = ("q", "tag", "updated_since")


def _parse(params, spec: ListSpec) -> listing.ListQuery:
    for name in NOT_FOR_THESE_LISTS:
        if params.get(name):
            raise BadRequest(fields={name: ["This list does not take this parameter."]})
    return listing.parse(params, spec)


def template_list():
    """Every template: they are shared, and few (the compose page lists them all)."""
    return EmailTemplate.objects.select_related("created_by")


def template_page(*, params) -> listing.Page:
    query = _parse(params, TEMPLATE_LIST)
    return listing.paginate(listing.apply(EmailTemplate.objects.all(), query, TEMPLATE_LIST),
                            query, TEMPLATE_LIST)


def template_get(*, template_id: int) -> EmailTemplate | None:
    return EmailTemplate.objects.filter(pk=template_id).first()


def email_visible(*, user):
    """Messages the user sent, or whose timeline entry the user can see."""
    return OutboundEmail.objects.filter(
        Q(sender=user) | Q(activity__in=activity_visible(user=user).values("id")))


def email_get(*, user, email_id: int) -> OutboundEmail | None:
    return (email_visible(user=user).filter(pk=email_id)
            .prefetch_related("attachments").first())


def email_list(*, user, limit: int = 50):
    return list(email_visible(user=user).prefetch_related("attachments")
                .order_by("-created_at", "-id")[:limit])


def email_page(*, user, params) -> listing.Page:
    query = _parse(params, EMAIL_LIST)
    return listing.paginate(listing.apply(email_visible(user=user), query, EMAIL_LIST), query,
                            EMAIL_LIST, rows=lambda rows: rows.prefetch_related("attachments"))


# Inbound ------------------------------------------------------------------------------

def mailbox_list(*, user):
    """Admins only: a mailbox's settings and health concern every record it brings mail to."""
    if not is_admin(user):
        return Mailbox.objects.none()
    return Mailbox.objects.select_related("owner")


def mailbox_get(*, user, mailbox_id: int) -> Mailbox | None:
    return mailbox_list(user=user).filter(pk=mailbox_id).first()


def inbound_messages(*, mailbox: Mailbox | None, limit: int = 50):
    """The newest messages a mailbox brought in (None: those from providers' webhooks)."""
    messages = (InboundMessage.objects.filter(mailbox=mailbox) if mailbox is not None
                else InboundMessage.objects.filter(mailbox__isnull=True))
    return list(messages.select_related("activity__contact", "activity__company")
                .prefetch_related("attachments").order_by("-received_at", "-id")[:limit])


def webhook_inbound_summary() -> dict:
    """How much came in through providers' webhooks, and when the last did."""
    messages = InboundMessage.objects.filter(mailbox__isnull=True)
    latest = messages.order_by("-received_at", "-id").values_list("received_at", flat=True).first()
    return {"count": messages.count(), "latest": latest}


def inbound_attachment_get(*, user, attachment_id: int) -> InboundAttachment | None:
    """An attachment kept from a message the user can see on a timeline (admins: any)."""
    attachments = InboundAttachment.objects.select_related("message").exclude(file="")
    if not is_admin(user):
        attachments = attachments.filter(
            message__activity__in=activity_visible(user=user).values("id"))
    return attachments.filter(pk=attachment_id).first()
