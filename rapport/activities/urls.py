from django.urls import path

from rapport.activities import views

app_name = "activities"

urlpatterns = [
    path("tasks/", views.tasks, name="tasks"),
    path("activities/composer/", views.composer, name="composer"),
    path("activities/new/", views.activity_create, name="create"),
    path("activities/<int:activity_id>/done/", views.task_done, name="done"),
    path("activities/<int:activity_id>/invite.ics", views.meeting_invite, name="ics"),
]
