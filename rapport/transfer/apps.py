from django.apps import AppConfig


class TransferConfig(AppConfig):
    name = "rapport.transfer"
    label = "transfer"
    verbose_name = "Import and export"
