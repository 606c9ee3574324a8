"""Inbound email making leads: a mailbox chooses what mail from an unknown address makes
(nothing, a contact or a lead); a new lead is assigned by the lead assignment rules and the
message goes on its timeline; later mail from the same address joins that lead; a contact with
the address wins; automated mail and colleagues never make one.

Messages are fed to the storing service as raw MIME, as an IMAP poll or a provider's webhook
hands them over (tests/test_inbound_email.py reads them from a real Dovecot)."""

from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from rapport.accounts.roles import Role
from rapport.accounts.services import team_create, user_create
from rapport.activities.selectors import timeline
from rapport.contacts.models import Contact
from rapport.contacts.services import contact_create
from rapport.core.errors import ValidationFailed
from rapport.core.models import Event
from rapport.mail import inbound
from rapport.mail.models import InboundMessage, Mailbox
from rapport.sales import lead_services
from rapport.sales.models import Lead
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def make_mailbox(org, unknown_senders="lead", **data):
    # In a test that does not commit, the first poll queued after commit never runs.
    return inbound.mailbox_create(actor=org.admin, data={
        "name": "Sales inbox", "host": "imap.example.com", "username": "sales@acme.example",
        "password": "secret", "unknown_senders": unknown_senders, **data})


def mail(*, sender="Jane Doe <jane@newco-labs.example>", subject="Pricing?", body="How much?",
         message_id=None, headers=None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sales@acme.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="newco-labs.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def receive(mailbox, **kwargs) -> InboundMessage:
    return inbound.store_message(raw=mail(**kwargs), source="imap", mailbox=mailbox).message


@pytest.fixture
def pair(org):
    """Two sellers in a team, and a round robin rule over it for every new lead."""
    team = team_create(actor=org.admin, name="Inbound")
    members = [user_create(actor=org.admin, email=f"in{i}@acme.example", full_name=f"Inbound {i}",
                           role=Role.SALES, team_id=team.pk, password=PASSWORD) for i in range(2)]
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "In turn", "action": "round_robin", "team_id": team.pk})
    return members


def test_an_unknown_sender_becomes_a_lead_with_the_message_on_its_timeline(org, pair):
    mailbox = make_mailbox(org)
    message = receive(mailbox)

    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.email) == ("Jane", "Doe", "jane@newco-labs.example")
    assert (lead.source, lead.status, lead.company_name) == ("email", "new", "Newco Labs")
    assert lead.owner == pair[0] and lead.created_by == org.admin  # the rules chose the owner
    assigned = Event.objects.get(type="lead.assigned", object_id=lead.pk)
    assert assigned.data["method"] == "rule"
    activity = message.activity
    assert (activity.lead_id, activity.contact_id, activity.company_id) == (lead.pk, None, None)
    assert (activity.kind, activity.direction, activity.subject) == ("email", "inbound", "Pricing?")
    assert activity.owner == pair[0]  # written as the lead's owner
    assert [item.activity for item in timeline(record=lead) if item.activity] == [activity]
    assert not Contact.objects.exists() and message.problems == []


def test_later_mail_from_the_same_address_joins_the_same_lead(org, pair, client):
    mailbox = make_mailbox(org)
    first = receive(mailbox)
    second = receive(mailbox, sender="jane@newco-labs.example", subject="Re: Pricing?")

    lead = Lead.objects.get()
    assert second.activity.lead_id == lead.pk and first.activity.lead_id == lead.pk
    assert Event.objects.filter(type="lead.created").count() == 1

    # Even a mailbox that creates nothing puts mail from a known lead on its timeline.
    quiet = make_mailbox(org, "ignore", name="Support", username="support@acme.example")
    third = receive(quiet, sender="jane@newco-labs.example", subject="Any news?")
    assert third.activity.lead_id == lead.pk and Lead.objects.count() == 1

    client.force_login(pair[0])
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "Re: Pricing?" in page and "Any news?" in page


def test_a_reply_in_a_conversation_on_a_lead_joins_it_from_another_address(org, pair):
    mailbox = make_mailbox(org, "ignore")
    lead = lead_services.lead_create(actor=org.admin, data={"email": "jane@newco-labs.example"})
    first = receive(mailbox)
    assert first.activity.lead_id == lead.pk
    reply = receive(mailbox, sender="Bob <bob@newco-labs.example>", subject="Re: Pricing?",
                    headers={"In-Reply-To": first.message_id, "References": first.message_id})
    assert reply.activity.lead_id == lead.pk and Lead.objects.count() == 1


def test_a_contact_with_the_address_wins_over_a_lead(org, pair):
    mailbox = make_mailbox(org)
    lead = lead_services.lead_create(actor=org.admin, data={"email": "jane@newco-labs.example"})
    jane = contact_create(actor=org.sales_a1, data={"first_name": "Jane",
                                                    "email": "jane@newco-labs.example"})
    message = receive(mailbox)
    assert message.activity.contact_id == jane.pk and message.activity.lead_id is None
    assert Lead.objects.get() == lead and not timeline(record=lead)[0].activity


def test_a_converted_lead_is_not_matched_its_contact_is(org, pair):
    mailbox = make_mailbox(org)
    lead = lead_services.lead_create(actor=org.admin, data={"email": "jane@newco-labs.example"})
    conversion = lead_services.lead_convert(actor=org.admin, lead_id=lead.pk)
    message = receive(mailbox)
    assert message.activity.contact_id == conversion.contact.pk
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(("sender", "headers"), [
    ("Out of office <ooo@newco-labs.example>", {"Auto-Submitted": "auto-replied"}),
    ("Mail Delivery System <mailer-daemon@newco-labs.example>", {}),  # a bounce
    ("News <news@newco-labs.example>", {"List-Id": "<news.newco-labs.example>"}),
    ("Mona <manager.a@acme.example>", {}),  # a colleague
])
def test_automated_mail_and_colleagues_never_make_a_lead(org, pair, sender, headers):
    mailbox = make_mailbox(org)
    message = receive(mailbox, sender=sender, headers=headers)
    assert not Lead.objects.exists() and not Contact.objects.exists()
    assert message.activity is None
    if "acme.example" not in sender:
        assert any("automated message" in p and "no lead was created" in p for p in message.problems)


