from django.urls import path

from rapport.sales import lead_form_public_views as public_views
from rapport.sales import lead_form_views as views

# Under /settings/lead-forms/ (namespace "lead_forms").
urlpatterns = [
    path("", views.lead_form_list, name="list"),
    path("new/", views.lead_form_create, name="create"),
    path("<int:form_id>/", views.lead_form_edit, name="edit"),
    path("<int:form_id>/rotate-key/", views.lead_form_rotate, name="rotate"),
    path("<int:form_id>/delete/", views.lead_form_delete, name="delete"),
]

# Under /f/ (namespace "public_lead_form"): a form's public page, no login.
public_urlpatterns = [
    path("<str:key>/", public_views.public_form, name="view"),
    path("<str:key>/thanks/", public_views.public_thanks, name="thanks"),
]
