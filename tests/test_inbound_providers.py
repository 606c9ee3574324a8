"""Inbound mail posted by providers other than Postmark: Mailgun and SparkPost.

Each request is built the way the provider documents it (a signed form from Mailgun's
route forward(), SparkPost's relay webhook batch), and the message must land on the
sender's timeline exactly as IMAP mail does.
"""

import base64
import hashlib
import hmac
import json
import time
from email import policy
from email.message import EmailMessage

import pytest

from rapport.contacts.services import contact_create
from rapport.mail.models import InboundAttachment, InboundMessage

pytestmark = pytest.mark.django_db

SECRET = "provider:hook-Secret-1"
AUTH = {"Authorization": "Basic " + base64.b64encode(SECRET.encode()).decode()}
SIGNING_KEY = "key-mailgun-signing-0123456789"


@pytest.fixture
def configured(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


@pytest.fixture
def hank(org):
    return contact_create(actor=org.sales_a1, data={
        "first_name": "Hank", "last_name": "Scorpio", "email": "hank@globex.example"})


def raw_mail(message_id="<CAHank.7@mail.globex.example>", subject="Re: Your quote") -> bytes:
    message = EmailMessage()
    message["From"] = "Hank Scorpio <hank@globex.example>"
    message["To"] = "sales@inbound.acme.example"
    message["Subject"] = subject
    message["Date"] = "Fri, 20 Nov 2026 10:45:32 +0100"
    message["Message-ID"] = message_id
    message.set_content("Looks good, let's sign.")
    message.add_attachment(b"%PDF-1.4 signed", maintype="application", subtype="pdf",
                           filename="signed.pdf")
    return message.as_bytes(policy=policy.SMTP)


def mailgun_form(raw: bytes, *, key: str = SIGNING_KEY) -> dict:
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"recipient": "sales@inbound.acme.example", "sender": "hank@globex.example",
            "body-mime": raw.decode(), "timestamp": timestamp, "token": token,
            "signature": signature}


def sparkpost_batch(raw: bytes) -> list:
    return [{"msys": {}},  # SparkPost's "ping", which carries nothing
            {"msys": {"relay_message": {
                "content": {"email_rfc822": base64.b64encode(raw).decode(),
                            "email_rfc822_is_base64": True, "subject": "Re: Your quote"},
                "customer_id": "1337", "friendly_from": "hank@globex.example",
                "msg_from": "hank@globex.example", "rcpt_to": "sales@inbound.acme.example",
                "webhook_id": "4839", "protocol": "smtp"}}}]


def post(client, provider, payload, headers=AUTH):
    if provider == "sparkpost":
        return client.post(f"/email/inbound/{provider}/", data=json.dumps(payload),
                           content_type="application/json", headers=headers)
    return client.post(f"/email/inbound/{provider}/", data=payload, headers=headers)


PAYLOADS = {"mailgun": mailgun_form, "sparkpost": sparkpost_batch}


@pytest.mark.parametrize("provider", sorted(PAYLOADS))
def test_each_provider_puts_the_message_on_the_senders_timeline_once(
        client, configured, hank, provider):
    payload = PAYLOADS[provider](raw_mail())

    assert post(client, provider, payload).status_code == 200
    assert post(client, provider, payload).status_code == 200  # a provider's retry

    message = InboundMessage.objects.get()
    assert message.source == provider and message.mailbox_id is None
    assert message.message_id == "<CAHank.7@mail.globex.example>"
    assert message.activity.contact_id == hank.pk and message.activity.direction == "inbound"
    assert "Looks good, let's sign." in message.text_body
    [attachment] = InboundAttachment.objects.all()
    assert attachment.filename == "signed.pdf" and attachment.file.read() == b"%PDF-1.4 signed"


@pytest.mark.parametrize("provider", sorted(PAYLOADS))
def test_without_the_secret_every_provider_is_refused(client, settings, hank, provider):
    payload = PAYLOADS[provider](raw_mail())
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}  # no basic-auth secret
    assert post(client, provider, payload).status_code == 400
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"provider:guess").decode()}
    assert post(client, provider, payload, headers=wrong).status_code == 400
    assert not InboundMessage.objects.exists()


def test_mailgun_needs_its_signature_and_its_signing_key(client, configured, settings, hank):
    forged = mailgun_form(raw_mail(), key="not-the-key")
    assert post(client, "mailgun", forged).status_code == 400
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}  # the signing key is not set
    response = post(client, "mailgun", mailgun_form(raw_mail()))
    assert response.status_code == 503 and b"not set up" in response.content
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(("provider", "payload"), [
    ("mailgun", {"recipient": "sales@inbound.acme.example"}),  # unsigned, no message
    ("sparkpost", [{"msys": {"relay_message": {"protocol": "smtp"}}}]),  # no content
    ("sparkpost", {"msys": {}}),  # not a batch
])
def test_a_malformed_post_is_a_400_and_stores_nothing(client, configured, hank, provider, payload):
    assert post(client, provider, payload).status_code == 400
    assert not InboundMessage.objects.exists()


def test_a_form_post_over_the_limit_is_refused_before_it_is_read(
        client, configured, settings, hank):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    big = raw_mail(subject="Big " + "x" * 4000)
    assert post(client, "mailgun", mailgun_form(big)).status_code == 413
    assert not InboundMessage.objects.exists()
