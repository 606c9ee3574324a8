from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rapport.core"
    label = "core"

    def ready(self):
        from rapport.core import (
            jobs,  # noqa: F401 - connects the job log to Huey's signals
            lookups,  # noqa: F401 - registers field__one_of
        )
