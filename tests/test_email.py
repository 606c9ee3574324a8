"""Outbound email against a real SMTP server (aiosmtpd): what arrives, and what is retried.

Jobs run in Huey's immediate mode (conftest) and the tests commit for real, so a
message queued by a service is sent after commit exactly as a worker would send it.
"""

import base64
import datetime
import socket
import subprocess
import threading

import dkim
import pytest
from django.db import transaction
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.contacts.models import Contact as ContactModel
from rapport.contacts.services import company_create, contact_create
from rapport.core.errors import PermissionDenied, ValidationFailed
from rapport.core.models import Event
from rapport.mail import services, transport
from rapport.mail.models import EmailStatus, OutboundEmail
from rapport.mail.tasks import send_due_emails
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.django_db(transaction=True)

FOLLOW_UP = {
    "name": "Follow-up",
    "subject": "Good to meet you, {{ contact.first_name|default:\"there\" }}",
    "body": "Hi {{ contact.first_name|default:\"there\" }},\n\nThanks for your time. "
            "**{{ company.name|default:\"Your team\" }}** is in good hands.\n\n"
            "{% if contact.title %}As {{ contact.title }}, you{% else %}You{% endif %} "
            "will hear from us soon.",
}


@pytest.fixture
def contact(org):
    company = company_create(actor=org.sales_a1, data={"name": "Globex & Sons"})
    return contact_create(actor=org.sales_a1, data={
        "first_name": "Hank", "last_name": "Scorpio", "email": "hank@globex.example",
        "title": "CEO", "company_id": company.pk})


def send(actor, contact, **data):
    return services.email_send(actor=actor, data={"contact_id": contact.pk, **data},
                               files=data.pop("files", ()))


def test_a_templated_message_arrives_with_both_parts_merge_fields_and_an_attachment(
        org, smtp, contact):
    template = services.template_create(actor=org.sales_a1, data=FOLLOW_UP)
    services.identity_update(actor=org.sales_a1, data={
        "display_name": "Sam from Acme", "signature": "Sam Seller · Acme"})

    email = services.email_send(actor=org.sales_a1, data={
        "contact_id": contact.pk, "template_id": template.pk,
    }, files=[("quote.pdf", None, b"%PDF-1.4 pretend quote")])

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.sent_at is not None
    [received] = smtp.messages
    message = received["parsed"]
    assert received["rcpt_tos"] == ["hank@globex.example"]
    assert received["mail_from"] == "sales.a1@acme.example"
    assert message["From"] == "Sam from Acme <sales.a1@acme.example>"
    assert message["Subject"] == "Good to meet you, Hank"
    assert message["Message-ID"] == email.message_id
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    assert "Hi Hank," in plain and "As CEO, you will hear" in plain
    assert plain.rstrip().endswith("-- \nSam Seller · Acme")
    # Merged values are escaped in HTML; the layout's CSS sits on the elements themselves.
    assert "<strong>Globex &amp; Sons</strong>" in html
    assert '<p style="' in html and "<style>" not in html
    [attachment] = [part for part in message.iter_attachments()]
    assert attachment.get_filename() == "quote.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 pretend quote"


def test_the_message_is_logged_on_the_timeline_with_its_message_id(org, smtp, contact):
    email = send(org.sales_a1, contact, subject="Hello", body="Plain words.")
    activity = Activity.objects.get(pk=email.activity_id)
    assert activity.kind == "email" and activity.direction == "outbound"
    assert activity.email_message_id == email.message_id
    assert activity.email_status == EmailStatus.SENT
    assert activity.contact_id == contact.pk and activity.company_id == contact.company_id
    assert list(Event.objects.filter(object_type="email", object_id=email.pk)
                .values_list("type", flat=True).order_by("id")) == ["email.queued", "email.sent"]


def test_a_missing_merge_value_falls_back_to_its_default(org, smtp):
    nameless = contact_create(actor=org.sales_a1, data={"email": "who@example.com"})
    template = services.template_create(actor=org.sales_a1, data=FOLLOW_UP)
    send(org.sales_a1, nameless, template_id=template.pk)
    message = smtp.messages[0]["parsed"]
    assert message["Subject"] == "Good to meet you, there"
    assert "Your team" in message.get_body(("plain",)).get_content()


def test_a_merge_value_cannot_inject_html_or_headers(org, smtp):
    sneaky = contact_create(actor=org.sales_a1, data={
        "first_name": "<script>alert(1)</script>", "email": "sneaky@example.com"})
    send(org.sales_a1, sneaky, subject="Hi {{ contact.first_name }}\nBcc: all@example.com",
         body="Hello {{ contact.first_name }}")
    received = smtp.messages[0]
    html = received["parsed"].get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert received["rcpt_tos"] == ["sneaky@example.com"]
    assert received["parsed"]["Bcc"] is None


