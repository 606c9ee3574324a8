"""Inbound email: mailboxes read over IMAP from a real Dovecot, and Postmark's inbound webhook.

Test mail is delivered with IMAP APPEND and read by the same poll a worker runs. Jobs run in
Huey's immediate mode (conftest) and the tests commit for real, so the poll a new mailbox or
a Resync queues after commit runs as it would in production.
"""

import base64
import datetime
import json
import os
import re
import threading
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.contacts.models import Contact
from rapport.contacts.services import company_create, contact_create
from rapport.core.errors import Conflict, PermissionDenied, ValidationFailed
from rapport.core.models import Event
from rapport.mail import inbound, inbound_imap, services
from rapport.mail.inbound_parse import parse
from rapport.mail.models import InboundAttachment, InboundMessage, Mailbox
from rapport.mail.tasks import poll_mailboxes
from tests.conftest import PASSWORD, ApiClient, require_program
from tests.imap_server import DOVECOT, Dovecot, free_port

pytestmark = pytest.mark.django_db(transaction=True)

SENT_AT = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    require_program(DOVECOT, "dovecot-imapd", "IMAP tests")
    with Dovecot(tmp_path_factory.mktemp("dovecot")) as server:
        yield server


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def imap_user(dovecot):
    return dovecot.new_user()


def add_mailbox(org, dovecot, user, **data):
    return inbound.mailbox_create(actor=org.admin, data={
        "name": "Sales inbox", "host": "127.0.0.1", "port": dovecot.port, "security": "none",
        "username": user, "password": dovecot.users[user], **data})


@pytest.fixture
def mailbox(org, dovecot, imap_user):
    return add_mailbox(org, dovecot, imap_user)


@pytest.fixture
def hank(org):
    company = company_create(actor=org.sales_a1, data={"name": "Globex"})
    return contact_create(actor=org.sales_a1, data={
        "first_name": "Hank", "last_name": "Scorpio", "email": "hank@globex.example",
        "emails": ["h.scorpio@globex-mail.example"], "company_id": company.pk})


