"""Approvers hear of a quote waiting for them by email, and the seller of the decision, through
the outbound mail job to a real SMTP server (aiosmtpd): after commit, once per transition."""

import pytest
from django.test import Client

from rapport.activities.models import Activity
from rapport.contacts.services import company_create, contact_create
from rapport.core.dispatch import dispatch_pending
from rapport.core.models import Event, EventReceipt
from rapport.mail.models import EmailStatus, OutboundEmail
from rapport.mail.tasks import send_due_emails, send_emails
from rapport.sales.models import Quote, QuoteStatus
from rapport.sales.quote_services import quote_approve, quote_create, quote_reject, quote_submit
from rapport.sales.services import deal_contact_add, deal_create

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "https://crm.acme.example"


@pytest.fixture
def deal(org):
    company = company_create(actor=org.sales_a1, data={"name": "Globex"})
    hank = contact_create(actor=org.sales_a1, data={
        "first_name": "Hank", "last_name": "Scorpio", "email": "hank@globex.example",
        "company_id": company.pk})
    deal = deal_create(actor=org.sales_a1, data={"name": "Globex {renewal}", "amount": "5000",
                                                  "currency": "EUR", "company_id": company.pk})
    deal_contact_add(actor=org.sales_a1, deal_id=deal.pk, contact_id=hank.pk)
    return deal


@pytest.fixture
def public_url(settings):
    settings.PUBLIC_URL = PUBLIC


def pending(org, deal, comment="Big customer, {{ please }}"):
    """A quote over the discount limit (15 % on the line, 10 % on the whole quote), submitted."""
    quote = quote_create(actor=org.sales_a1, data={
        "deal_id": deal.pk, "discount_percent": "10",
        "lines": [{"name": "Consulting", "quantity": "2", "unit_price": "500.00",
                   "discount_percent": "15", "tax_rate": "20"}]})
    return quote_submit(actor=org.sales_a1, quote_id=quote.pk, comment=comment)


def to(smtp, address):
    return [m for m in smtp.messages if address in m["rcpt_tos"]]


def text_of(message) -> str:
    return message["parsed"].get_body(preferencelist=("plain",)).get_content()


def test_submitting_emails_each_approver_once_with_a_link_to_the_quote(org, deal, smtp,
                                                                      public_url):
    quote = pending(org, deal)

    [received] = smtp.messages  # the one manager of the deal owner's team; nobody else
    assert received["rcpt_tos"] == [org.manager_a.email]
    parsed = received["parsed"]
    assert parsed["Subject"] == f"Approve quote {quote.number} (Globex {{renewal}})"
    assert parsed["From"] == f"Sam Seller <{org.sales_a1.email}>"  # from the one who asks
    body = text_of(received)
    assert f"{PUBLIC}/quotes/{quote.pk}/" in body
    assert quote.number in body and "Globex {renewal}" in body
    # 2 × 500 = 1000, 15 % off = 850, 10 % off the quote = 765, 20 % tax = 918.
    assert "€918.00" in body and "€235.00" in body and "10 % off the whole quote" in body
    assert "a line is discounted 23.5 % with the quote's 10 % discount, over the 20 % limit" \
        in body
    assert "Big customer, {{ please }}" in body  # a comment is text, never a template
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert f'href="{PUBLIC}/quotes/{quote.pk}/"' in html
    # The task is there as before; the email is logged on no timeline.
    assert Activity.objects.filter(kind="task", assignee=org.manager_a,
                                   pk__in=quote.approval_task_ids).exists()
    assert not Activity.objects.filter(kind="email").exists()
    email = OutboundEmail.objects.get()
    assert email.status == EmailStatus.SENT and email.activity_id is None


def test_approving_emails_the_seller_the_approvers_comment(org, deal, smtp, public_url):
    quote = pending(org, deal)
    quote_approve(actor=org.manager_a, quote_id=quote.pk, comment="OK this once.\nNot again.")

    [received] = to(smtp, org.sales_a1.email)
    assert received["parsed"]["Subject"] == f"Quote {quote.number} approved by Mona Manager"
    body = text_of(received)
    assert "> OK this once." in body and "> Not again." in body
    assert "It can be sent to the customer now." in body and f"{PUBLIC}/quotes/{quote.pk}/" in body
    assert len(smtp.messages) == 2  # the approver's, then the seller's