@pytest.mark.parametrize(("field", "source", "complaint"), [
    ("body", "Hi {{ contact.favourite_colour }}", "Unknown merge field “contact.favourite_colour”"),
    ("body", "Hi {{ owner.password }}", "fields start with contact, company, sender"),
    ("subject", "Hi {{ contact.first_name", "never closed"),
    ("body", "{% debug %}", "cannot be used in an email template"),
    ("body", "{% include 'secrets.html' %}", "cannot be used in an email template"),
    ("body", "{{ contact.first_name|safe }}", "The filter “safe” cannot be used"),
    ("body", "{% if contact.first_name %}unclosed", "does not parse"),
])
def test_a_bad_template_is_refused_naming_the_field_and_the_problem(org, field, source, complaint):
    with pytest.raises(ValidationFailed) as refused:
        services.template_create(actor=org.sales_a1, data={**FOLLOW_UP, field: source})
    assert complaint in refused.value.fields[field][0]
    assert not services.EmailTemplate.objects.exists()


def test_a_temporary_refusal_is_retried_later_and_the_message_arrives_once(org, smtp, contact):
    smtp.handler.replies["rcpt"] = [451]
    email = send(org.sales_a1, contact, subject="Busy?", body="Try again.")
    email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED and email.attempts == 1
    assert "451" in email.last_error and email.next_attempt_at > timezone.now()
    assert smtp.messages == []

    send_due_emails.call_local()  # not due yet: nothing happens
    assert smtp.messages == []
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    send_due_emails.call_local()
    send_due_emails.call_local()
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.attempts == 2
    assert len(smtp.messages) == 1


def test_a_permanent_refusal_fails_the_message_without_retrying(org, smtp, contact):
    smtp.handler.replies["data"] = [554]
    email = send(org.sales_a1, contact, subject="Spammy?", body="No.")
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and "554" in email.last_error
    assert Activity.objects.get(pk=email.activity_id).email_status == EmailStatus.FAILED
    assert Event.objects.filter(type="email.failed", object_id=email.pk).exists()
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    send_due_emails.call_local()
    assert smtp.messages == []

    services.email_resend(actor=org.sales_a1, email_id=email.pk)  # by hand, once fixed
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and len(smtp.messages) == 1


def test_an_unreachable_server_is_a_temporary_failure(org, settings, contact):
    with SmtpServer() as server:
        pass  # started and stopped: nothing listens on its port now
    settings.EMAIL_URL = server.url
    email = send(org.sales_a1, contact, subject="Anyone?", body="Hello")
    email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED and "Could not reach" in email.last_error


def _queued_together(actor, contact, count: int) -> list[OutboundEmail]:
    """`count` messages waiting for one sending job (queued in one transaction, then due)."""
    with transaction.atomic():
        emails = [services.email_send(actor=actor, data={
            "contact_id": contact.pk, "subject": f"Message {n}", "body": f"Body {n}"})
            for n in range(count)]
        OutboundEmail.objects.update(next_attempt_at=timezone.now() + datetime.timedelta(hours=1))
    OutboundEmail.objects.update(next_attempt_at=timezone.now())
    return emails


def test_each_verdict_read_after_the_next_message_is_built_lands_on_its_own_message(
        org, smtp, contact):
    """The server's reply to a message is read once the next one is built: a refusal of the
    second message, and a busy reply to the last, still fail and retry those two only."""
    emails = _queued_together(org.sales_a1, contact, 4)
    smtp.handler.replies["data"] = [None, 550, None, 451]
    assert services.deliver([e.pk for e in emails]) == {"sent": 2, "retrying": 1, "failed": 1}
    status = {e.subject: (e.status, e.last_error)
              for e in OutboundEmail.objects.filter(pk__in=[e.pk for e in emails])}
    assert status["Message 0"] == (EmailStatus.SENT, "")
    assert status["Message 1"][0] == EmailStatus.FAILED and "550" in status["Message 1"][1]
    assert status["Message 2"] == (EmailStatus.SENT, "")
    assert status["Message 3"][0] == EmailStatus.QUEUED and "451" in status["Message 3"][1]
    assert sorted(m["parsed"]["Subject"] for m in smtp.messages) == ["Message 0", "Message 2"]


