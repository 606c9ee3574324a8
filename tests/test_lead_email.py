"""Emailing a lead, like a contact or a deal: the service, the compose page from the lead's page,
the API, workflow rules on leads, and the reply landing back on the lead's timeline.

Messages go to a real SMTP server (aiosmtpd, the `smtp` fixture); jobs run at once (conftest)
and the tests commit for real, so a queued message is sent after commit as a worker sends it.
Replies are fed to the inbound storing service as raw MIME, as an IMAP poll hands them over.
"""

from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from rapport.activities.models import Activity
from rapport.activities.selectors import timeline
from rapport.contacts.services import contact_create
from rapport.core.errors import ValidationFailed
from rapport.mail import inbound, services
from rapport.mail.merge import MergeError, check
from rapport.mail.models import EmailStatus, OutboundEmail
from rapport.sales import lead_services
from rapport.sales.models import Lead
from rapport.workflows import services as rules
from rapport.workflows.models import RuleRun, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)

INTRO = {
    "name": "Lead intro",
    "subject": "Hello {{ contact.first_name|default:\"there\" }} at {{ lead.company_name }}",
    "body": "Hi {{ contact.first_name|default:\"there\" }},\n\n"
            "{{ lead.full_name }} ({{ lead.title }}, {{ lead.email }}) — "
            "**{{ company.name|default:\"your team\" }}** is on our list.\n\n"
            "{% if contact.title %}As {{ contact.title }}, you{% else %}You{% endif %} will hear "
            "from {{ sender.first_name }}.",
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def lead(org):
    return lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Lena", "last_name": "Lead", "email": "lena@prospect.example",
        "company_name": "Dunder & Mifflin", "title": "Buyer", "owner_id": org.sales_a1.pk})


@pytest.fixture
def intro(org):
    return services.template_create(actor=org.sales_a1, data=INTRO)


def plain(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def lead_timeline(lead) -> list[Activity]:
    return [item.activity for item in timeline(record=lead) if item.activity]


def reply_to(email: OutboundEmail, *, sender: str, body: str = "Sounds good.") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sales.a1@acme.example"
    message["Subject"] = f"Re: {email.subject}"
    message["Message-ID"] = make_msgid(domain="prospect.example")
    message["In-Reply-To"] = email.message_id
    message["References"] = email.message_id
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def receive(raw: bytes):
    return inbound.store_message(raw=raw, source="imap").message


def test_a_templated_message_reaches_the_lead_with_lead_and_contact_merge_fields(
        org, smtp, lead, intro):
    email = services.email_send(actor=org.sales_a1, data={"lead_id": lead.pk,
                                                          "template_id": intro.pk})

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT and email.to == ["lena@prospect.example"]
    [received] = smtp.messages
    message = received["parsed"]
    assert received["rcpt_tos"] == ["lena@prospect.example"]
    assert message["To"] == "lena@prospect.example"
    assert message["Subject"] == "Hello Lena at Dunder & Mifflin"
    assert message["Message-ID"] == email.message_id
    text = plain(message)
    assert "Hi Lena," in text
    assert "Lena Lead (Buyer, lena@prospect.example)" in text
    assert "**Dunder & Mifflin** is on our list." in text  # the plain part is the Markdown
    assert "As Buyer, you will hear from Sam." in text
    # Merged values are escaped in the HTML part.
    html = message.get_body(("html",)).get_content()
    assert "<strong>Dunder &amp; Mifflin</strong>" in html

    # On the lead's timeline, with the Message-ID replies are threaded by.
    activity = Activity.objects.get(kind="email")
    assert (activity.lead_id, activity.contact_id, activity.company_id) == (lead.pk, None, None)
    assert activity.email_message_id == email.message_id and activity.direction == "outbound"
    assert activity.email_status == EmailStatus.SENT and email.activity_id == activity.pk
    assert lead_timeline(lead) == [activity]


def test_a_lead_without_a_name_gets_the_templates_fallbacks(org, smtp, intro):
    nameless = lead_services.lead_create(actor=org.sales_a1, data={
        "email": "someone@prospect.example", "owner_id": org.sales_a1.pk})
    services.email_send(actor=org.sales_a1, data={"lead_id": nameless.pk,
                                                  "template_id": intro.pk})
    [received] = smtp.messages
    assert received["parsed"]["Subject"] == "Hello there at"
    text = plain(received["parsed"])
    assert "Hi there," in text and "**your team** is on our list." in text
    assert "You will hear from Sam." in text


def test_lead_merge_fields_are_checked_and_unknown_names_still_refused():
    assert check("{{ lead.first_name }} {{ lead.full_name }} {{ lead.company_name }}")
    for source, named in (("{{ lead.salary }}", "lead.salary"),
                          ("{{ prospect.first_name }}", "prospect.first_name"),
                          ("{% if lead.owner %}x{% endif %}", "lead.owner")):
        with pytest.raises(MergeError, match=f"Unknown merge field “{named}”"):
            check(source)
    assert "lead.company_name" in services.merge.field_list()


def test_a_lead_without_an_email_is_refused_naming_lead_id_and_nothing_is_queued(org, smtp,
                                                                                 intro):
    silent = lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Quiet", "phone": "+44 20 7946 0000", "owner_id": org.sales_a1.pk})
    with pytest.raises(ValidationFailed) as refused:
        services.email_send(actor=org.sales_a1, data={"lead_id": silent.pk,
                                                      "template_id": intro.pk})
    assert list(refused.value.fields) == ["lead_id"]
    assert "has no email address" in refused.value.fields["lead_id"][0]
    assert not OutboundEmail.objects.exists() and not Activity.objects.exists()
    assert smtp.messages == []


def test_a_lead_the_sender_may_not_see_is_not_found_and_nothing_is_queued(org, smtp, lead,
                                                                          intro, client):
    with pytest.raises(ValidationFailed) as refused:
        services.email_send(actor=org.sales_b1, data={"lead_id": lead.pk,
                                                      "template_id": intro.pk})
    assert refused.value.fields == {"lead_id": ["No such lead."]}
    # A lead in the trash is gone for its owner too.
    lead_services.lead_delete(actor=org.sales_a1, lead_id=lead.pk)
    with pytest.raises(ValidationFailed):
        services.email_send(actor=org.sales_a1, data={"lead_id": lead.pk,
                                                      "template_id": intro.pk})
    client.force_login(org.sales_b1)
    assert client.get(reverse("compose:compose_lead", args=[lead.pk])).status_code == 404
    assert not OutboundEmail.objects.exists() and smtp.messages == []


def test_a_lead_goes_alone_not_with_another_record(org, lead, intro):
    alone = {"lead_id": lead.pk, "template_id": intro.pk, "company_id": None}
    assert services.preview(actor=org.sales_a1, data=alone).subject.startswith("Hello Lena")
    other = contact_create(actor=org.sales_a1, data={"first_name": "Other",
                                                     "email": "other@example.com"})
    with pytest.raises(ValidationFailed) as refused:
        services.email_send(actor=org.sales_a1, data={**alone, "contact_id": other.pk})
    assert "without contact_id" in refused.value.fields["lead_id"][0]
    assert not OutboundEmail.objects.exists()


def test_a_disqualified_lead_may_still_be_emailed(org, smtp, lead):
    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={
        "status": "disqualified", "disqualified_reason": "No budget this year"})
    services.email_send(actor=org.sales_a1, data={
        "lead_id": lead.pk, "subject": "Next year?", "body": "Hi {{ lead.first_name }}"})
    [received] = smtp.messages
    assert received["rcpt_tos"] == ["lena@prospect.example"]
    assert Activity.objects.get(kind="email").lead_id == lead.pk


