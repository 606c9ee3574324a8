"""Realistic demo data through the same services as every other write."""

import datetime
import random

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from faker import Faker

from rapport.accounts.models import Team, User
from rapport.accounts.roles import Role
from rapport.accounts.services import team_create, user_create
from rapport.activities.choices import ActivityKind, CallOutcome, Priority
from rapport.activities.services import activity_create
from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.contacts.models import Company
from rapport.contacts.services import company_create, contact_create
from rapport.core.context import write_source
from rapport.core.errors import Conflict
from rapport.sales.choices import LeadSource, LeadStatus
from rapport.sales.lead_form_services import lead_form_create
from rapport.sales.lead_services import assignment_rule_create, lead_create
from rapport.sales.models import AssignmentRule, Deal, LeadForm
from rapport.sales.selectors import active_stages, default_pipeline, lost_reason_list
from rapport.sales.services import deal_contact_add, deal_create, deal_move

TEAMS = {
    "Sales East": [Role.MANAGER, Role.SALES, Role.SALES],
    "Sales West": [Role.MANAGER, Role.SALES, Role.SALES],
    "Marketing": [Role.MARKETING],
    "Support": [Role.SUPPORT],
}
DEAL_KINDS = ["annual licence", "pilot", "expansion", "renewal", "onboarding package",
              "support plan"]
TAGS = ["vip", "newsletter", "partner", "trade show", "renewal", "churn risk", "referral"]
INDUSTRIES = ["Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics",
              "Education", "Hospitality", "Energy", "Media"]
NOTES = [
    "Asked about **pricing for 50 seats**; send the volume sheet.",
    "Prefers email over calls. Decision expected end of quarter.",
    "Met at the trade show; interested in the *analytics* add-on.",
    "Renewal coming up — check usage numbers before the call.",
    "Champion moved teams; find the new budget owner.",
]


def _users(admin, fake) -> list[User]:
    users = []
    for team_name, roles in TEAMS.items():
        team = Team.objects.filter(name=team_name).first() or team_create(actor=admin,
                                                                          name=team_name)
        for role in roles:
            name = fake.name()
            email = f"{slugify(name).replace('-', '.')}@example.com"
            try:
                users.append(user_create(actor=admin, email=email, full_name=name, role=role,
                                         team_id=team.pk))
            except Conflict:
                continue
    return users


