"""`rapport demo --contacts N`: realistic companies, contacts, activities, tags and owners."""

from django.core.management.base import BaseCommand, CommandError

from rapport.web.demo import load_demo


class Command(BaseCommand):
    help = "Load realistic demo data (Faker) through the normal services."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=300)
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, contacts, seed, **options):
        if contacts < 1:
            raise CommandError("--contacts must be at least 1.")
        try:
            made = load_demo(contacts=contacts, seed=seed,
                             stdout=self.stdout if options["verbosity"] else None)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["verbosity"]:
            self.stdout.write(self.style.SUCCESS(
                f"Demo data: {made['companies']} companies, {made['contacts']} contacts, "
                f"{made['deals']} deals, {made['users']} users."))