def test_a_converted_lead_is_emailed_and_logged_on_the_lead_and_its_contact(org, smtp, lead,
                                                                              intro):
    conversion = lead_services.lead_convert(actor=org.sales_a1, lead_id=lead.pk)
    contact, company = conversion.contact, conversion.company
    email = services.email_send(actor=org.sales_a1, data={"lead_id": lead.pk,
                                                          "template_id": intro.pk})
    [received] = smtp.messages
    assert received["rcpt_tos"] == ["lena@prospect.example"]
    assert "Hi Lena," in plain(received["parsed"])
    activity = Activity.objects.get(kind="email", direction="outbound")
    assert (activity.lead_id, activity.contact_id) == (lead.pk, contact.pk)
    assert activity.company_id == (company.pk if company else None)

    # The reply, from the address its contact now has, lands on both timelines too.
    reply = receive(reply_to(email, sender="Lena Lead <lena@prospect.example>"))
    assert reply.replied_to_id == activity.pk
    assert (reply.activity.contact_id, reply.activity.lead_id) == (contact.pk, lead.pk)
    assert reply.activity in lead_timeline(Lead.objects.get(pk=lead.pk))


def test_a_reply_to_a_message_sent_to_a_lead_lands_on_its_timeline(org, smtp, intro):
    # An older lead with the same address: the reply joins the lead written to, not the oldest.
    older = lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Old", "email": "lena@prospect.example", "owner_id": org.sales_a1.pk})
    lead = lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Lena", "email": "lena@prospect.example", "owner_id": org.sales_a1.pk})
    assert older.pk < lead.pk
    email = services.email_send(actor=org.sales_a1, data={"lead_id": lead.pk,
                                                          "template_id": intro.pk})

    reply = receive(reply_to(email, sender="Lena <lena@prospect.example>"))
    assert reply.replied_to_id == email.activity_id and reply.problems == []
    assert (reply.activity.lead_id, reply.activity.contact_id) == (lead.pk, None)
    assert (reply.activity.direction, reply.activity.subject) == ("inbound", f"Re: {email.subject}")
    assert [a.pk for a in lead_timeline(lead)] == [reply.activity.pk, email.activity_id]

    # From a colleague's address, threaded by In-Reply-To: the conversation's lead.
    colleague = receive(reply_to(email, sender="Bob <bob@prospect.example>", body="Me too."))
    assert colleague.activity.lead_id == lead.pk
    assert not lead_timeline(older)


