from django.urls import path

from rapport.automation import views

webhook_urlpatterns = [
    path("", views.webhooks, name="list"),
    path("<int:webhook_id>/", views.webhook_detail, name="detail"),
    path("<int:webhook_id>/test/", views.webhook_test, name="test"),
    path("<int:webhook_id>/toggle/", views.webhook_toggle, name="toggle"),
    path("<int:webhook_id>/delete/", views.webhook_delete, name="delete"),
]
