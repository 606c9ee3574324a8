from django.db import models


class Scope(models.TextChoices):
    OWN = "own", "Own records"
    TEAM = "team", "Team's records"
    ALL = "all", "All records"


class Source(models.TextChoices):
    UI = "ui", "Web UI"
    API = "api", "API"
    IMPORT = "import", "Import"
    WORKFLOW = "workflow", "Workflow"
    JOB = "job", "Background job"
    CLI = "cli", "Command line"


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    NUMBER = "number", "Number"
    DECIMAL = "decimal", "Decimal"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    BOOLEAN = "boolean", "Yes / no"
    SELECT = "select", "Single select"
    MULTI_SELECT = "multi_select", "Multi select"
    EMAIL = "email", "Email"
    URL = "url", "URL"
    PHONE = "phone", "Phone"
