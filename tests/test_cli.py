"""The `rapport` command: init is idempotent and prints the admin password once; tokens work."""

import subprocess
import sys

import pytest
from django.core.management import call_command

from rapport.accounts.models import ApiToken
from tests.conftest import isolated_env


def _rapport(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "rapport", *args], env=isolated_env(tmp_path),
                          capture_output=True,
                          text=True, timeout=300, check=False)


def test_init_creates_the_admin_once_and_keeps_data(tmp_path):
    first = _rapport(tmp_path, "init", "--demo-contacts", "20")
    assert first.returncode == 0, first.stderr
    assert "password:" in first.stdout and "admin@example.com" in first.stdout
    second = _rapport(tmp_path, "init")
    assert second.returncode == 0, second.stderr
    assert "password" not in second.stdout
    count = _rapport(tmp_path, "shell", "-c",
                     "from rapport.contacts.models import Contact; print(Contact.objects.count())")
    assert count.stdout.strip().splitlines()[-1] == "20"


def test_token_create_prints_a_working_token_once(org, capsys):
    from tests.conftest import ApiClient

    call_command("token", "create", "--email", org.sales_a1.email, "--name", "ci")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("rap_")
    stored = ApiToken.objects.get(name="ci")
    assert stored.digest != raw and raw not in stored.digest
    assert ApiClient(token=raw).get("/users/me").json()["email"] == org.sales_a1.email


def test_token_create_for_an_unknown_user_fails_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No active user"):
        call_command("token", "create", "--email", "nobody@example.com", "--name", "x")


def test_demo_makes_companies_contacts_activities_across_teams(org):
    from rapport.activities.models import Activity
    from rapport.contacts.models import Company, Contact

    call_command("demo", contacts=40, seed=7, verbosity=0)
    assert Contact.objects.count() == 40
    assert Company.objects.count() == 8
    assert Activity.objects.exists()
    owners = set(Contact.objects.values_list("owner__team__name", flat=True))
    assert len(owners) >= 2
    # Templates and a switched-off rule to try, made through the services (so they validate).
    from rapport.mail.models import EmailTemplate
    from rapport.workflows.models import Rule
    assert EmailTemplate.objects.count() == 2
    assert Rule.objects.filter(name="Onboard new customers", is_active=False).exists()
    # Deals in every state, dated over the past year, each with a contact.
    from rapport.sales.models import Deal
    deals = Deal.objects.all()
    assert deals.count() == 6 and all(d.deal_contacts.exists() for d in deals)
    assert {d.status for d in deals} >= {"open"}
    assert all(d.created_at < d.updated_at for d in deals)
    # Leads to work, each owned (given one, or by the assignment path), and a form on the site.
    from rapport.sales.models import Lead, LeadForm
    leads = Lead.objects.all()
    assert leads.count() == 6 and not leads.filter(owner__isnull=True).exists()
    assert LeadForm.objects.filter(name="Book a demo", is_active=True).exists()
