from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "rapport.contacts"
    label = "contacts"

    def ready(self):
        from rapport.contacts import checks  # noqa: F401 - registers the merge relations check