def mail(*, sender="Hank Scorpio <hank@globex.example>", to="sales@acme.example",
         subject="Hello", body="Hi there.", message_id=None, date=SENT_AT, headers=None,
         attachments=()) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id or make_msgid(domain="globex.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content_type, content in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=policy.SMTP)


def poll(mailbox):
    result = inbound.poll_mailbox(mailbox.pk)
    mailbox.refresh_from_db()
    return result


# Reading, threading, attaching ---------------------------------------------------------

def test_a_reply_to_a_message_sent_from_rapport_lands_threaded_on_the_contacts_timeline(
        org, dovecot, imap_user, mailbox, hank, client):
    sent = services.email_send(actor=org.sales_a1, data={
        "contact_id": hank.pk, "subject": "Your quote", "body": "Here it is."})
    reply_id = make_msgid(domain="globex.example")
    dovecot.append(imap_user, mail(subject="Re: Your quote", body="Looks good, let's sign.",
                                   message_id=reply_id, headers={
                                       "In-Reply-To": sent.message_id,
                                       "References": sent.message_id}))

    result = poll(mailbox)

    assert (result.stored, result.error) == (1, "")
    message = InboundMessage.objects.get()
    assert message.message_id == reply_id and message.mailbox_id == mailbox.pk
    assert message.replied_to_id == sent.activity_id and message.thread_root_id == sent.activity_id
    activity = message.activity
    assert (activity.kind, activity.direction, activity.contact_id) == ("email", "inbound", hank.pk)
    assert activity.company_id == hank.company_id
    assert activity.email_message_id == reply_id and activity.email_from == "hank@globex.example"
    assert activity.email_to == ["sales@acme.example"] and activity.occurred_at == SENT_AT
    assert activity.subject == "Re: Your quote" and "Looks good" in activity.body
    assert activity.owner_id == org.sales_a1.pk  # the contact's owner answers for it
    assert Event.objects.filter(type="email.received", object_id=message.pk).exists()
    assert mailbox.messages_fetched == 1 and mailbox.last_error == ""
    assert mailbox.last_sync_at is not None and mailbox.last_uid == 1

    client.force_login(org.sales_a1)
    page = client.get(reverse("contacts:detail", args=[hank.pk])).content.decode()
    assert "Re: Your quote" in page and "Inbound · from hank@globex.example" in page

    # A later reply quotes the whole thread: its root stays the message Rapport sent.
    second_id = make_msgid(domain="globex.example")
    dovecot.append(imap_user, mail(subject="Re: Your quote", body="Signed.", message_id=second_id,
                                   headers={"In-Reply-To": reply_id,
                                            "References": f"{sent.message_id} {reply_id}"}))
    assert poll(mailbox).stored == 1
    second = InboundMessage.objects.get(message_id=second_id)
    assert second.replied_to_id == activity.pk and second.thread_root_id == sent.activity_id
    assert poll(mailbox).stored == 0 and mailbox.messages_fetched == 2  # only new UIDs are read


def test_a_reply_from_an_unknown_address_goes_to_the_conversations_contact(
        org, dovecot, imap_user, mailbox, hank):
    sent = services.email_send(actor=org.sales_a1, data={
        "contact_id": hank.pk, "subject": "Proposal", "body": "Attached."})
    dovecot.append(imap_user, mail(sender="Assistant <desk@globex.example>", subject="Re: Proposal",
                                   headers={"In-Reply-To": sent.message_id}))
    dovecot.append(imap_user, mail(sender="h.scorpio@globex-mail.example", subject="From my phone"))

    assert poll(mailbox).stored == 2
    by_subject = {m.subject: m for m in InboundMessage.objects.select_related("activity")}
    assert by_subject["Re: Proposal"].activity.contact_id == hank.pk
    assert by_subject["Re: Proposal"].activity.email_from == "desk@globex.example"
    # A contact's further addresses count as theirs.
    assert by_subject["From my phone"].activity.contact_id == hank.pk
    assert not Contact.objects.filter(email="desk@globex.example").exists()


def test_each_message_is_stored_once_whatever_brings_it_again(org, dovecot, imap_user, mailbox, hank):
    same_id = make_msgid(domain="globex.example")
    dovecot.append(imap_user, mail(message_id=same_id, body="First copy."))
    dovecot.append(imap_user, mail(message_id=same_id, body="Second copy, same Message-ID."))

    result = poll(mailbox)

    assert (result.stored, result.known) == (1, 1)
    assert InboundMessage.objects.count() == 1 and Activity.objects.filter(kind="email").count() == 1
    assert "First copy." in InboundMessage.objects.get().text_body

    # Reading the whole folder again recognises both from their headers.
    inbound.mailbox_sync(actor=org.admin, mailbox_id=mailbox.pk, from_start=True)
    mailbox.refresh_from_db()
    assert InboundMessage.objects.count() == 1 and mailbox.messages_fetched == 1
    assert mailbox.last_uid == 2 and mailbox.last_error == ""
    # The same message through another path (a provider's webhook) is recognised too.
    again = inbound.store_message(raw=mail(message_id=same_id), source="postmark")
    assert not again.created and InboundMessage.objects.count() == 1


def test_two_workers_storing_the_same_message_at_once_keep_one(org, hank):
    """The same message in two mailboxes (a Cc to two colleagues), read by two workers."""
    raw = mail(subject="Cc to both of you")
    barrier, results = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            results.append(inbound.store_message(raw=raw, source="imap").created)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert InboundMessage.objects.count() == 1 and Activity.objects.filter(kind="email").count() == 1


def test_a_copy_of_a_message_sent_from_rapport_is_not_logged_twice(org, dovecot, imap_user, mailbox, hank):
    sent = services.email_send(actor=org.sales_a1, data={
        "contact_id": hank.pk, "subject": "Bcc to myself", "body": "Copy."})
    dovecot.append(imap_user, mail(sender="sales.a1@acme.example", to="hank@globex.example",
                                   subject="Bcc to myself", message_id=sent.message_id))
    assert poll(mailbox).stored == 1
    assert InboundMessage.objects.get().activity_id == sent.activity_id
    assert Activity.objects.filter(kind="email").count() == 1


MALFORMED_MIME = (
    b"From: Hank Scorpio <hank@globex.example>\r\n"
    b"Subject: Broken attachment\r\n"
    b"Message-ID: <broken.1@globex.example>\r\n"
    b"Date: Fri, 20 Nov 2026 09:30:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    b"--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe body survives.\r\n"
    b"--outer\r\nContent-Type: application/pdf; name=\"half.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK!!!not*base64\r\n"
    b"--outer\r\nContent-Type: multipart/alternative; boundary=\"never-closed\"\r\n\r\n"
    b"--never-closed\r\nContent-Type: text/html\r\n\r\n<p>cut off\r\n"
)
NO_HEADERS = b"Subject: Who am I\r\n\r\nNo Message-ID, no From, no Date.\r\n"
LATIN_1 = (
    b"From: =?iso-8859-1?q?J=F6rg_M=FCller?= <hank@globex.example>\r\n"
    b"Subject: =?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?=\r\n"
    b"Message-ID: <latin1.1@globex.example>\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Sch=F6ne Gr=FC=DFe aus K=F6ln\r\n"
)
RAW_8BIT = (
    b"From: hank@globex.example\r\n"
    b"Subject: Caf\xe9 cr\xe8me\r\n"
    b"Message-ID: <8bit.1@globex.example>\r\n"
    b"Content-Type: text/plain; charset=x-unheard-of\r\n\r\n"
    b"Tr\xe8s bien\x07\r\n"  # a control character, dropped (Dovecot itself turns NUL into 0x80)
)


def test_malformed_odd_and_headerless_mail_is_stored_without_stopping_the_poll(
        org, dovecot, imap_user, mailbox, hank):
    for raw in (MALFORMED_MIME, NO_HEADERS, LATIN_1, RAW_8BIT, mail(subject="After the odd ones")):
        dovecot.append(imap_user, raw)

    result = poll(mailbox)

    assert (result.stored, result.failed, result.error) == (5, 0, "")
    assert mailbox.last_error == "" and mailbox.messages_fetched == 5
    broken = InboundMessage.objects.get(message_id="<broken.1@globex.example>")
    assert "The body survives." in broken.text_body and broken.activity.contact_id == hank.pk
    assert any("MIME structure is damaged" in p for p in broken.problems)
    assert [a.filename for a in broken.attachments.all()] == ["half.pdf"]

    nameless = InboundMessage.objects.get(subject="Who am I")
    assert nameless.message_id_generated and nameless.message_id.endswith("@no-message-id.rapport.invalid>")
    assert nameless.from_address == "" and nameless.sent_at is None and nameless.activity is None
    assert any("no Message-ID" in p for p in nameless.problems)
    assert any("nobody it is from" in p for p in nameless.problems)

    latin = InboundMessage.objects.get(message_id="<latin1.1@globex.example>")
    assert latin.subject == "Grüße aus Köln" and latin.from_name == "Jörg Müller"
    assert latin.text_body == "Schöne Grüße aus Köln" and latin.activity.subject == "Grüße aus Köln"

    eight_bit = InboundMessage.objects.get(message_id="<8bit.1@globex.example>")
    assert eight_bit.subject == "Café crème" and eight_bit.text_body == "Très bien"
    assert any("x-unheard-of" in p for p in eight_bit.problems)
    assert InboundMessage.objects.get(subject="After the odd ones").activity.contact_id == hank.pk

    # The made-up Message-ID is stable: the same headerless message again is a duplicate.
    dovecot.append(imap_user, NO_HEADERS)
    assert (poll(mailbox).stored, InboundMessage.objects.filter(subject="Who am I").count()) == (0, 1)


def test_a_message_over_the_size_limit_is_recorded_from_its_headers_only(
        org, dovecot, imap_user, mailbox, hank, settings):
    settings.INBOUND_MAX_BYTES = 64 * 1024
    dovecot.append(imap_user, mail(subject="Huge scans", body="x" * 1000,
                                   attachments=[("scan.tif", "image/tiff", os.urandom(200_000))]))
    dovecot.append(imap_user, mail(subject="Small note"))

    result = poll(mailbox)

    assert (result.too_large, result.stored) == (1, 2)
    huge = InboundMessage.objects.get(subject="Huge scans")
    assert huge.is_too_large and huge.size > 200_000 and not huge.attachments.exists()
    assert any("over the 0.0625 MB limit" in p for p in huge.problems)
    assert huge.activity.contact_id == hank.pk and "Read it in your mail program" in huge.activity.body
    assert "x" * 100 not in huge.text_body
    assert InboundMessage.objects.get(subject="Small note").activity is not None


def test_attachments_are_kept_with_safe_names_and_programs_are_refused(
        org, dovecot, imap_user, mailbox, hank, settings, media, client):
    settings.INBOUND_MAX_ATTACHMENT_BYTES = 50_000
    pdf = b"%PDF-1.4 the signed contract"
    program = b"MZ" + b"\0" * 58 + (64).to_bytes(4, "little") + b"PE\0\0" + b"\0" * 100
    dovecot.append(imap_user, mail(subject="Contract", attachments=[
        ("../../etc/contract.pdf", "application/pdf", pdf),
        ("invoice.pdf.exe", "application/octet-stream", program),
        ("notes.txt", "application/octet-stream", program),  # a program by its first bytes
        ("run.js", "text/javascript", b"alert(1)"),
        ("photo.jpg", "image/jpeg", b"\xff\xd8" + os.urandom(60_000)),
    ]))

    poll(mailbox)

    message = InboundMessage.objects.get()
    kept = {a.filename: a for a in message.attachments.all()}
    assert list(kept) == ["contract.pdf", "invoice.pdf.exe", "notes.txt", "run.js", "photo.jpg"]
    contract = kept["contract.pdf"]
    assert contract.content_type == "application/pdf" and contract.size == len(pdf)
    assert contract.file.name.startswith("mail/inbound/") and contract.file.read() == pdf
    assert (media / contract.file.name).is_file()
    for name in ("invoice.pdf.exe", "notes.txt", "run.js"):
        assert not kept[name].file and "program or script" in kept[name].refused_reason
    assert not kept["photo.jpg"].file and "limit" in kept["photo.jpg"].refused_reason
    body = message.activity.body_html
    assert f'href="/email/attachments/{contract.pk}/"' in body and "not kept" in body

    client.force_login(org.sales_a1)  # Hank's owner: sees the message on his timeline
    download = client.get(reverse("inbound:attachment", args=[contract.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == pdf
    assert download["Content-Disposition"].startswith("attachment")
    client.force_login(org.sales_b1)  # another team: may not see Hank
    assert client.get(reverse("inbound:attachment", args=[contract.pk])).status_code == 404
    assert client.get(reverse("inbound:attachment", args=[kept["run.js"].pk])).status_code == 404


def test_an_unknown_sender_becomes_a_lead_only_when_the_mailbox_says_so(
        org, dovecot, imap_user, mailbox):
    dovecot.append(imap_user, mail(sender="Jane Doe <jane@newco.example>", subject="Pricing?"))
    poll(mailbox)
    unknown = InboundMessage.objects.get()
    assert unknown.activity is None and not Contact.objects.filter(email="jane@newco.example").exists()
    assert any("No contact or lead has the address jane@newco.example" in p for p in unknown.problems)

    inbound.mailbox_update(actor=org.admin, mailbox_id=mailbox.pk, data={"unknown_senders": "contact"})
    dovecot.append(imap_user, mail(sender='"Doe, John" <john@newco.example>', subject="Demo?"))
    dovecot.append(imap_user, mail(sender="Out of office <ooo@newco.example>", subject="Away",
                                   headers={"Auto-Submitted": "auto-replied"}))
    dovecot.append(imap_user, mail(sender="Mona <manager.a@acme.example>", subject="Internal"))
    poll(mailbox)

    john = Contact.objects.get(email="john@newco.example")
    assert (john.first_name, john.last_name, john.lifecycle_stage) == ("John", "Doe", "lead")
    assert john.owner_id == org.admin.pk
    assert InboundMessage.objects.get(subject="Demo?").activity.contact_id == john.pk
    assert not Contact.objects.filter(email__in=["ooo@newco.example", "manager.a@acme.example"]).exists()
    away = InboundMessage.objects.get(subject="Away")
    assert any("automated message" in p for p in away.problems)


# Connections and health ---------------------------------------------------------------

def test_ssl_and_starttls_verify_the_servers_certificate(org, dovecot, imap_user, settings):
    dovecot.append(imap_user, mail(subject="Over TLS"))
    settings.INBOUND_IMAP_CA_FILE = str(dovecot.cert)
    over_ssl = add_mailbox(org, dovecot, imap_user, port=dovecot.ssl_port, security="ssl")
    over_ssl.refresh_from_db()
    assert over_ssl.messages_fetched == 1 and over_ssl.last_error == ""
    inbound.mailbox_delete(actor=org.admin, mailbox_id=over_ssl.pk)

    settings.INBOUND_IMAP_CA_FILE = ""  # the self-signed certificate is not trusted now
    starttls = add_mailbox(org, dovecot, imap_user, security="starttls", name="STARTTLS")
    starttls.refresh_from_db()
    assert "is not trusted" in starttls.last_error and starttls.last_sync_at is None
    settings.INBOUND_IMAP_CA_FILE = str(dovecot.cert)
    assert poll(starttls).error == "" and starttls.last_error == ""
    assert starttls.last_uid == 1 and InboundMessage.objects.count() == 1


def test_login_folder_and_network_problems_show_on_the_mailboxs_health(org, dovecot, imap_user):
    wrong = add_mailbox(org, dovecot, imap_user, password="not-the-password")
    wrong.refresh_from_db()
    assert "refused the login" in wrong.last_error and wrong.last_error_at is not None
    assert wrong.last_sync_at is None and not wrong.is_syncing

    inbound.mailbox_update(actor=org.admin, mailbox_id=wrong.pk, data={"folder": "Nowhere"})
    wrong.refresh_from_db()
    assert "refused the login" in wrong.last_error  # the password is still wrong
    inbound.mailbox_update(actor=org.admin, mailbox_id=wrong.pk,
                           data={"password": dovecot.users[imap_user]})
    wrong.refresh_from_db()
    assert "no folder “Nowhere”" in wrong.last_error

    inbound.mailbox_update(actor=org.admin, mailbox_id=wrong.pk, data={"folder": "INBOX"})
    wrong.refresh_from_db()
    assert wrong.last_error == "" and wrong.last_sync_at is not None

    closed = add_mailbox(org, dovecot, imap_user, port=free_port(), folder="Archive", name="Closed")
    closed.refresh_from_db()
    assert "Could not reach 127.0.0.1" in closed.last_error


def test_a_non_ascii_password_and_folder_name_work(org, dovecot):
    user = dovecot.new_user(password="Pässwörd-ünïcode")
    dovecot.create_folder(user, inbound_imap.encode_folder("Anfragen & Grüße"))
    dovecot.append(user, mail(subject="In a folder"), folder=inbound_imap.encode_folder("Anfragen & Grüße"))
    mailbox = add_mailbox(org, dovecot, user, folder="Anfragen & Grüße")
    mailbox.refresh_from_db()
    assert mailbox.last_error == "" and mailbox.messages_fetched == 1


def test_a_recreated_folder_with_a_new_uidvalidity_is_read_again(org, dovecot, imap_user, hank):
    dovecot.create_folder(imap_user, '"Projects"')
    first = mail(subject="First")
    dovecot.append(imap_user, first, folder='"Projects"')
    mailbox = add_mailbox(org, dovecot, imap_user, folder="Projects")
    mailbox.refresh_from_db()
    validity = mailbox.uid_validity
    assert mailbox.messages_fetched == 1 and mailbox.last_uid == 1

    connection = dovecot.connect(imap_user)
    assert connection.delete('"Projects"')[0] == "OK" and connection.create('"Projects"')[0] == "OK"
    connection.logout()
    for raw in (mail(subject="Second"), mail(subject="Third"), first):
        dovecot.append(imap_user, raw, folder='"Projects"')

    result = poll(mailbox)

    assert mailbox.uid_validity != validity and (result.stored, result.known) == (2, 1)
    assert mailbox.last_uid == 3 and InboundMessage.objects.count() == 3


def test_a_message_that_fails_to_store_is_retried_then_passed_over_and_counted(
        org, dovecot, imap_user, mailbox, hank, monkeypatch):
    for subject in ("Before", "Poison", "After"):
        dovecot.append(imap_user, mail(subject=subject))
    real_create = inbound._create

    def failing(parsed, **kwargs):
        if parsed.subject == "Poison":
            raise OSError("disk full")
        return real_create(parsed, **kwargs)

    monkeypatch.setattr(inbound, "_create", failing)

    first = poll(mailbox)
    assert (first.stored, first.failed) == (1, 0) and "UID 2 could not be stored" in mailbox.last_error
    assert mailbox.last_uid == 1 and mailbox.failing_attempts == 1
    assert not InboundMessage.objects.filter(subject="After").exists()
    poll(mailbox)
    third = poll(mailbox)
    assert (third.stored, third.failed) == (1, 1) and mailbox.messages_failed == 1
    assert "passed over after 3 failed attempts (OSError: disk full)" in mailbox.last_error
    assert mailbox.last_uid == 3 and InboundMessage.objects.filter(subject="After").exists()
    assert poll(mailbox).stored == 0 and mailbox.last_error == ""  # a clean poll clears it


def test_one_poll_at_a_time_and_the_schedule_polls_only_active_mailboxes(
        org, dovecot, imap_user, mailbox, hank):
    other_user = dovecot.new_user()
    off = add_mailbox(org, dovecot, other_user, name="Off", is_active=False)
    dovecot.append(imap_user, mail(subject="For the active one"))
    dovecot.append(other_user, mail(subject="For the one switched off"))

    Mailbox.objects.filter(pk=mailbox.pk).update(
        sync_claimed_until=timezone.now() + datetime.timedelta(minutes=1))
    assert inbound.poll_mailbox(mailbox.pk) is None  # another worker is reading it
    with pytest.raises(Conflict):
        inbound.mailbox_sync(actor=org.admin, mailbox_id=mailbox.pk)
    Mailbox.objects.filter(pk=mailbox.pk).update(sync_claimed_until=None)

    poll_mailboxes.call_local()

    assert list(InboundMessage.objects.values_list("subject", flat=True)) == ["For the active one"]
    with pytest.raises(ValidationFailed):
        inbound.mailbox_sync(actor=org.admin, mailbox_id=off.pk)
    with pytest.raises(PermissionDenied):
        inbound.mailbox_sync(actor=org.manager_a, mailbox_id=mailbox.pk)


# Provider webhooks --------------------------------------------------------------------

def postmark_payload(**overrides):
    return {
        "FromName": "Hank Scorpio", "MessageStream": "inbound", "From": "hank@globex.example",
        "FromFull": {"Email": "hank@globex.example", "Name": "Hank Scorpio", "MailboxHash": ""},
        "To": "Sales <sales@inbound.acme.example>",
        "ToFull": [{"Email": "sales@inbound.acme.example", "Name": "Sales", "MailboxHash": ""}],
        "Cc": "", "CcFull": [], "Bcc": "", "BccFull": [],
        "OriginalRecipient": "sales@inbound.acme.example", "ReplyTo": "", "MailboxHash": "",
        "Subject": "Re: Your quote", "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Fri, 20 Nov 2026 10:45:32 +0100",
        "TextBody": "Looks good, let's sign.", "HtmlBody": "<p>Looks good, let's sign.</p>",
        "StrippedTextReply": "Looks good, let's sign.", "Tag": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<hank@globex.example>"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Message-ID", "Value": "<CAHank.42@mail.globex.example>"},
        ],
        "Attachments": [{"Name": "signed.pdf", "ContentType": "application/pdf",
                         "Content": base64.b64encode(b"%PDF-1.4 signed").decode(),
                         "ContentLength": 15}],
        **overrides,
    }


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "postmark:hook-Secret-1"}
    return "Basic " + base64.b64encode(b"postmark:hook-Secret-1").decode()


def post_postmark(client, payload, auth=None):
    headers = {"Authorization": auth} if auth else {}
    return client.post("/email/inbound/postmark/", data=json.dumps(payload),
                       content_type="application/json", headers=headers)


def test_postmarks_inbound_webhook_stores_a_reply_like_imap_mail(org, hank, client, webhook_secret):
    sent = services.email_send(actor=org.sales_a1, data={
        "contact_id": hank.pk, "subject": "Your quote", "body": "Here it is."})
    payload = postmark_payload()
    payload["Headers"].append({"Name": "In-Reply-To", "Value": sent.message_id})

    response = post_postmark(client, payload, webhook_secret)

    assert response.status_code == 200
    message = InboundMessage.objects.get()
    assert (message.source, message.mailbox_id) == ("postmark", None)
    assert message.message_id == "<CAHank.42@mail.globex.example>"
    assert message.replied_to_id == sent.activity_id
    assert message.activity.contact_id == hank.pk and message.activity.direction == "inbound"
    assert message.sent_at == datetime.datetime(2026, 11, 20, 9, 45, 32, tzinfo=datetime.UTC)
    [attachment] = message.attachments.all()
    assert attachment.filename == "signed.pdf" and attachment.file.read() == b"%PDF-1.4 signed"

    # Postmark retries until it gets a 200: a repeat is stored once.
    assert post_postmark(client, payload, webhook_secret).status_code == 200
    assert InboundMessage.objects.count() == 1 and InboundAttachment.objects.count() == 1


def test_postmarks_webhook_refuses_without_the_secret_and_takes_big_messages(
        org, hank, client, settings, webhook_secret):
    assert post_postmark(client, postmark_payload(), "Basic " + base64.b64encode(b"x:y").decode()
                         ).status_code == 400
    assert post_postmark(client, postmark_payload()).status_code == 400
    assert client.post("/email/inbound/postmark/", data="{not json", content_type="application/json",
                       headers={"Authorization": webhook_secret}).status_code == 400
    assert client.post("/email/inbound/nosuch/", data="{}", content_type="application/json",
                       headers={"Authorization": webhook_secret}).status_code == 404
    settings.ANYMAIL = {}  # no secret configured: the endpoint is shut, not open
    assert post_postmark(client, postmark_payload(), webhook_secret).status_code == 400
    assert not InboundMessage.objects.exists()

    settings.ANYMAIL = {"WEBHOOK_SECRET": "postmark:hook-Secret-1"}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # Django's form limit does not apply
    scan = os.urandom(2 * 1024 * 1024)
    big = postmark_payload(Attachments=[{"Name": "scan.bin", "ContentType": "application/octet-stream",
                                         "Content": base64.b64encode(scan).decode(),
                                         "ContentLength": len(scan)}])
    assert post_postmark(client, big, webhook_secret).status_code == 200
    assert InboundAttachment.objects.get().file.read() == scan

    settings.INBOUND_MAX_BYTES = 100_000  # over three times the limit: refused outright
    assert post_postmark(client, big, webhook_secret).status_code == 413


# Settings → Mailboxes and the API -----------------------------------------------------

def test_settings_mailboxes_pages(client, org, dovecot, imap_user, hank):
    client.force_login(org.admin)
    assert "No mailboxes yet" in client.get(reverse("mailboxes:list")).content.decode()
    refused = client.post(reverse("mailboxes:list"), {
        "name": "Remote", "host": "imap.example.com", "security": "none", "username": "a",
        "password": "b", "folder": "INBOX"})
    assert "readable" in refused.content.decode() and not Mailbox.objects.exists()

    dovecot.append(imap_user, mail(subject="Hello from <b>Hank</b>", attachments=[
        ("price list.pdf", "application/pdf", b"%PDF-1.4")]))
    created = client.post(reverse("mailboxes:list"), {
        "name": "Sales", "host": "127.0.0.1", "port": dovecot.port, "security": "none",
        "username": imap_user, "password": dovecot.users[imap_user], "folder": "INBOX"})
    mailbox = Mailbox.objects.get()
    assert created.status_code == 302
    assert created["Location"] == reverse("mailboxes:detail", args=[mailbox.pk])
    detail = client.get(created["Location"]).content.decode()
    assert "Hello from &lt;b&gt;Hank&lt;/b&gt;" in detail and "price list.pdf" in detail
    assert ">OK<" in detail and "Resync now" in detail and dovecot.users[imap_user] not in detail
    listing = client.get(reverse("mailboxes:list")).content.decode()
    assert "Sales" in listing and dovecot.users[imap_user] not in listing
    assert 'aria-current="page">Mailboxes</a>' in listing  # in Settings' navigation

    # Saving without a password keeps the saved one.
    client.post(reverse("mailboxes:detail", args=[mailbox.pk]), {
        "name": "Sales team", "host": "127.0.0.1", "port": dovecot.port, "security": "none",
        "username": imap_user, "password": "", "folder": "INBOX", "unknown_senders": "contact"})
    mailbox.refresh_from_db()
    assert mailbox.name == "Sales team" and mailbox.unknown_senders == "contact"
    assert mailbox.password == dovecot.users[imap_user]

    dovecot.append(imap_user, mail(subject="Second"))
    client.post(reverse("mailboxes:sync", args=[mailbox.pk]))
    assert InboundMessage.objects.count() == 2
    client.post(reverse("mailboxes:sync", args=[mailbox.pk]), {"from_start": "on"})
    assert "the whole folder is read again" in client.get(reverse("mailboxes:detail", args=[mailbox.pk])
                                                          ).content.decode()
    client.post(reverse("mailboxes:toggle", args=[mailbox.pk]))
    mailbox.refresh_from_db()
    assert not mailbox.is_active

    assert Client().get(reverse("mailboxes:list")).status_code == 302  # to the login page
    client.force_login(org.manager_a)
    assert "Only admins manage mailboxes" in client.get(reverse("mailboxes:list")).content.decode()
    assert client.get(reverse("mailboxes:detail", args=[mailbox.pk])).status_code == 404
    assert client.post(reverse("mailboxes:delete", args=[mailbox.pk])).status_code == 404
    client.post(reverse("mailboxes:list"), {"name": "Mine", "host": "127.0.0.1", "port": 1,
                                            "security": "none", "username": "u", "password": "p"})
    assert Mailbox.objects.count() == 1

    client.force_login(org.admin)
    client.post(reverse("mailboxes:delete", args=[mailbox.pk]))
    assert not Mailbox.objects.exists() and InboundMessage.objects.count() == 2  # mail stays


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_mailbox_pages_take_the_same_queries_however_much_they_show(client, org, hank):
    def off_mailbox(n):
        return inbound.mailbox_create(actor=org.admin, data={
            "name": f"Box {n}", "host": "127.0.0.1", "port": 1, "security": "none",
            "username": f"user{n}", "password": "p", "is_active": False})

    def receive(subject, **kwargs):
        inbound.store_message(raw=mail(subject=subject, attachments=[("a.pdf", "application/pdf", b"%PDF")],
                                       **kwargs), source="imap", mailbox=first)

    first = off_mailbox(0)
    for n in range(2):
        receive(f"Note {n}")
    client.force_login(org.admin)
    list_one = _queries(client, reverse("mailboxes:list"))
    detail_few = _queries(client, reverse("mailboxes:detail", args=[first.pk]))
    for n in range(1, 6):
        off_mailbox(n)
        receive(f"More {n}")
    receive("From a stranger", sender="stranger@nowhere.example")
    assert _queries(client, reverse("mailboxes:list")) == list_one
    assert _queries(client, reverse("mailboxes:detail", args=[first.pk])) == detail_few


def test_the_mailboxes_api(api, org, dovecot, imap_user, hank):
    dovecot.append(imap_user, mail(subject="Via the API"))
    created = api().post("/mailboxes", {
        "name": "API box", "host": "127.0.0.1", "port": dovecot.port, "security": "none",
        "username": imap_user, "password": dovecot.users[imap_user]})
    assert created.status_code == 201, created.content
    box = created.json()
    assert "password" not in box and box["folder"] == "INBOX" and box["owner_id"] == org.admin.pk
    assert dovecot.users[imap_user] not in created.content.decode()

    got = api().get(f"/mailboxes/{box['id']}").json()
    assert got["messages_fetched"] == 1 and got["last_error"] == "" and got["last_sync_at"]
    assert [m["id"] for m in api().get("/mailboxes").json()["items"]] == [box["id"]]
    [message] = api().get(f"/mailboxes/{box['id']}/messages").json()["items"]
    assert message["subject"] == "Via the API" and message["contact_id"] == hank.pk

    dovecot.append(imap_user, mail(subject="Second"))
    synced = api().post(f"/mailboxes/{box['id']}/sync")
    assert synced.status_code == 202 and synced.json()["messages_fetched"] == 2
    assert api().post(f"/mailboxes/{box['id']}/sync?from_start=true").status_code == 202

    # create_contacts, from before unknown_senders, is still taken.
    renamed = api().patch(f"/mailboxes/{box['id']}", {"name": "Renamed", "create_contacts": True})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert (renamed.json()["unknown_senders"], renamed.json()["create_contacts"]) == ("contact", True)
    assert Mailbox.objects.get().password == dovecot.users[imap_user]
    bad = api().post("/mailboxes", {"name": "x", "host": "imap://mail.example.com:993",
                                    "security": "none", "username": "u", "password": "p\r\nA1 LOGOUT",
                                    "port": 70000})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"host", "password", "port"}
    assert api().post("/mailboxes", {"name": "x", "host": "mail.example.com", "security": "none",
                                     "username": "u", "password": "p"}).status_code == 422
    assert api().post("/mailboxes", {"name": "x", "unknown": 1}).status_code == 422
    assert ApiClient().get("/mailboxes").status_code == 401
    for user in (org.manager_a, org.sales_a1):
        assert api(user).get("/mailboxes").status_code == 403
        assert api(user).get(f"/mailboxes/{box['id']}").status_code == 403
        assert api(user).post(f"/mailboxes/{box['id']}/sync").status_code == 403
        assert api(user).post("/mailboxes", {"name": "x", "host": "127.0.0.1", "username": "u",
                                             "password": "p"}).status_code == 403
    assert Mailbox.objects.count() == 1
    assert api().delete(f"/mailboxes/{box['id']}").status_code == 204
    assert api().get(f"/mailboxes/{box['id']}").status_code == 404


