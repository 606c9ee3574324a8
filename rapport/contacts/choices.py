from django.db import models


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", "Subscriber"
    LEAD = "lead", "Lead"
    MARKETING_QUALIFIED = "marketing_qualified", "Marketing qualified"
    SALES_QUALIFIED = "sales_qualified", "Sales qualified"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    EVANGELIST = "evangelist", "Evangelist"
    OTHER = "other", "Other"


class CompanySize(models.TextChoices):
    XS = "1-10", "1–10"
    S = "11-50", "11–50"
    M = "51-200", "51–200"
    L = "201-1000", "201–1,000"
    XL = "1001-5000", "1,001–5,000"
    XXL = "5001+", "5,001+"
