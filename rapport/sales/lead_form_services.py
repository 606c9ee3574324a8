"""Every write to lead capture forms ("web-to-lead"), and the public submission.

Admins create, change, rotate the key of and delete forms. A form's public page
(/f/<public key>/) can be filled in by anyone; `lead_form_submit` turns a submission into a
lead through `lead_services.lead_create`, so the lead is cleaned as any other (names, email,
phone, country...), assigned by the rules unless the form names an owner, and recorded
(`lead.created`, `lead.assigned`), plus `lead_form.submitted` on the form.

A public post only ever sets the fields its form asks for: anything else it carries (an
owner, a status, a score...) is ignored. Spam protection, without CSRF (see
docs/decisions.md): a honeypot field people never see, and a signed render time (a post
sooner than MIN_SECONDS after the page was shown, or without a valid one, is a bot's); the
public view adds a per-address rate limit. A honeypot hit gets the normal thank-you so a bot
learns nothing; nothing is written but the form's spam count.
"""

import dataclasses
import html
import logging
import secrets
import time
from urllib.parse import urlsplit

from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.services import active_user_id
from rapport.core.cleaning import choice, clean_fields, flag, required_text, text
from rapport.core.errors import Conflict, NotFound, ValidationFailed, VersionConflict
from rapport.core.events import record_event
from rapport.core.permissions import require_admin
from rapport.core.tags import clean_tag_names
from rapport.sales import lead_form_selectors as selectors
from rapport.sales import lead_services
from rapport.sales.choices import LeadSource
from rapport.sales.models import Lead, LeadForm, new_lead_form_key

log = logging.getLogger(__name__)

MAX_FIELDS = 30
# The hidden field a person never sees and a form-filling bot fills in.
HONEYPOT = "url"
# The signed moment the page was shown; a post without a valid one is refused.
RENDERED = "rendered"
RENDERED_SALT = "rapport.sales.lead_form.rendered"
# A person takes at least this long to fill in a form; a page older than MAX_AGE is stale.
MIN_SECONDS = 3
MAX_AGE = 24 * 3600
# What the submission's sender sees when the form itself cannot make a lead (a custom field
# leads require was made required after the form was built).
FORM_BROKEN = ("This form cannot be sent just now: it lacks a field the CRM needs. Please get "
               "in touch another way; the site's owner has been told.")
TOO_FAST = "That was quick! Please check your answers and send the form again."
SENT_BEFORE = "This form was sent already; reload the page to send another."
STALE = "This page was open for a long time; please check your answers and send it again."
SNAPSHOT = ("name", "organisation_name", "intro", "fields", "lead_source", "lead_tags",
            "lead_owner_id", "thank_you_message", "redirect_url", "is_active")


# Cleaning a form's settings -----------------------------------------------------------------

def redirect_url(value) -> str:
    """An absolute http(s) address, or empty: never `javascript:`, `data:` or a relative
    path (the sender's browser goes there after a submission)."""
    value = text(500)(value)
    if not value:
        return ""
    parts = urlsplit(value)
    try:
        hostname = parts.hostname
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        hostname = None
    if parts.scheme.lower() not in {"http", "https"} or not hostname or " " in value:
        raise ValueError("Enter an address starting with http:// or https://.")
    return value


def _tags(value) -> list[str]:
    try:
        return clean_tag_names(value)
    except ValidationFailed as exc:
        raise ValueError(exc.fields["tags"][0]) from None


def _fields(value) -> list[dict]:
    """`[{"field": "email", "required": true}, ...]`: known fields, each once, in order."""
    if not isinstance(value, list) or not value:
        raise ValueError("Choose at least one field to ask for.")
    if len(value) > MAX_FIELDS:
        raise ValueError(f"Ask for at most {MAX_FIELDS} fields.")
    askable = selectors.askable_fields()
    cleaned, seen = [], set()
    for item in value:
        if isinstance(item, str):
            item = {"field": item}
        if not isinstance(item, dict) or set(item) - {"field", "required"} \
                or not isinstance(item.get("field"), str):
            raise ValueError('Give each field as {"field": name, "required": true or false}.')
        name, required = item["field"], item.get("required", False)
        if name not in askable:
            raise ValueError(f"“{name[:60]}” is not a lead field a form can ask for.")
        if not isinstance(required, bool):
            raise ValueError(f"Say whether “{askable[name].label}” is required with true or false.")
        if name in seen:
            raise ValueError(f"“{askable[name].label}” is on the form twice.")
        seen.add(name)
        cleaned.append({"field": name, "required": required})
    if not any(f["required"] for f in cleaned if f["field"] in selectors.IDENTITY_FIELDS):
        raise ValueError("Make the email or a name required: every lead needs one.")
    missing = [a.label for a in askable.values()
               if a.is_custom and a.definition.is_required and a.name not in seen]
    if missing:
        raise ValueError(f"Ask for {', '.join(missing)}: every lead needs "
                         f"{'it' if len(missing) == 1 else 'them'}.")
    for item in cleaned:
        definition = askable[item["field"]].definition
        if definition is not None and definition.is_required:
            item["required"] = True
    return cleaned


