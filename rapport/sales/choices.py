from django.db import models


class StageKind(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class DealStatus(models.TextChoices):
    """A deal's status is its stage's kind: moving to a won stage wins the deal."""

    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    CHAMPION = "champion", "Champion"
    INFLUENCER = "influencer", "Influencer"
    TECHNICAL_BUYER = "technical_buyer", "Technical buyer"
    USER = "user", "User"
    OTHER = "other", "Other"


class LeadSource(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    EMAIL = "email", "Email"
    IMPORT = "import", "Import"
    API = "api", "API"
    REFERRAL = "referral", "Referral"
    EVENT = "event", "Event"
    COLD_OUTREACH = "cold_outreach", "Cold outreach"
    OTHER = "other", "Other"


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    WORKING = "working", "Working"
    QUALIFIED = "qualified", "Qualified"
    DISQUALIFIED = "disqualified", "Disqualified"


# A lead someone still has to work: what "least loaded" counts.
OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING)


class AssignmentMatch(models.TextChoices):
    ALL = "all", "All conditions"
    ANY = "any", "Any condition"


class AssignmentAction(models.TextChoices):
    USER = "user", "Assign to a user"
    ROUND_ROBIN = "round_robin", "Round robin within a team"
    LEAST_LOADED = "least_loaded", "Least loaded within a team"


class ForecastCategory(models.TextChoices):
    """Where a deal counts in the forecast; by default from its stage (see forecasting)."""

    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


# Closed and omitted follow from winning and losing; a deal or stage picks among the rest.
OWN_CATEGORIES = (ForecastCategory.PIPELINE, ForecastCategory.BEST_CASE, ForecastCategory.COMMIT)
