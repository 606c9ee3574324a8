from django.urls import path

from rapport.sales import views

# Under /deals/ (namespace "deals").
urlpatterns = [
    path("", views.deal_board, name="board"),
    path("list/", views.deal_list, name="list"),
    path("new/", views.deal_create, name="create"),
    path("trash/", views.deal_trash, name="trash"),
    path("<int:deal_id>/", views.deal_detail, name="detail"),
    path("<int:deal_id>/edit/", views.deal_edit, name="edit"),
    path("<int:deal_id>/delete/", views.deal_delete, name="delete"),
    path("<int:deal_id>/restore/", views.deal_restore, name="restore"),
    path("<int:deal_id>/move/", views.deal_move, name="move"),
    path("<int:deal_id>/lost/", views.deal_lost, name="lost"),
    path("<int:deal_id>/contacts/", views.contact_add, name="contact_add"),
    path("<int:deal_id>/contacts/<int:contact_id>/remove/", views.contact_remove,
         name="contact_remove"),
]

# Under /settings/pipelines/ (namespace "pipelines").
pipeline_urlpatterns = [
    path("", views.pipeline_settings, name="list"),
    path("new/", views.pipeline_create, name="create"),
    path("<int:pipeline_id>/", views.pipeline_update, name="update"),
    path("<int:pipeline_id>/delete/", views.pipeline_delete, name="delete"),
    path("<int:pipeline_id>/stages/", views.stage_create, name="stage_create"),
    path("<int:pipeline_id>/stages/reorder/", views.stages_reorder, name="stages_reorder"),
    path("<int:pipeline_id>/stages/<int:stage_id>/", views.stage_update, name="stage_update"),
    path("<int:pipeline_id>/stages/<int:stage_id>/delete/", views.stage_delete,
         name="stage_delete"),
    path("lost-reasons/", views.reason_create, name="reason_create"),
    path("lost-reasons/<int:reason_id>/", views.reason_update, name="reason_update"),
    path("lost-reasons/<int:reason_id>/delete/", views.reason_delete, name="reason_delete"),
]