CLEANERS = {
    "name": required_text(100), "organisation_name": text(200),
    "intro": text(2000, multiline=True), "fields": _fields, "lead_source": choice(LeadSource),
    "lead_tags": _tags, "lead_owner_id": active_user_id,
    "thank_you_message": text(2000, multiline=True), "redirect_url": redirect_url,
    "is_active": flag,
}


def _clean(data: dict, *, current: LeadForm | None) -> dict:
    values = clean_fields(CLEANERS, data, required=("name", "fields") if current is None else ())
    if "name" in values:
        taken = LeadForm.objects.annotate(lower=Lower("name")).filter(lower=values["name"].lower())
        if current is not None:
            taken = taken.exclude(pk=current.pk)
        if taken.exists():
            raise Conflict("A lead form with this name exists.",
                           fields={"name": ["A lead form with this name exists."]})
    return values


def _snapshot(form: LeadForm) -> dict:
    return {name: getattr(form, name) for name in SNAPSHOT}


def _lock(form_id: int, expected_version: int | None = None) -> LeadForm:
    form = LeadForm.objects.select_for_update().filter(pk=form_id).first()
    if form is None:
        raise NotFound()
    if expected_version is not None and form.version != expected_version:
        raise VersionConflict(current_version=form.version)
    return form


# Managing forms -------------------------------------------------------------------------------

@transaction.atomic
def lead_form_create(*, actor, data: dict) -> LeadForm:
    """A new form; `name` and `fields` are required. Its public key is made here."""
    require_admin(actor, "manage lead forms")
    values = _clean(data, current=None)
    form = LeadForm(created_by=actor if getattr(actor, "pk", None) else None, **values)
    form.save()
    record_event(type="lead_form.created", obj=form, actor=actor,
                 data={"values": _snapshot(form)})
    return form


@transaction.atomic
def lead_form_update(*, actor, form_id: int, data: dict,
                     expected_version: int | None = None) -> LeadForm:
    """Only the fields in `data` change; a stale `expected_version` is a 412."""
    require_admin(actor, "manage lead forms")
    form = _lock(form_id, expected_version)
    before = _snapshot(form)
    for field, value in _clean(data, current=form).items():
        setattr(form, field, value)
    after = _snapshot(form)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changes:
        return form
    form.version, form.updated_at = form.version + 1, timezone.now()
    form.save()
    record_event(type="lead_form.updated", obj=form, actor=actor, data={"changes": changes})
    return form


@transaction.atomic
def lead_form_rotate_key(*, actor, form_id: int) -> LeadForm:
    """A new public key: the old address (and every page embedding it) stops working."""
    require_admin(actor, "manage lead forms")
    form = _lock(form_id)
    form.public_key = new_lead_form_key()
    form.version, form.updated_at = form.version + 1, timezone.now()
    form.save()
    record_event(type="lead_form.key_rotated", obj=form, actor=actor, data={"name": form.name})
    return form


@transaction.atomic
def lead_form_delete(*, actor, form_id: int) -> None:
    """Gone for good (a form is a setting, not a record); the leads it made stay."""
    require_admin(actor, "manage lead forms")
    form = _lock(form_id)
    record_event(type="lead_form.deleted", obj=form, actor=actor,
                 data={"name": form.name, "submission_count": form.submission_count})
    form.delete()


# The public side ------------------------------------------------------------------------------

def public_url(form: LeadForm, base_url: str) -> str:
    """The form's page as an absolute address; `base_url` is quote_services.base_url's
    (RAPPORT_PUBLIC_URL when set)."""
    return base_url.rstrip("/") + reverse("public_lead_form:view", args=[form.public_key])


def embed_code(url: str, title: str) -> str:
    """The HTML a website pastes to show the form: an iframe of its page. Plain text (not
    marked safe): a page showing it escapes it."""
    return (f'<iframe src="{html.escape(url)}" title="{html.escape(title)}" width="100%" '
            'height="640" loading="lazy" style="border:0;max-width:40rem"></iframe>')


