from django.urls import include, path, re_path

from rapport.accounts.urls import settings_urlpatterns
from rapport.api.api import api, api_index, api_not_found
from rapport.automation.urls import webhook_urlpatterns
from rapport.contacts.urls import company_urlpatterns, trash_urlpatterns
from rapport.mail.urls import compose_urlpatterns, inbound_urlpatterns, mailbox_urlpatterns
from rapport.mail.urls import settings_urlpatterns as mail_settings_urlpatterns
from rapport.transfer.urls import export_urlpatterns
from rapport.web.jobs import urlpatterns as jobs_urlpatterns

urlpatterns = [
    path("api/v1/", api_index),
    path("api/v1/", api.urls),
    re_path(r"^api/", api_not_found),
    path("", include("rapport.accounts.urls")),
    path("settings/trash/", include((trash_urlpatterns, "trash"))),
    path("settings/webhooks/", include((webhook_urlpatterns, "webhooks"))),
    path("settings/email/", include((mail_settings_urlpatterns, "mail"))),
    path("settings/mailboxes/", include((mailbox_urlpatterns, "mailboxes"))),
    path("email/", include((inbound_urlpatterns, "inbound"))),
    path("settings/jobs/", include((jobs_urlpatterns, "jobs"))),
    path("settings/imports/", include(("rapport.transfer.urls", "imports"))),
    path("settings/exports/", include((export_urlpatterns, "exports"))),
    path("", include((compose_urlpatterns, "compose"))),
    path("settings/", include((settings_urlpatterns, "settings"))),
    path("automation/", include(("rapport.workflows.urls", "automation"))),
    path("contacts/", include("rapport.contacts.urls")),
    path("companies/", include((company_urlpatterns, "companies"))),
    path("", include("rapport.activities.urls")),
    path("", include("rapport.web.urls")),
]