def test_rejecting_emails_the_seller_why(org, deal, smtp, public_url):
    quote = pending(org, deal)
    quote_reject(actor=org.manager_a, quote_id=quote.pk, comment="25 % is too much")

    [received] = to(smtp, org.sales_a1.email)
    assert received["parsed"]["Subject"] == f"Quote {quote.number} rejected by Mona Manager"
    body = text_of(received)
    assert "> 25 % is too much" in body and "It is a draft again" in body


def test_rerunning_the_jobs_sends_nothing_twice(org, deal, smtp, public_url):
    quote = pending(org, deal)
    quote_approve(actor=org.manager_a, quote_id=quote.pk, comment="Fine")
    assert len(smtp.messages) == 2

    # The jobs again: the dispatch, the send of every message, the sweep.
    dispatch_pending()
    send_emails.call_local(list(OutboundEmail.objects.values_list("pk", flat=True)))
    send_due_emails.call_local()
    # The events replayed as if the dispatch had never finished...
    Event.objects.filter(type__in=["quote.submitted", "quote.approved"]).update(dispatched_at=None)
    assert dispatch_pending().skipped >= 2
    # ... and even with the consumer's receipts lost: the Message-ID is the idempotency key.
    EventReceipt.objects.filter(consumer="quote_approval_emails").delete()
    Event.objects.filter(type__in=["quote.submitted", "quote.approved"]).update(dispatched_at=None)
    dispatch_pending()
    send_due_emails.call_local()

    assert len(smtp.messages) == 2 and OutboundEmail.objects.count() == 2


def test_a_resubmitted_quote_emails_the_approver_again(org, deal, smtp, public_url):
    quote = pending(org, deal)
    quote_reject(actor=org.manager_a, quote_id=quote.pk, comment="Less, please")
    quote_submit(actor=org.sales_a1, quote_id=quote.pk, comment="Still 10 %")

    assert len(to(smtp, org.manager_a.email)) == 2  # one email per submission


def test_without_a_configured_server_the_tasks_appear_and_nothing_fails(org, deal, settings,
                                                                      tmp_path):
    settings.EMAIL_URL = ""  # the default: messages are written to the outbox folder
    settings.DATA_DIR = str(tmp_path)
    quote = pending(org, deal)
    quote = quote_approve(actor=org.manager_a, quote_id=quote.pk, comment="OK")

    assert quote.status == QuoteStatus.APPROVED
    assert Activity.objects.filter(kind="task", assignee=org.sales_a1,
                                   subject__startswith=f"Send quote {quote.number}").exists()
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}
    assert len(list((tmp_path / "outbox").iterdir())) == 2
    assert not Event.objects.exclude(dispatch_error="").exists()


def test_an_unusable_mail_server_fails_the_message_not_the_approval(org, deal, settings):
    settings.EMAIL_URL = "smtp://127.0.0.1:1"  # nothing listens there
    quote = pending(org, deal)

    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.PENDING_APPROVAL
    assert Activity.objects.filter(kind="task", assignee=org.manager_a).exists()
    assert OutboundEmail.objects.get().status == EmailStatus.QUEUED  # retried later
    assert not Event.objects.exclude(dispatch_error="").exists()


def test_from_the_quote_page_the_link_is_on_the_address_it_was_used_at(org, deal, smtp):
    quote = quote_create(actor=org.sales_a1, data={
        "deal_id": deal.pk, "lines": [{"name": "Consulting", "unit_price": "100",
                                       "discount_percent": "30"}]})
    client = Client()
    client.force_login(org.sales_a1)
    response = client.post(f"/quotes/{quote.pk}/submit/", {"comment": ""})
    assert response.status_code == 302

    [received] = smtp.messages
    assert f"http://testserver/quotes/{quote.pk}/" in text_of(received)
    assert "a line is discounted 30 %, over the 20 % limit" in text_of(received)


def test_a_manager_approving_their_own_team_s_quote_mails_nobody_twice(org, deal, smtp,
                                                                      public_url):
    """An admin who submits and approves their own quote is told nothing by email."""
    quote = quote_create(actor=org.admin, data={
        "deal_id": deal.pk, "lines": [{"name": "Consulting", "unit_price": "100",
                                       "discount_percent": "30"}]})
    quote_submit(actor=org.admin, quote_id=quote.pk)
    approvers = {m["rcpt_tos"][0] for m in smtp.messages}
    assert org.admin.email not in approvers and approvers == {org.manager_a.email}
    quote_approve(actor=org.admin, quote_id=quote.pk)
    assert len(smtp.messages) == 1  # no email to the admin about their own decision