def test_compose_from_the_lead_page_sends_and_returns_with_a_message(client, org, smtp, lead,
                                                                     intro):
    client.force_login(org.sales_a1)
    detail = reverse("leads:detail", args=[lead.pk])
    url = reverse("compose:compose_lead", args=[lead.pk])
    page = client.get(detail).content.decode()
    assert f'href="{url}">Email</a>' in page

    compose = client.get(url, {"template": intro.pk})
    body = compose.content.decode()
    assert compose.status_code == 200 and 'value="lena@prospect.example"' in body
    assert "Email Lena Lead" in body and reverse("leads:list") in body
    assert "lead.company_name" in body  # the merge field help lists lead fields

    preview = client.post(url, {"to": "lena@prospect.example", "template_id": intro.pk,
                                "subject": INTRO["subject"], "body": INTRO["body"],
                                "preview": "1"})
    assert b"Subject:</strong> Hello Lena at Dunder &amp; Mifflin" in preview.content
    assert smtp.messages == []

    response = client.post(url, {"to": "lena@prospect.example", "cc": "",
                                 "template_id": intro.pk, "subject": INTRO["subject"],
                                 "body": INTRO["body"]})
    assert response.status_code == 302 and response["Location"] == detail
    assert any("Email queued" in str(m) for m in get_messages(response.wsgi_request))
    [received] = smtp.messages
    assert received["rcpt_tos"] == ["lena@prospect.example"]
    assert received["parsed"]["Subject"] == "Hello Lena at Dunder & Mifflin"
    email = OutboundEmail.objects.get()
    assert email.template_id == intro.pk and email.activity.lead_id == lead.pk
    shown = client.get(detail).content.decode()
    assert "Hello Lena at Dunder &amp; Mifflin" in shown


def test_the_lead_page_has_no_email_button_without_an_address(client, org):
    silent = lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Quiet", "owner_id": org.sales_a1.pk})
    client.force_login(org.sales_a1)
    page = client.get(reverse("leads:detail", args=[silent.pk])).content.decode()
    assert reverse("compose:compose_lead", args=[silent.pk]) not in page


def test_the_api_sends_to_a_lead_and_names_lead_id_when_it_cannot(api, org, smtp, lead, intro):
    client = api(org.sales_a1)
    response = client.post("/emails", {"lead_id": lead.pk, "template_id": intro.pk})
    assert response.status_code == 202, response.content
    sent = response.json()
    assert sent["to"] == ["lena@prospect.example"]
    assert sent["subject"] == "Hello Lena at Dunder & Mifflin"
    assert "Hi Lena," in sent["text_body"]
    [received] = smtp.messages
    assert received["parsed"]["Message-ID"] == sent["message_id"]
    assert Activity.objects.get(pk=sent["activity_id"]).lead_id == lead.pk
    listed = client.get("/emails", lead_id=str(lead.pk)).json()["items"]
    assert [item["id"] for item in listed] == [sent["id"]]

    preview = client.post("/emails/preview", {"lead_id": lead.pk, "template_id": intro.pk})
    assert preview.status_code == 200 and preview.json()["subject"] == sent["subject"]

    silent = lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Quiet", "owner_id": org.sales_a1.pk})
    refused = client.post("/emails", {"lead_id": silent.pk, "template_id": intro.pk})
    assert refused.status_code == 422
    assert "has no email address" in refused.json()["error"]["fields"]["lead_id"][0]
    hidden = api(org.sales_b1).post("/emails", {"lead_id": lead.pk, "template_id": intro.pk})
    assert hidden.status_code == 422
    assert hidden.json()["error"]["fields"] == {"lead_id": ["No such lead."]}
    assert OutboundEmail.objects.count() == 1 and len(smtp.messages) == 1


def test_a_lead_rule_sends_its_email_template_to_the_lead(org, smtp, lead, intro):
    qualifying = rules.rule_create(actor=org.admin, data={
        "name": "Welcome qualified leads", "object_type": "lead", "is_active": True,
        "trigger": {"type": "field_changed", "field": "status", "to": "qualified"},
        "actions": [{"type": "send_email", "template_id": intro.pk}]})

    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"status": "qualified"})

    [run] = RuleRun.objects.filter(rule=qualifying)
    assert run.status == RunStatus.DONE, run.steps
    assert "Queued “Hello Lena at Dunder & Mifflin” to lena@prospect.example" in \
        run.steps[0]["detail"]
    [received] = smtp.messages
    assert received["rcpt_tos"] == ["lena@prospect.example"]
    assert "Hi Lena," in plain(received["parsed"])
    activity = Activity.objects.get(kind="email")
    assert activity.lead_id == lead.pk and activity in lead_timeline(lead)
