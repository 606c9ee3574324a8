"""The navigation every page shows; places for what comes next are listed, marked soon."""

NAVIGATION = [
    ("home", "Home", "home"),
    ("contacts", "Contacts", "contacts:list"),
    ("companies", "Companies", "companies:list"),
    ("tasks", "Tasks", "activities:tasks"),
    ("automation", "Automation", "automation:list"),
]
COMING = ["Deals", "Marketing", "Support", "Reports"]


def navigation(request):
    return {"navigation": NAVIGATION, "navigation_coming": COMING}