def render_token(form: LeadForm, *, at: float | None = None) -> str:
    """The signed moment the form's page is shown, posted back as `rendered`, with a nonce:
    each page makes one lead at most, so a bot cannot load it once and post it all day."""
    return signing.dumps([form.pk, round(time.time() if at is None else at, 3),
                          secrets.token_urlsafe(12)], salt=RENDERED_SALT)


@dataclasses.dataclass
class Submission:
    form: LeadForm
    # None when the post was taken for a bot's: it is thanked all the same, and nothing made.
    lead: Lead | None


def _count_spam(form: LeadForm) -> None:
    LeadForm.objects.filter(pk=form.pk).update(spam_count=F("spam_count") + 1)


def _check_timing(form: LeadForm, token) -> str:
    """The page's nonce, once the page is known to be this form's, shown long enough ago and
    not too long ago."""
    try:
        form_id, at, nonce = signing.loads(token, salt=RENDERED_SALT) \
            if isinstance(token, str) else (None, None, None)
    except (signing.BadSignature, TypeError, ValueError):
        form_id, at, nonce = None, None, None
    age = time.time() - at if isinstance(at, int | float) else None
    if form_id != form.pk or age is None or age < MIN_SECONDS or not isinstance(nonce, str):
        _count_spam(form)
        raise ValidationFailed(TOO_FAST, fields={"__all__": [TOO_FAST]})
    if age > MAX_AGE:
        raise ValidationFailed(STALE, fields={"__all__": [STALE]})
    return nonce


def _nonce_key(nonce: str) -> str:
    return f"lead_form:nonce:{nonce}"


def _scalar(value) -> str:
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return value if isinstance(value, str) else ""


def _lead_data(form: LeadForm, data) -> tuple[dict, dict]:
    """The lead's data from the fields the form asks for (nothing else), and the errors of
    required fields left empty."""
    askable = selectors.askable_fields()
    values: dict = {}
    custom: dict = {}
    errors: dict = {}
    for item in form.fields:
        field = askable.get(item["field"])
        if field is None:  # a custom field deleted since: no longer asked
            continue
        raw = data.get(field.name)
        if field.is_custom and field.definition.type == "multi_select":
            value = [v for v in (raw if isinstance(raw, list | tuple) else [raw])
                     if isinstance(v, str) and v.strip()]
        else:
            value = _scalar(raw).strip()
        if not value:
            if item["required"]:
                errors[field.name] = ["This field is required."]
            continue
        if field.is_custom:
            custom[field.definition.key] = value
        else:
            values[field.name] = value
    if custom:
        values["custom_fields"] = custom
    return values, errors


def _owner_id(form: LeadForm) -> int | None:
    """The form's owner while they are active; otherwise the rules choose."""
    try:
        return active_user_id(form.lead_owner_id)
    except ValueError:
        return None


def lead_form_submit(form_key: str, data, *, ip: str | None = None) -> Submission:
    """A public submission of the form with key `form_key`: a new lead, or ValidationFailed
    naming the fields to correct (nothing is written), or NotFound for an unknown or
    inactive key. `data` maps posted names to a value or a list of values."""
    form = selectors.lead_form_for_key(form_key)
    if form is None:
        raise NotFound()
    if _scalar(data.get(HONEYPOT)).strip():
        _count_spam(form)
        return Submission(form=form, lead=None)
    nonce = _check_timing(form, _scalar(data.get(RENDERED)))
    values, errors = _lead_data(form, data)
    if errors:
        raise ValidationFailed(fields=errors)
    if not cache.add(_nonce_key(nonce), 1, MAX_AGE + 60):
        _count_spam(form)
        raise ValidationFailed(SENT_BEFORE, fields={"__all__": [SENT_BEFORE]})
    values.update(source=form.lead_source, tags=list(form.lead_tags))
    owner_id = _owner_id(form)
    if owner_id is not None:
        values["owner_id"] = owner_id
    asked = {item["field"] for item in form.fields}
    with transaction.atomic():
        try:
            lead = lead_services.lead_create(actor=None, data=values)
        except ValidationFailed as exc:
            cache.delete(_nonce_key(nonce))  # corrected, the same page may be sent again
            shown = {k: v for k, v in exc.fields.items() if k in asked}
            if len(shown) != len(exc.fields):
                log.warning("Lead form %s cannot make a lead: %s", form.pk, exc.fields)
                shown["__all__"] = [FORM_BROKEN]
            raise ValidationFailed(fields=shown) from None
        LeadForm.objects.filter(pk=form.pk).update(
            submission_count=F("submission_count") + 1, last_submitted_at=timezone.now())
        record_event(type="lead_form.submitted", obj=form, actor=None, data={
            "lead_id": lead.pk, "form_name": form.name, "ip": ip or ""})
    return Submission(form=form, lead=lead)
