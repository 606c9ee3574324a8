from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SalesConfig(AppConfig):
    name = "rapport.sales"
    label = "sales"

    def ready(self):
        from rapport.sales.services import seed_after_migrate

        # After every migrate (and every test-database flush): the default pipeline, its
        # stages and the lost reasons, when none exist yet.
        post_migrate.connect(seed_after_migrate, sender=self,
                             dispatch_uid="rapport.sales.seed_defaults")
        # The quote jobs (hourly expiry); Huey itself only discovers modules named tasks.py.
        from rapport.sales import quote_tasks  # noqa: F401