def load_demo(*, contacts: int = 300, seed: int | None = None, stdout=None) -> dict:
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES"])
    rng = random.Random(seed)
    if seed is not None:
        Faker.seed(seed)
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    if admin is None:
        raise ValueError("Create an admin first (rapport init).")
    with write_source("cli"):
        with transaction.atomic():
            users = _users(admin, fake) or list(User.objects.filter(is_active=True))
        sellers = [u for u in users if u.role in {Role.SALES, Role.MANAGER}] or users
        companies = []
        for _ in range(max(1, contacts // 5)):
            with transaction.atomic():
                name = fake.unique.company()
                domain = _free_domain(slugify(name).replace("-", "")[:30])
                companies.append(company_create(actor=admin, data={
                    "name": name, "owner_id": rng.choice(sellers).pk, "domain": domain,
                    "industry": rng.choice(INDUSTRIES),
                    "size": rng.choice(CompanySize.values), "city": fake.city(),
                    "country": rng.choice(["US", "GB", "DE", "FR", "ES"]),
                    "website": f"https://www.{domain}",
                    "tags": rng.sample(TAGS, k=rng.choice([0, 0, 1, 2])),
                }))
        made, people = 0, []
        for index in range(contacts):
            company = rng.choice(companies) if rng.random() < 0.85 else None
            first, last = fake.first_name(), fake.last_name()
            domain = company.domain if company else "mail.example"
            email = f"{slugify(first)}.{slugify(last)}.{index}@{domain}".replace("-", "")
            owner = company.owner if company and rng.random() < 0.7 else rng.choice(sellers)
            with transaction.atomic():
                contact = contact_create(actor=admin, data={
                    "owner_id": owner.pk, "first_name": first, "last_name": last, "email": email,
                    "phone": f"+1415555{rng.randint(0, 9999):04d}",
                    "title": fake.job()[:150], "company_id": company.pk if company else None,
                    "lifecycle_stage": rng.choice(LifecycleStage.values),
                    "city": fake.city(), "country": company.country if company else "US",
                    "tags": rng.sample(TAGS, k=rng.choice([0, 1, 1, 2])),
                })
                _activities(contact, owner, admin, rng, fake)
            people.append(contact)
            made += 1
            if stdout and made % 100 == 0:
                stdout.write(f"  {made}/{contacts} contacts")
        deals = _deals(admin, people, sellers, rng, count=max(1, contacts // 6))
        leads = _leads(admin, sellers, rng, fake, count=max(1, contacts // 6))
        _automation(admin)
    return {"users": len(users), "companies": len(companies), "contacts": made, "deals": deals,
            "leads": leads}


def _deals(admin, people, sellers, rng, *, count: int) -> int:
    """Deals at the contacts' companies, spread over the last year: some still open in
    each stage, some won or lost, so the board and the sales overview have something to
    show. Their dates are moved back after the fact (the services stamp "now")."""
    pipeline = default_pipeline()
    if pipeline is None or not people:
        return 0
    stages = list(active_stages().filter(pipeline=pipeline))
    open_stages = [s for s in stages if s.kind == "open"]
    reasons = list(lost_reason_list())
    now = timezone.now()
    made = 0
    for contact in rng.sample(people, k=min(count, len(people))):
        owner = rng.choice(sellers)
        with transaction.atomic():
            deal = deal_create(actor=admin, data={
                "name": f"{contact.company.name if contact.company else contact.full_name}: "
                        f"{rng.choice(DEAL_KINDS)}",
                "amount": str(rng.choice([1200, 2500, 4800, 7500, 12000, 18000, 30000])),
                "currency": "USD", "owner_id": owner.pk,
                "company_id": contact.company_id,
                "expected_close_date": (timezone.localdate()
                                        + datetime.timedelta(days=rng.randint(-20, 75))).isoformat(),
                "next_step": rng.choice(["Send the proposal", "Book a demo", "Call the buyer",
                                         "Agree the terms", ""]),
            })
            deal_contact_add(actor=admin, deal_id=deal.pk, contact_id=contact.pk,
                             role=rng.choice(["decision_maker", "champion", "influencer"]))
            for stage in open_stages[1:rng.randint(1, len(open_stages))]:
                deal_move(actor=owner, deal_id=deal.pk, stage_id=stage.pk)
            outcome = rng.random()
            if outcome < 0.3:
                deal_move(actor=owner, deal_id=deal.pk, status="won")
            elif outcome < 0.5 and reasons:
                deal_move(actor=owner, deal_id=deal.pk, status="lost",
                          lost_reason_id=rng.choice(reasons).pk)
            created = now - datetime.timedelta(days=rng.randint(20, 330))
            closed = min(created + datetime.timedelta(days=rng.randint(7, 90)), now)
            Deal.objects.filter(pk=deal.pk).update(created_at=created)
            Deal.objects.filter(pk=deal.pk, won_at__isnull=False).update(won_at=closed,
                                                                       closed_at=closed)
            Deal.objects.filter(pk=deal.pk, lost_at__isnull=False).update(lost_at=closed,
                                                                        closed_at=closed)
        made += 1
    return made


def _leads(admin, sellers, rng, fake, *, count: int) -> int:
    """People not yet qualified, from every channel and in every status, and the website's
    "Book a demo" form that brings more in."""
    if not LeadForm.objects.exists():
        lead_form_create(actor=admin, data={
            "name": "Book a demo", "organisation_name": "Rapport demo",
            "intro": "Tell us who you are and we will call you within a day.",
            "fields": [{"field": "first_name", "required": True},
                       {"field": "last_name", "required": False},
                       {"field": "email", "required": True},
                       {"field": "company_name", "required": False}],
            "lead_tags": ["demo request"],
            "thank_you_message": "Thanks! Someone from our team will call you soon."})
    east = Team.objects.filter(name="Sales East").first()
    if east is not None and not AssignmentRule.objects.exists():
        assignment_rule_create(actor=admin, data={
            "name": "Sales East takes turns", "action": "round_robin", "team_id": east.pk})
    made = 0
    for index in range(count):
        first, last = fake.first_name(), fake.last_name()
        company = fake.company()
        status = rng.choice([LeadStatus.NEW, LeadStatus.NEW, LeadStatus.WORKING,
                             LeadStatus.WORKING, LeadStatus.DISQUALIFIED])
        with transaction.atomic():
            lead_create(actor=admin, data={
                "first_name": first, "last_name": last,
                "email": f"{slugify(first)}.{slugify(last)}.{index}@{slugify(company)[:30]}.example"
                         .replace("-", ""),
                "phone": f"+1415556{rng.randint(0, 9999):04d}", "company_name": company,
                "title": fake.job()[:150], "source": rng.choice(LeadSource.values),
                "status": status, "score": rng.randint(0, 100),
                "disqualified_reason": "Student, no budget"
                if status == LeadStatus.DISQUALIFIED else "",
                "owner_id": rng.choice(sellers).pk if rng.random() < 0.5 else None,
                "tags": rng.sample(TAGS, k=rng.choice([0, 0, 1])),
            })
        made += 1
    return made


def _automation(admin) -> None:
    """Two email templates and a ready-made rule, switched off, to try on a contact."""
    from rapport.mail.models import EmailTemplate
    from rapport.mail.services import template_create
    from rapport.workflows.models import Rule
    from rapport.workflows.services import rule_create

    if EmailTemplate.objects.exists() or Rule.objects.exists():
        return
    with transaction.atomic():
        template_create(actor=admin, data={
            "name": "Follow-up after a call",
            "subject": "Good to talk, {{ contact.first_name|default:\"there\" }}",
            "body": "Hi {{ contact.first_name|default:\"there\" }},\n\nThanks for your time "
                    "today. As promised, here is a short summary of what we discussed"
                    "{% if company.name %} for **{{ company.name }}**{% endif %}.\n\n"
                    "Best,\n{{ sender.first_name }}"})
        welcome = template_create(actor=admin, data={
            "name": "Welcome aboard",
            "subject": "Welcome to the family, {{ contact.first_name|default:\"friend\" }}",
            "body": "Hi {{ contact.first_name|default:\"there\" }},\n\nWe are glad to have "
                    "{{ company.name|default:\"you\" }} with us. Your onboarding call is next: "
                    "reply to this message with a time that suits you.\n\n"
                    "{{ sender.full_name }}"})
        rule_create(actor=admin, data={
            "name": "Onboard new customers",
            "description": "When a contact becomes a customer: the welcome email, a kick-off "
                           "task for the owner, and the onboarding tag. Try it on a contact "
                           "first, then switch it on.",
            "object_type": "contact",
            "trigger": {"type": "field_changed", "field": "lifecycle_stage", "to": "customer"},
            "conditions": {"match": "all", "rules": [{"field": "email", "op": "is_not_empty"}]},
            "actions": [{"type": "send_email", "template_id": welcome.pk},
                        {"type": "create_task", "subject": "Book the kick-off call",
                         "due_in_days": 2, "priority": "high"},
                        {"type": "add_tag", "tag": "onboarding"}]})


def _free_domain(base: str) -> str:
    """`<base>.example`, numbered when an earlier company (or demo run) has it already."""
    domain, n = f"{base}.example", 1
    while Company.objects.filter(domain=domain).exists():
        n += 1
        domain = f"{base}{n}.example"
    return domain


def _activities(contact, owner, admin, rng, fake):
    now = timezone.now()
    for _ in range(rng.choice([0, 1, 2, 3])):
        kind = rng.choice([ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING,
                           ActivityKind.EMAIL, ActivityKind.TASK])
        when = now - datetime.timedelta(days=rng.randint(0, 90), hours=rng.randint(0, 23))
        data = {"kind": kind, "contact_id": contact.pk, "owner_id": owner.pk}
        if kind == ActivityKind.NOTE:
            data |= {"body": rng.choice(NOTES), "occurred_at": when.isoformat()}
        elif kind == ActivityKind.CALL:
            data |= {"subject": "Discovery call", "duration_seconds": rng.randint(60, 2400),
                     "outcome": rng.choice(CallOutcome.values), "occurred_at": when.isoformat()}
        elif kind == ActivityKind.MEETING:
            start = now + datetime.timedelta(days=rng.randint(-30, 30), hours=rng.randint(0, 8))
            data |= {"subject": "Product demo", "starts_at": start.isoformat(),
                     "ends_at": (start + datetime.timedelta(minutes=45)).isoformat(),
                     "location": "Video call", "attendees": [contact.email]}
        elif kind == ActivityKind.EMAIL:
            data |= {"subject": "Following up", "body": "Thanks for your time today.",
                     "direction": "outbound", "email_to": [contact.email],
                     "occurred_at": when.isoformat()}
        else:
            due = timezone.localdate() + datetime.timedelta(days=rng.randint(-5, 14))
            data |= {"subject": f"Follow up with {contact.first_name}",
                     "due_date": due.isoformat(), "priority": rng.choice(Priority.values),
                     # Some land on the admin, so the first login has a day's work.
                     "assignee_id": (admin if rng.random() < 0.4 else owner).pk}
        activity_create(actor=admin, data=data)
