from django.urls import path

from rapport.mail import views

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
]
