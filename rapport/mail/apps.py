from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "rapport.mail"
    label = "mail"
    verbose_name = "Email"

    def ready(self):
        from rapport.mail import checks  # noqa: F401 - registers the configuration check