# Parsing, by itself ---------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "subject", "text"), [
    (b"Subject: =?utf-8?b?8J+Ukw==?= =?koi8-r?b?8NLJ18XU?=\r\n\r\nok", "🔓Привет", "ok"),
    (b"Subject: plain\r\nContent-Type: text/html\r\n\r\n<style>p{}</style><p>One</p><p>Two &amp; three</p>",
     "plain", "One\n\nTwo & three"),
    (b"Subject: \xff\xfe\r\n\r\n", "ÿþ", ""),
    (b"", "", ""),
    (b"Subject: nul\x00\r\n\r\ntext\x00 with NUL", "nul", "text with NUL"),
])
def test_the_parser_reads_what_it_can_and_never_raises(raw, subject, text):
    parsed = parse(raw)
    assert parsed.subject == subject and parsed.text == text
    assert re.fullmatch(r"<[^<>\s]+>", parsed.message_id)


@pytest.mark.browser
def test_the_mailbox_pages_fit_a_phone(browser, live_server, org, hank):
    mailbox = inbound.mailbox_create(actor=org.admin, data={
        "name": "A mailbox with a rather long name for a phone", "host": "imap.a-long-provider-name.example",
        "security": "ssl", "username": "someone.with.a.long.address@a-long-provider-name.example",
        "password": "p", "is_active": False})
    inbound.store_message(raw=mail(subject="Averyveryverylongsubjectwithoutanyspacesatall" * 3, attachments=[
        ("a-very-long-file-name-that-goes-on-and-on-and-on-and-on.pdf", "application/pdf", b"%PDF")]),
        source="imap", mailbox=mailbox)
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_error="Could not reach imap.a-long-provider-name.example:993: Connection refused.")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login/")
    page.get_by_label("Email").fill(org.admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    for path in [reverse("mailboxes:list"), reverse("mailboxes:detail", args=[mailbox.pk])]:
        page.goto(path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 390px"
    context.close()
    assert errors == [], errors
