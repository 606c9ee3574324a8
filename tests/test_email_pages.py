"""Email in the UI and over the API: compose, preview, templates, settings, the sent log."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from rapport.contacts.services import company_create, contact_create
from rapport.mail import services
from rapport.mail.models import EmailStatus, EmailTemplate, OutboundEmail

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def contact(org):
    company = company_create(actor=org.sales_a1, data={"name": "Initech"})
    return contact_create(actor=org.sales_a1, data={
        "first_name": "Peter", "last_name": "Gibbons", "email": "peter@initech.example",
        "company_id": company.pk})


@pytest.fixture
def seller(client, org):
    client.force_login(org.sales_a1)
    return client


def test_compose_from_a_contact_sends_with_attachments_and_returns_to_the_record(
        seller, smtp, contact):
    page = seller.get(reverse("compose:compose_contact", args=[contact.pk]))
    assert page.status_code == 200
    assert b'value="peter@initech.example"' in page.content

    response = seller.post(reverse("compose:compose_contact", args=[contact.pk]), {
        "to": "peter@initech.example", "cc": "", "subject": "TPS reports",
        "body": "Hi {{ contact.first_name }}, did you get the memo?",
        "attachments": [SimpleUploadedFile("memo.txt", b"new cover sheets", "text/plain"),
                        SimpleUploadedFile("sheet.csv", b"a,b\n1,2\n", "text/csv")],
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:detail", args=[contact.pk])
    message = smtp.messages[0]["parsed"]
    assert "Hi Peter, did you get the memo?" in message.get_body(("plain",)).get_content()
    assert [p.get_filename() for p in message.iter_attachments()] == ["memo.txt", "sheet.csv"]

    record = seller.get(response["Location"])
    assert b"TPS reports" in record.content and b"badge-done\">Sent" in record.content


def test_compose_preview_merges_without_sending(seller, smtp, contact):
    response = seller.post(reverse("compose:compose_contact", args=[contact.pk]), {
        "to": "peter@initech.example", "subject": "For {{ company.name }}",
        "body": "Dear **{{ contact.first_name }}**", "preview": "1"})
    assert response.status_code == 200
    assert b"Subject:</strong> For Initech" in response.content
    assert b"Dear <strong>Peter</strong>" in response.content
    assert smtp.messages == [] and not OutboundEmail.objects.exists()


def test_compose_shows_a_bad_merge_field_beside_the_body(seller, smtp, contact):
    response = seller.post(reverse("compose:compose_contact", args=[contact.pk]), {
        "to": "peter@initech.example", "subject": "Hi", "body": "{{ contact.salary }}"})
    assert response.status_code == 200
    assert "Unknown merge field “contact.salary”" in response.content.decode()
    assert not OutboundEmail.objects.exists()


def test_a_template_prefills_the_compose_form(seller, org, contact):
    template = services.template_create(actor=org.sales_a1, data={
        "name": "Memo", "subject": "About the memo", "body": "Hello {{ contact.first_name }}"})
    page = seller.get(reverse("compose:compose_contact", args=[contact.pk]),
                      {"template": template.pk})
    assert b'value="About the memo"' in page.content


def test_compose_from_a_company_and_for_a_record_out_of_scope(client, org, smtp, contact):
    client.force_login(org.sales_a1)
    assert client.get(reverse("compose:compose_company", args=[contact.company_id])).status_code == 200
    client.force_login(org.sales_b1)
    assert client.get(reverse("compose:compose_contact", args=[contact.pk])).status_code == 404


def test_templates_are_managed_in_settings(seller):
    created = seller.post(reverse("mail:templates"), {
        "name": "Welcome", "subject": "Welcome, {{ contact.first_name|default:'friend' }}",
        "body": "Glad to have you."})
    assert created.status_code == 302
    template = EmailTemplate.objects.get(name="Welcome")
    listing = seller.get(reverse("mail:templates"))
    assert b"Welcome" in listing.content and b"contact.first_name" in listing.content

    refused = seller.post(reverse("mail:template_edit", args=[template.pk]), {
        "name": "Welcome", "subject": "Hi", "body": "{% load static %}"})
    assert refused.status_code == 200 and b"does not parse" in refused.content

    seller.post(reverse("mail:template_delete", args=[template.pk]))
    assert not EmailTemplate.objects.exists()


def test_email_settings_save_the_identity_and_send_a_test(seller, org, smtp):
    page = seller.get(reverse("mail:settings"))
    assert f"SMTP 127.0.0.1:{smtp.port}".encode() in page.content
    seller.post(reverse("mail:settings"), {"display_name": "Sam S.", "reply_to": "",
                                           "signature": "Sam · Acme"})
    seller.post(reverse("mail:test"))
    message = smtp.messages[0]["parsed"]
    assert message["To"] == "sales.a1@acme.example" and message["From"] == '"Sam S." <sales.a1@acme.example>'
    assert "Sam · Acme" in message.get_body(("plain",)).get_content()
    assert b"Rapport test message" in seller.get(reverse("mail:settings")).content


def test_without_a_mail_server_messages_go_to_the_outbox_folder(seller, settings, contact,
                                                                  tmp_path):
    settings.EMAIL_URL = ""
    settings.DATA_DIR = tmp_path
    page = seller.get(reverse("compose:compose_contact", args=[contact.pk]))
    assert b"No mail server is configured" in page.content
    seller.post(reverse("compose:compose_contact", args=[contact.pk]), {
        "to": "peter@initech.example", "subject": "Saved", "body": "Kept on disk."})
    [saved] = list((tmp_path / "outbox").iterdir())
    assert b"Subject: Saved" in saved.read_bytes()
    assert OutboundEmail.objects.get().status == EmailStatus.SENT


def test_the_api_sends_with_a_base64_attachment_and_reports_status(api, org, smtp, contact):
    client = api(org.sales_a1)
    response = client.post("/emails", {
        "contact_id": contact.pk, "subject": "Via API", "body": "Hello {{ contact.first_name }}",
        "cc": ["boss@initech.example"],
        "attachments": [{"filename": "a.txt", "content_base64": base64.b64encode(b"hi").decode()}],
    })
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["to"] == ["peter@initech.example"] and body["cc"] == ["boss@initech.example"]
    assert body["attachments"] == [{"filename": "a.txt", "content_type": "text/plain", "size": 2}]
    fetched = client.get(f"/emails/{body['id']}").json()
    assert fetched["status"] == "sent" and fetched["message_id"].startswith("<")
    assert sorted(smtp.messages[0]["rcpt_tos"]) == ["boss@initech.example", "peter@initech.example"]
    assert api(org.sales_b1).get(f"/emails/{body['id']}").status_code == 404


def test_the_api_sends_large_attachments_once_per_idempotency_key(api, org, smtp, contact):
    client = api(org.sales_a1)
    body = {"contact_id": contact.pk, "subject": "The deck", "body": "Attached.",
            "attachments": [{"filename": "deck.pdf",
                             "content_base64": base64.b64encode(b"%PDF" + b"x" * 3_000_000).decode()}]}
    first = client.post("/emails", body, headers={"Idempotency-Key": "deck-1"})
    again = client.post("/emails", body, headers={"Idempotency-Key": "deck-1"})
    assert first.status_code == 202 and again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert OutboundEmail.objects.count() == 1 and len(smtp.messages) == 1
    assert first.json()["attachments"][0]["size"] == 3_000_004


def test_the_api_lists_messages_a_page_at_a_time(api, org, smtp, contact):
    client = api(org.sales_a1)
    for number in range(3):
        client.post("/emails", {"contact_id": contact.pk, "subject": f"Note {number}", "body": "…"})
    first = client.get("/emails", limit="2").json()
    assert [e["subject"] for e in first["items"]] == ["Note 2", "Note 1"]
    rest = client.get("/emails", limit="2", cursor=first["next_cursor"]).json()
    assert [e["subject"] for e in rest["items"]] == ["Note 0"] and rest["next_cursor"] is None
    assert client.get("/emails", status="failed").json()["items"] == []
    assert client.get("/emails", contact_id=str(contact.pk)).json()["items"][0]["subject"] == "Note 2"
    assert client.get("/emails", q="note").status_code == 400
    assert api(org.sales_b1).get("/emails").json()["items"] == []


def test_the_api_names_each_bad_field(api, org, smtp, contact):
    response = api(org.sales_a1).post("/emails", {
        "contact_id": contact.pk, "to": ["not-an-address"], "subject": "{{ contact.nope }}",
        "body": "", "attachments": [{"filename": "x", "content_base64": "%%%"}]})
    assert response.status_code == 422
    assert "attachments[0].content_base64" in response.json()["error"]["fields"]
    response = api(org.sales_a1).post("/emails", {
        "contact_id": contact.pk, "to": ["not-an-address"], "subject": "{{ contact.nope }}"})
    fields = response.json()["error"]["fields"]
    assert set(fields) >= {"to", "subject"}
    assert not OutboundEmail.objects.exists() and smtp.messages == []


def test_the_api_manages_templates_and_previews(api, org, contact):
    client = api(org.sales_a1)
    created = client.post("/email-templates", {"name": "Intro", "subject": "Hi {{ contact.first_name }}",
                                               "body": "From {{ sender.first_name }}"})
    assert created.status_code == 201
    assert [t["name"] for t in client.get("/email-templates").json()["items"]] == ["Intro"]
    preview = client.post("/emails/preview", {"contact_id": contact.pk,
                                              "template_id": created.json()["id"]})
    assert preview.json()["subject"] == "Hi Peter"
    assert preview.json()["text"].startswith("From Sam")
    assert client.get("/email-templates/merge-fields").json()["fields"][0] == "contact.first_name"
    bad = client.patch(f"/email-templates/{created.json()['id']}", {"body": "{{ contact.x }}"})
    assert bad.status_code == 422 and "contact.x" in bad.json()["error"]["fields"]["body"][0]
