"""Reads of templates, identities and sent messages, scoped like the timeline they sit on."""

from django.db.models import Q

from rapport.activities.selectors import activity_visible
from rapport.mail.models import EmailTemplate, OutboundEmail


def template_list():
    return EmailTemplate.objects.select_related("created_by")


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
