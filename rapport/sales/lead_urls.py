from django.urls import path

from rapport.sales import lead_views as views

# Under /leads/ (namespace "leads").
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_create, name="create"),
    path("bulk/", views.lead_bulk, name="bulk"),
    path("views/", views.lead_views, name="views"),
    path("trash/", views.lead_trash, name="trash"),
    path("<int:lead_id>/", views.lead_detail, name="detail"),
    path("<int:lead_id>/edit/", views.lead_edit, name="edit"),
    path("<int:lead_id>/delete/", views.lead_delete, name="delete"),
    path("<int:lead_id>/restore/", views.lead_restore, name="restore"),
    path("<int:lead_id>/convert/", views.lead_convert, name="convert"),
]

# Under /settings/lead-assignment/ (namespace "lead_assignment").
assignment_urlpatterns = [
    path("", views.assignment_settings, name="list"),
    path("rules/new/", views.rule_create, name="create"),
    path("rules/<int:rule_id>/", views.rule_edit, name="edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="delete"),
    path("rules/<int:rule_id>/move/", views.rule_move, name="move"),
]
