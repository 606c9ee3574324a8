"""Email over the API: templates, sending from a record (with attachments), the sent log,
and the mailboxes inbound mail is read from."""

import base64
import binascii

from django.http import HttpResponse
from ninja import Router, Status

from rapport.api.responses import idempotent, page_response
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.permissions import require_admin
from rapport.mail import inbound, merge, selectors, services
from rapport.mail.schemas import (
    EmailIn,
    EmailOut,
    EmailPage,
    InboundMessagePage,
    MailboxIn,
    MailboxOut,
    MailboxPage,
    MergeFieldsOut,
    PreviewOut,
    TemplateIn,
    TemplateOut,
    TemplatePage,
)

templates = Router(tags=["email"])
emails = Router(tags=["email"])


@templates.get("", response={200: TemplatePage, **ERRORS},
               description="Cursor-paginated; sort `name` (default) or `updated_at`.")
def list_templates(request, limit: str | None = None, cursor: str | None = None,
                   sort: str | None = None):
    return page_response(selectors.template_page(params=request.GET), TemplateOut)


@templates.post("", response={201: TemplateOut, **ERRORS},
                description="Subject and Markdown body may use merge fields "
                            "(`{{ contact.first_name|default:\"there\" }}`); unknown fields, "
                            "filters and tags are refused with a 422 naming them.")
def create_template(request, payload: TemplateIn):
    return Status(201, services.template_create(actor=request.auth,
                                                data=payload.model_dump(exclude_unset=True)))


@templates.get("/merge-fields", response={200: MergeFieldsOut, **ERRORS})
def merge_fields(request):
    return {"fields": merge.field_list(), "filters": sorted(merge.FILTERS)}


@templates.get("/{int:template_id}", response={200: TemplateOut, **ERRORS})
def get_template(request, template_id: int):
    template = selectors.template_get(template_id=template_id)
    if template is None:
        raise NotFound()
    return template


@templates.patch("/{int:template_id}", response={200: TemplateOut, **ERRORS})
def update_template(request, template_id: int, payload: TemplateIn):
    return services.template_update(actor=request.auth, template_id=template_id,
                                    data=payload.model_dump(exclude_unset=True))


@templates.delete("/{int:template_id}", response={204: None, **ERRORS})
def delete_template(request, template_id: int):
    services.template_delete(actor=request.auth, template_id=template_id)
    return Status(204, None)


