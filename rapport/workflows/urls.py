from django.urls import path

from rapport.workflows import views

urlpatterns = [
    path("", views.rule_list, name="list"),
    path("new/", views.rule_form, name="create"),
    path("<int:rule_id>/", views.rule_detail, name="detail"),
    path("<int:rule_id>/edit/", views.rule_form, name="edit"),
    path("<int:rule_id>/test/", views.rule_test, name="test"),
    path("<int:rule_id>/toggle/", views.rule_toggle, name="toggle"),
    path("<int:rule_id>/delete/", views.rule_delete, name="delete"),
]
