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