def _split(payload: EmailIn) -> tuple[dict, list]:
    data = payload.model_dump(exclude_unset=True, exclude={"attachments"})
    files = []
    for index, attachment in enumerate(payload.attachments or []):
        try:
            content = base64.b64decode(attachment.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed(fields={f"attachments[{index}].content_base64": [
                "Send the file's content as base64."]}) from None
        files.append((attachment.filename, attachment.content_type, content))
    return data, files


@emails.post("", response={202: EmailOut, **ERRORS},
             description="Queues a message from a contact, company, deal or lead "
                         "(`contact_id`, `company_id`, `deal_id` or `lead_id`). `to` defaults "
                         "to the contact's (a deal's first contact's) or lead's address (a "
                         "lead without one is a 422 naming `lead_id`); `subject` "
                         "and `body` default to the template's. Sent by a job: watch `status`.")
def send_email(request, payload: EmailIn):
    def produce():
        data, files = _split(payload)
        email = services.email_send(actor=request.auth, data=data, files=files)
        email = selectors.email_get(user=request.auth, email_id=email.pk)
        return HttpResponse(EmailOut.from_orm(email).model_dump_json(), status=202,
                            content_type="application/json")
    return idempotent(request, produce)


@emails.post("/preview", response={200: PreviewOut, **ERRORS},
             description="What `POST /emails` would send, merged and rendered, without sending.")
def preview_email(request, payload: EmailIn):
    data, _ = _split(payload)
    return services.preview(actor=request.auth, data=data)


@emails.get("", response={200: EmailPage, **ERRORS},
            description="Messages you sent or whose timeline entry you can see, newest first. "
                        "Cursor-paginated; filters `status`, `contact_id`, `company_id`, "
                        "`lead_id`, `sender_id`, `template_id`, `created_at__gte`...")
def list_emails(request, limit: str | None = None, cursor: str | None = None,
                sort: str | None = None, status: str | None = None,
                contact_id: str | None = None):
    return page_response(selectors.email_page(user=request.auth, params=request.GET), EmailOut)


@emails.get("/{int:email_id}", response={200: EmailOut, **ERRORS})
def get_email(request, email_id: int):
    email = selectors.email_get(user=request.auth, email_id=email_id)
    if email is None:
        raise NotFound()
    return email


@emails.post("/{int:email_id}/resend", response={202: EmailOut, **ERRORS},
             description="Queues a failed message again.")
def resend_email(request, email_id: int):
    if selectors.email_get(user=request.auth, email_id=email_id) is None:
        raise NotFound()
    services.email_resend(actor=request.auth, email_id=email_id)
    return Status(202, selectors.email_get(user=request.auth, email_id=email_id))


# Mailboxes (admins only) ----------------------------------------------------------------

mailboxes = Router(tags=["mailboxes"])


def _mailbox(request, mailbox_id: int):
    require_admin(request.auth, inbound.ADMIN_ONLY)
    mailbox = selectors.mailbox_get(user=request.auth, mailbox_id=mailbox_id)
    if mailbox is None:
        raise NotFound()
    return mailbox


@mailboxes.get("", response={200: MailboxPage, **ERRORS},
               description="Every mailbox with its sync health. Never returns a password.")
def list_mailboxes(request):
    require_admin(request.auth, inbound.ADMIN_ONLY)
    return {"items": list(selectors.mailbox_list(user=request.auth)), "next_cursor": None}


@mailboxes.post("", response={201: MailboxOut, **ERRORS},
                description="An IMAP folder to poll every two minutes; the first poll starts at "
                            "once. `security` is `ssl` (port 993 by default), `starttls` or "
                            "`none` (143; `none` only for a server on this machine). "
                            "`unknown_senders`: what mail from an address no contact or lead has "
                            "makes: `ignore` (default), `contact` or `lead`. `create_contacts` "
                            "(deprecated) is still taken: true is `contact`, false `ignore`.")
def create_mailbox(request, payload: MailboxIn):
    return Status(201, inbound.mailbox_create(actor=request.auth,
                                              data=payload.model_dump(exclude_unset=True)))


@mailboxes.get("/{int:mailbox_id}", response={200: MailboxOut, **ERRORS})
def get_mailbox(request, mailbox_id: int):
    return _mailbox(request, mailbox_id)


@mailboxes.patch("/{int:mailbox_id}", response={200: MailboxOut, **ERRORS},
                 description="Leave `password` out to keep the saved one.")
def update_mailbox(request, mailbox_id: int, payload: MailboxIn):
    return inbound.mailbox_update(actor=request.auth, mailbox_id=mailbox_id,
                                  data=payload.model_dump(exclude_unset=True))


@mailboxes.delete("/{int:mailbox_id}", response={204: None, **ERRORS},
                  description="The mail it brought in stays on the timeline.")
def delete_mailbox(request, mailbox_id: int):
    inbound.mailbox_delete(actor=request.auth, mailbox_id=mailbox_id)
    return Status(204, None)


@mailboxes.post("/{int:mailbox_id}/sync", response={202: MailboxOut, **ERRORS},
                description="Polls the mailbox now. `from_start=true` reads the whole folder "
                            "again; messages already stored are skipped. 409 while a poll runs.")
def sync_mailbox(request, mailbox_id: int, from_start: bool = False):
    _mailbox(request, mailbox_id)
    inbound.mailbox_sync(actor=request.auth, mailbox_id=mailbox_id, from_start=from_start)
    return Status(202, _mailbox(request, mailbox_id))


@mailboxes.get("/{int:mailbox_id}/messages", response={200: InboundMessagePage, **ERRORS},
               description="The 50 newest messages the mailbox brought in, each with the "
                           "timeline entry it made and what could not be read.")
def list_mailbox_messages(request, mailbox_id: int):
    mailbox = _mailbox(request, mailbox_id)
    return {"items": selectors.inbound_messages(mailbox=mailbox), "next_cursor": None}