def test_a_mailbox_set_to_contact_keeps_creating_contacts(org, pair):
    mailbox = make_mailbox(org, "contact")
    message = receive(mailbox, sender='"Doe, Jane" <jane@newco-labs.example>')
    jane = Contact.objects.get()
    assert (jane.first_name, jane.last_name, jane.lifecycle_stage) == ("Jane", "Doe", "lead")
    assert message.activity.contact_id == jane.pk and not Lead.objects.exists()

    nothing = make_mailbox(org, "ignore", name="Other", username="other@acme.example")
    unknown = receive(nothing, sender="someone@elsewhere.example")
    assert unknown.activity is None and Contact.objects.count() == 1 and not Lead.objects.exists()
    assert any("No contact or lead has the address" in p for p in unknown.problems)


def test_the_company_name_is_guessed_from_a_business_domain_only(org):
    assert inbound.company_from_address("jane@newco-labs.example") == "Newco Labs"
    assert inbound.company_from_address("jane@mail.acme.co.uk") == "Acme"
    assert inbound.company_from_address("jane@gmail.com") == ""
    assert inbound.company_from_address("jane@web.de") == ""
    assert inbound.company_from_address("jane@localhost") == ""
    mailbox = make_mailbox(org)
    receive(mailbox, sender="Jo <jo@gmail.com>")
    assert Lead.objects.get().company_name == ""


# The setting: service, old flag, form, API, migration --------------------------------------

def test_the_setting_is_a_choice_and_the_old_flag_is_still_taken(org):
    mailbox = make_mailbox(org, "ignore")
    with pytest.raises(ValidationFailed) as caught:
        inbound.mailbox_update(actor=org.admin, mailbox_id=mailbox.pk,
                               data={"unknown_senders": "deal"})
    assert set(caught.value.fields) == {"unknown_senders"}
    with pytest.raises(ValidationFailed) as caught:
        inbound.mailbox_update(actor=org.admin, mailbox_id=mailbox.pk,
                               data={"create_contacts": "yes"})
    assert set(caught.value.fields) == {"create_contacts"}

    def after(data):
        return inbound.mailbox_update(actor=org.admin, mailbox_id=mailbox.pk,
                                      data=data).unknown_senders

    assert after({"create_contacts": True}) == "contact"
    assert after({"unknown_senders": "lead"}) == "lead"
    assert after({"create_contacts": True}) == "lead"  # true: it goes on creating records
    assert after({"create_contacts": False}) == "ignore"
    assert after({"create_contacts": True, "unknown_senders": "lead"}) == "lead"
    event = Event.objects.filter(type="mailbox.updated").latest("id")
    assert event.data["unknown_senders"] == "lead"


def test_the_mailbox_pages_and_api_offer_the_choice(org, api, client):
    client.force_login(org.admin)
    page = client.get(reverse("mailboxes:list")).content.decode()
    assert 'name="unknown_senders"' in page and "Create a lead" in page
    mailbox = make_mailbox(org, "ignore")
    client.post(reverse("mailboxes:detail", args=[mailbox.pk]), {
        "name": "Sales inbox", "host": "imap.example.com", "security": "ssl", "port": 993,
        "username": "sales@acme.example", "password": "", "folder": "INBOX",
        "unknown_senders": "lead"})
    mailbox.refresh_from_db()
    assert mailbox.unknown_senders == "lead"
    detail = client.get(reverse("mailboxes:detail", args=[mailbox.pk])).content.decode()
    assert "Become leads" in detail and '<option value="lead" selected>' in detail

    got = api().get(f"/mailboxes/{mailbox.pk}").json()
    assert (got["unknown_senders"], got["create_contacts"]) == ("lead", True)
    changed = api().patch(f"/mailboxes/{mailbox.pk}", {"unknown_senders": "contact"})
    assert changed.status_code == 200 and changed.json()["unknown_senders"] == "contact"
    bad = api().patch(f"/mailboxes/{mailbox.pk}", {"unknown_senders": "everyone"})
    assert bad.status_code == 422 and "unknown_senders" in bad.json()["error"]["fields"]
    legacy = api().patch(f"/mailboxes/{mailbox.pk}", {"create_contacts": False})
    assert (legacy.json()["unknown_senders"], legacy.json()["create_contacts"]) == ("ignore", False)


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_the_flag_into_the_choice():
    before, after = [("mail", "0002_inbound_email")], [("mail", "0003_mailbox_unknown_senders")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = MigrationExecutor(connection).loader.project_state(before).apps.get_model("mail", "Mailbox")
    old.objects.create(name="On", host="a.example", username="a", password="p", create_contacts=True)
    old.objects.create(name="Off", host="b.example", username="b", password="p")
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    assert dict(Mailbox.objects.values_list("name", "unknown_senders")) == {
        "On": "contact", "Off": "ignore"}
    executor.migrate(before)  # and back
    old = MigrationExecutor(connection).loader.project_state(before).apps.get_model("mail", "Mailbox")
    assert dict(old.objects.values_list("name", "create_contacts")) == {"On": True, "Off": False}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
