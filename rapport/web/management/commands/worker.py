"""`rapport worker`: a background job consumer (Huey); run as many as you like."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a background job worker (SQLite queue by default, Redis with REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, workers, **options):
        call_command("run_huey", workers=workers, worker_type="thread")
