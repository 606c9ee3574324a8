from django.urls import path

from rapport.mail import inbound_webhooks, views

settings_urlpatterns = [
    path("", views.email_settings, name="settings"),
    path("test/", views.send_test, name="test"),
    path("messages/<int:email_id>/resend/", views.resend, name="resend"),
    path("templates/", views.templates, name="templates"),
    path("templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path("templates/<int:template_id>/delete/", views.template_delete, name="template_delete"),
]

compose_urlpatterns = [
    path("contacts/<int:pk>/email/", views.compose, {"object_type": "contact"},
         name="compose_contact"),
    path("companies/<int:pk>/email/", views.compose, {"object_type": "company"},
         name="compose_company"),
    path("deals/<int:pk>/email/", views.compose, {"object_type": "deal"}, name="compose_deal"),
    path("leads/<int:pk>/email/", views.compose, {"object_type": "lead"}, name="compose_lead"),
]

mailbox_urlpatterns = [
    path("", views.mailboxes, name="list"),
    path("<int:mailbox_id>/", views.mailbox_detail, name="detail"),
    path("<int:mailbox_id>/sync/", views.mailbox_sync, name="sync"),
    path("<int:mailbox_id>/toggle/", views.mailbox_toggle, name="toggle"),
    path("<int:mailbox_id>/delete/", views.mailbox_delete, name="delete"),
]

# Under /email/: providers' inbound webhooks (public, basic auth) and received attachments.
inbound_urlpatterns = [
    path("inbound/<slug:esp>/", inbound_webhooks.receive, name="webhook"),
    path("attachments/<int:attachment_id>/", views.inbound_attachment, name="attachment"),
]
