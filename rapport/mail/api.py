"""Email over the API: templates, sending from a record (with attachments), the sent log."""

import base64
import binascii

from ninja import Router, Status

from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound, ValidationFailed
from rapport.mail import merge, selectors, services
from rapport.mail.schemas import (
    EmailIn,
    EmailOut,
    MergeFieldsOut,
    PreviewOut,
    TemplateIn,
    TemplateOut,
)

templates = Router(tags=["email"])
emails = Router(tags=["email"])


@templates.get("", response={200: list[TemplateOut], **ERRORS})
def list_templates(request):
    return list(selectors.template_list())


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
             description="Queues a message from a contact or company (`contact_id` or "
                         "`company_id`). `to` defaults to the contact's address; `subject` "
                         "and `body` default to the template's. Sent by a job: watch `status`.")
def send_email(request, payload: EmailIn):
    data, files = _split(payload)
    email = services.email_send(actor=request.auth, data=data, files=files)
    return Status(202, selectors.email_get(user=request.auth, email_id=email.pk))


@emails.post("/preview", response={200: PreviewOut, **ERRORS},
             description="What `POST /emails` would send, merged and rendered, without sending.")
def preview_email(request, payload: EmailIn):
    data, _ = _split(payload)
    return services.preview(actor=request.auth, data=data)


@emails.get("", response={200: list[EmailOut], **ERRORS},
            description="The 50 newest messages you can see.")
def list_emails(request):
    return selectors.email_list(user=request.auth)


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
