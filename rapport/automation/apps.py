from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "rapport.automation"
    label = "automation"

    def ready(self):
        from rapport.automation import consumers  # noqa: F401 - registers the event consumers