class _HangsUpAfterData:
    """An SMTP server that takes the first message's data and closes the connection without
    a verdict, then behaves on the next connection."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 ready\r\n")
                self._session(conn, lines)

    def _session(self, conn, lines):
        for line in lines:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 hello\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                data = b"".join(iter(lines.readline, b".\r\n"))
                self.received.append(data)
                if len(self.received) == 1:
                    return  # hang up: the client never hears whether the message was taken
                conn.sendall(b"250 taken\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


def test_a_connection_lost_before_the_verdict_fails_that_message_only_and_never_resends_it(
        org, settings, contact):
    server = _HangsUpAfterData()
    settings.EMAIL_URL = server.url
    try:
        emails = _queued_together(org.sales_a1, contact, 2)
        assert services.deliver([e.pk for e in emails]) == {"sent": 1, "retrying": 0, "failed": 1}
    finally:
        transport.close()
        server.listener.close()
    first, second = (OutboundEmail.objects.get(pk=e.pk) for e in emails)
    assert first.status == EmailStatus.FAILED and "may have arrived" in first.last_error
    assert second.status == EmailStatus.SENT
    assert len(server.received) == 2  # each once: the first is not sent again


class _RefusesTheFirstData(_HangsUpAfterData):
    """A strict server: it refuses the first DATA command, and a MAIL while a transaction is
    still open (until RSET)."""

    def _session(self, conn, lines):
        open_transaction, refused = False, False
        for line in lines:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 hello\r\n")
            elif verb == b"MAIL":
                conn.sendall(b"503 5.5.1 nested MAIL\r\n" if open_transaction else b"250 ok\r\n")
                open_transaction = True
            elif verb == b"RSET":
                open_transaction = False
                conn.sendall(b"250 reset\r\n")
            elif verb == b"DATA" and not refused:
                refused = True
                conn.sendall(b"554 5.7.1 no data from you\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                self.received.append(b"".join(iter(lines.readline, b".\r\n")))
                open_transaction = False
                conn.sendall(b"250 taken\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


def test_a_refused_data_command_fails_that_message_and_the_next_one_is_sent(
        org, settings, contact):
    server = _RefusesTheFirstData()
    settings.EMAIL_URL = server.url
    try:
        emails = _queued_together(org.sales_a1, contact, 2)
        assert services.deliver([e.pk for e in emails]) == {"sent": 1, "retrying": 0, "failed": 1}
    finally:
        transport.close()
        server.listener.close()
    first, second = (OutboundEmail.objects.get(pk=e.pk) for e in emails)
    assert first.status == EmailStatus.FAILED and "554" in first.last_error
    assert second.status == EmailStatus.SENT and len(server.received) == 1


def test_a_message_that_cannot_be_built_fails_alone_and_the_batch_goes_on(
        org, smtp, contact, settings, tmp_path, monkeypatch):
    """The second message meets a DKIM key dkimpy cannot read (its own error, not an OSError)
    while the first one's verdict is still unread: the second fails, the others go out."""
    emails = _queued_together(org.sales_a1, contact, 3)
    broken = tmp_path / "broken.key"
    broken.write_text("not a private key")
    settings.DKIM_KEY_FILE = str(broken)
    real_sign, signed = services.building.dkim.sign, []

    def sign(message, selector, domain, privkey, **kwargs):
        signed.append(message)
        return real_sign(message, selector, domain, privkey, **kwargs) if len(signed) == 2 else b""
    monkeypatch.setattr(services.building.dkim, "sign", sign)
    assert services.deliver([e.pk for e in emails]) == {"sent": 2, "retrying": 0, "failed": 1}
    failed = OutboundEmail.objects.get(status=EmailStatus.FAILED)
    assert failed.subject == "Message 1" and failed.last_error
    assert sorted(m["parsed"]["Subject"] for m in smtp.messages) == ["Message 0", "Message 2"]


