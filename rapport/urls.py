from django.urls import include, path, re_path

from rapport.accounts.urls import settings_urlpatterns
from rapport.api.api import api, api_index, api_not_found
from rapport.automation.urls import webhook_urlpatterns
from rapport.contacts.urls import company_urlpatterns, trash_urlpatterns
from rapport.mail.urls import compose_urlpatterns, inbound_urlpatterns, mailbox_urlpatterns
from rapport.mail.urls import settings_urlpatterns as mail_settings_urlpatterns
from rapport.sales.insights_urls import currency_urlpatterns
from rapport.sales.lead_form_urls import public_urlpatterns as lead_form_public_urlpatterns
from rapport.sales.lead_form_urls import urlpatterns as lead_form_urlpatterns
from rapport.sales.lead_urls import assignment_urlpatterns as lead_assignment_urlpatterns
from rapport.sales.quote_urls import product_urlpatterns, public_urlpatterns
from rapport.sales.urls import pipeline_urlpatterns
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
    path("settings/pipelines/", include((pipeline_urlpatterns, "pipelines"))),
    path("settings/products/", include((product_urlpatterns, "products"))),
    path("settings/lead-assignment/", include((lead_assignment_urlpatterns, "lead_assignment"))),
    path("settings/lead-forms/", include((lead_form_urlpatterns, "lead_forms"))),
    path("", include((compose_urlpatterns, "compose"))),
    path("settings/", include((settings_urlpatterns, "settings"))),
    path("automation/", include(("rapport.workflows.urls", "automation"))),
    path("contacts/", include("rapport.contacts.urls")),
    path("companies/", include((company_urlpatterns, "companies"))),
    path("leads/", include(("rapport.sales.lead_urls", "leads"))),
    path("deals/", include(("rapport.sales.urls", "deals"))),
    path("quotes/", include(("rapport.sales.quote_urls", "quotes"))),
    path("q/", include((public_urlpatterns, "public_quote"))),
    path("f/", include((lead_form_public_urlpatterns, "public_lead_form"))),
    path("sales/", include(("rapport.sales.insights_urls", "sales"))),
    path("settings/currencies/", include((currency_urlpatterns, "currencies"))),
    path("", include("rapport.activities.urls")),
    path("", include("rapport.web.urls")),
]
