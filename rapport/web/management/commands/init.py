"""`rapport init`: everything `make run` needs before serving, idempotent and quick."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from rapport.accounts.models import User
from rapport.accounts.services import ensure_admin


class Command(BaseCommand):
    help = "Migrate, collect static files, and on first run create the admin and demo data."

    def add_arguments(self, parser):
        parser.add_argument("--demo-contacts", type=int, default=300,
                            help="Demo contacts loaded on first run (0 for none).")
        parser.add_argument("--admin-email", default="admin@example.com")

    def handle(self, *args, demo_contacts, admin_email, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        first_run = not User.objects.exists()
        admin, password = ensure_admin(email=admin_email)
        if admin is not None:
            self.stdout.write(self.style.SUCCESS(
                "\nFirst run: an admin account was created. This password is shown only once:\n"
                f"    email:    {admin.email}\n    password: {password}\n"
            ))
        if first_run and demo_contacts:
            self.stdout.write(f"Loading demo data ({demo_contacts} contacts)…")
            call_command("demo", contacts=demo_contacts, verbosity=0)
