"""The navigation every page shows; places for what comes next are listed, marked soon."""

NAVIGATION = [
    ("home", "Home", "home"),
    ("contacts", "Contacts", "contacts:list"),
    ("companies", "Companies", "companies:list"),
    ("leads", "Leads", "leads:list"),
    ("deals", "Deals", "deals:board"),
    ("tasks", "Tasks", "activities:tasks"),
    ("automation", "Automation", "automation:list"),
]
COMING = ["Marketing", "Support", "Reports"]


def navigation(request):
    return {"navigation": NAVIGATION, "navigation_coming": COMING}
