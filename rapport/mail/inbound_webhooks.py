"""Providers' inbound webhooks, through django-anymail: the provider POSTs each message it
receives for you to /email/inbound/<provider>/, and the same service as IMAP mail stores it.

Anymail's views check the request (HTTP basic auth with RAPPORT_ANYMAIL_WEBHOOK_SECRET,
"user:password", in the URL you give the provider; Mailgun's signature too) and send its
`inbound` signal; the receiver below only hands the raw message to `inbound.store_message`.
Without the secret every endpoint refuses everything: unauthenticated, anyone could put
mail on a timeline.
"""

import json
from email import encoders

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.signals import inbound as inbound_signal
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.dispatch import receiver
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from rapport.core.choices import Source
from rapport.core.context import write_source
from rapport.mail import inbound


def body_limit() -> int:
    """A provider's JSON carries the message more than once (text, HTML, raw source) and
    attachments in base64, so it may be a few times the message's own size limit."""
    return settings.INBOUND_MAX_BYTES * 3 + 1024 * 1024


class Guarded:
    """Mixed in before each provider's view: shut until the secret is set, and a body over
    the limit refused before it is read."""

    warn_if_no_basic_auth = False  # refused below rather than warned about
    streams_json = False  # reads its JSON body itself, past Django's in-memory form limit

    def validate_request(self, request):  # anymail runs every validate_request in the MRO
        if not self.basic_auth:
            raise AnymailWebhookValidationFailure(
                "Inbound webhooks are off until RAPPORT_ANYMAIL_WEBHOOK_SECRET is set.")

    def post(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = body_limit() if self.streams_json else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not length.isdigit() or int(length) > limit:
            return HttpResponse("The message is over Rapport's size limit.", status=413,
                                content_type="text/plain")
        return super().post(request, *args, **kwargs)

    def parse_events(self, request):
        try:
            return self.parse_payload(request)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            # A well-formed request from the provider never gets here: this is a malformed
            # one, refused as such (400), not a server error the provider would retry.
            raise AnymailWebhookValidationFailure(
                f"The request is not a {self.esp_name} inbound message ({type(exc).__name__}: "
                f"{exc}).") from None

    def parse_payload(self, request):
        return super().parse_events(request)

    def read_json(self, request) -> dict:
        # Read here, not through request.body: Django caps that at its form limit, and a
        # message with attachments is larger. The length was checked in post().
        try:
            payload = json.loads(request.read(body_limit() + 1).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise AnymailWebhookValidationFailure("The request body is not JSON.") from None
        if not isinstance(payload, dict | list):
            raise AnymailWebhookValidationFailure(
                f"The request body is not a {self.esp_name} message.")
        return payload


class PostmarkInbound(Guarded, PostmarkInboundWebhookView):
    streams_json = True

    def parse_payload(self, request):
        esp_event = self.read_json(request)
        if not isinstance(esp_event, dict):
            raise AnymailWebhookValidationFailure("The request body is not a Postmark message.")
        return [self.esp_to_anymail_event(esp_event)]


class SparkPostInbound(Guarded, SparkPostInboundWebhookView):
    streams_json = True

    def parse_payload(self, request):
        batch = self.read_json(request)
        if not isinstance(batch, list):
            raise AnymailWebhookValidationFailure("The request body is not a SparkPost batch.")
        unwrapped = [self.unwrap_event(raw_event) for raw_event in batch]
        return [self.esp_to_anymail_event(event_class, event, raw_event)
                for event_class, event, raw_event in unwrapped if event is not None]


class MailgunInbound(Guarded, MailgunInboundWebhookView):
    """Mailgun's route "forward()" posts a form; its signature is checked as well."""


# Anymail's other inbound views either no longer have its maintainers' support (SendGrid)
# or build the message from parsed fields rather than passing its source.
PROVIDERS = {"postmark": PostmarkInbound, "mailgun": MailgunInbound,
             "sparkpost": SparkPostInbound}
VIEWS = {name: view.as_view() for name, view in PROVIDERS.items()}


@csrf_exempt  # the provider sends no CSRF token; basic auth protects the endpoint
@login_not_required
def receive(request, esp: str):
    view = VIEWS.get(esp)
    if view is None:
        raise Http404("Rapport takes inbound webhooks from: " + ", ".join(sorted(VIEWS)))
    try:
        return view(request)
    except AnymailConfigurationError as exc:
        # Ours (Mailgun's signing key unset) or the provider's (a route set to store());
        # a 503 makes the provider keep the message and try again once it is put right.
        return HttpResponse(f"Inbound mail from {esp} is not set up: {exc}", status=503,
                            content_type="text/plain")


@receiver(inbound_signal, dispatch_uid="rapport.mail.inbound")
def _store(sender, event, esp_name, **kwargs):
    with write_source(Source.API):
        inbound.store_message(raw=raw_message(event), source=esp_name.lower(),
                              received_at=event.timestamp)


def raw_message(event) -> bytes:
    """The message as sent when the provider passes its source (Postmark's RawEmail),
    otherwise as anymail rebuilt it from the provider's fields."""
    source = (event.esp_event or {}).get("RawEmail") if isinstance(event.esp_event, dict) else None
    if isinstance(source, str) and source:
        return source.encode("utf-8", "surrogateescape")
    message = event.message
    for part in message.walk():
        # Anymail keeps a provider's decoded attachment as raw bytes with no transfer
        # encoding; written out like that, its line ends would be rewritten. Base64 keeps it.
        if (not part.is_multipart() and part.get_content_maintype() not in ("text", "message")
                and "Content-Transfer-Encoding" not in part):
            encoders.encode_base64(part)
    try:
        return message.as_bytes()
    except Exception:  # a header anymail accepted but cannot fold back into bytes
        return message.as_string().encode("utf-8", "replace")