def test_an_unreachable_server_is_tried_once_per_batch_not_once_per_message(org, settings, contact):
    """A server that accepts the connection and hangs up: the batch stops at the first try."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def hang_up():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.close()
    threading.Thread(target=hang_up, daemon=True).start()
    settings.EMAIL_URL = f"smtp://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with transaction.atomic():  # three messages, one sending job
            emails = [services.email_send(actor=org.sales_a1, data={
                "contact_id": contact.pk, "subject": f"Try {n}", "body": "…"}) for n in range(3)]
            OutboundEmail.objects.update(next_attempt_at=timezone.now() + datetime.timedelta(hours=1))
        OutboundEmail.objects.update(next_attempt_at=timezone.now())
        assert services.deliver([e.pk for e in emails]) == {"sent": 0, "retrying": 3, "failed": 0}
    finally:
        listener.close()
    assert len(accepted) == 1
    assert all("Could not reach" in e.last_error or "answered" in e.last_error
               for e in OutboundEmail.objects.all())
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {EmailStatus.QUEUED}


def test_a_message_is_never_sent_twice_by_repeated_or_concurrent_jobs(org, smtp, contact):
    email = send(org.sales_a1, contact, subject="Once", body="Only once.")
    assert services.deliver([email.pk]) == {"sent": 0, "retrying": 0, "failed": 0}
    send_due_emails.call_local()
    assert len(smtp.messages) == 1


def test_a_send_cut_off_by_a_dead_worker_is_failed_not_repeated(org, smtp, contact):
    email = send(org.sales_a1, contact, subject="Interrupted", body="…")
    # As a worker leaves it when killed after claiming, with its lease run out.
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=EmailStatus.SENDING, next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    send_due_emails.call_local()
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED and "may have arrived" in email.last_error
    assert len(smtp.messages) == 1  # the first send only


def test_several_messages_share_one_smtp_connection(org, smtp, contact):
    for number in range(5):
        send(org.sales_a1, contact, subject=f"Note {number}", body="Hi")
    assert len(smtp.messages) == 5
    assert smtp.handler.connections == 1


def test_dkim_signature_verifies_against_the_published_key(org, smtp, contact, settings, tmp_path):
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public_der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                                check=True, capture_output=True).stdout
    settings.DKIM_KEY_FILE, settings.DKIM_SELECTOR = str(key), "crm2026"
    send(org.sales_a1, contact, subject="Signed", body="Verify me.")

    raw = smtp.messages[0]["raw"]
    assert raw.startswith(b"DKIM-Signature:")
    published = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)

    def dns(name, timeout=5):
        assert name == b"crm2026._domainkey.acme.example."
        return published
    assert dkim.verify(raw, dnsfunc=dns)
    assert not dkim.verify(raw.replace(b"Verify me.", b"Pay me now."), dnsfunc=dns)


def test_attachments_over_the_size_limit_are_refused_and_nothing_is_queued(
        org, smtp, contact, settings):
    settings.EMAIL_MAX_ATTACHMENT_BYTES = 1024
    with pytest.raises(ValidationFailed) as refused:
        send(org.sales_a1, contact, subject="Big", body="…",
             files=[("big.bin", None, b"x" * 2048)])
    assert "limit is 0 MB" in refused.value.fields["attachments"][0]
    assert not OutboundEmail.objects.exists() and not Activity.objects.exists()


def test_a_contact_outside_the_senders_scope_cannot_be_emailed(org, smtp, contact):
    with pytest.raises(ValidationFailed) as refused:
        send(org.sales_b1, contact, subject="Hi", body="…")
    assert refused.value.fields["contact_id"] == ["No such contact."]
    assert smtp.messages == []


def test_merge_fields_never_show_a_company_the_sender_cannot_see(org, smtp):
    hidden = company_create(actor=org.sales_b1, data={"name": "Team B Secret Co"})
    contact = contact_create(actor=org.sales_a1, data={"first_name": "Ida", "email": "ida@x.example"})
    ContactModel.objects.filter(pk=contact.pk).update(company=hidden)  # moved by someone else
    rendered = services.preview(actor=org.sales_a1, data={
        "contact_id": contact.pk, "subject": "Hi", "body": "At {{ company.name|default:'?' }}"})
    assert rendered.text.startswith("At ?")


def test_only_the_author_or_an_admin_may_change_a_template(org):
    template = services.template_create(actor=org.sales_a1, data=FOLLOW_UP)
    with pytest.raises(PermissionDenied):
        services.template_update(actor=org.sales_a2, template_id=template.pk,
                                 data={"subject": "Mine now"})
    services.template_update(actor=org.admin, template_id=template.pk, data={"name": "Renamed"})


def test_the_shared_from_address_keeps_the_senders_reply_to(org, smtp, contact, settings):
    settings.EMAIL_FROM = "crm@acme.example"
    send(org.sales_a1, contact, subject="Via the shared address", body="Hi")
    received = smtp.messages[0]
    assert received["mail_from"] == "crm@acme.example"
    assert received["parsed"]["From"] == "Sam Seller <crm@acme.example>"
    assert received["parsed"]["Reply-To"] == "sales.a1@acme.example"


def test_the_email_url_is_parsed_and_a_bad_one_is_explained():
    parsed = transport.parse_email_url("smtp+tls://me%40acme.example:p%2Fss@mail.acme.example")
    assert (parsed.host, parsed.port, parsed.security) == ("mail.acme.example", 587, "starttls")
    assert (parsed.username, parsed.password) == ("me@acme.example", "p/ss")
    assert "p/ss" not in parsed.describe()
    assert transport.parse_email_url("smtp+ssl://h").port == 465
    assert transport.parse_email_url("anymail://postmark").backend.endswith("postmark.EmailBackend")
    for bad, complaint in [("imap://h", "unknown scheme"), ("anymail://pigeon", "not a provider"),
                           ("smtp://", "name the SMTP server"), ("smtp://h?timeout=x", "timeout")]:
        with pytest.raises(ValueError, match=complaint):
            transport.parse_email_url(bad)
