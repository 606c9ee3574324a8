"""`rapport token create --email <user> --name <label>`: prints a new API token once."""

from django.core.management.base import BaseCommand, CommandError

from rapport.accounts.models import User
from rapport.accounts.services import token_create, token_revoke
from rapport.core.context import write_source
from rapport.core.errors import RapportError


class Command(BaseCommand):
    help = "Create or revoke personal API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token and print it once.")
        create.add_argument("--email", required=True)
        create.add_argument("--name", required=True)
        revoke = sub.add_parser("revoke", help="Revoke a token by its id.")
        revoke.add_argument("--id", type=int, required=True)

    def handle(self, *args, action, **options):
        with write_source("cli"):
            try:
                if action == "create":
                    user = User.objects.filter(email=options["email"].strip().lower()).first()
                    if user is None or not user.is_active:
                        raise CommandError(f"No active user with email {options['email']}.")
                    token, raw = token_create(user=user, name=options["name"])
                    self.stdout.write(raw)
                    self.stderr.write(f"Token #{token.pk} “{token.name}” for {user.email}; "
                                      "it is shown only this once.")
                else:
                    token = token_revoke(actor=User.objects.filter(is_superuser=True).first(),
                                         token_id=options["id"])
                    self.stdout.write(f"Revoked token #{token.pk}.")
            except RapportError as exc:
                raise CommandError(f"{exc.message} {exc.fields or ''}".strip()) from None
