from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "rapport.workflows"
    label = "workflows"
    verbose_name = "Automation"

    def ready(self):
        from rapport.workflows import consumers  # noqa: F401 - registers the event consumer
