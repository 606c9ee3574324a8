from django.urls import path

from rapport.transfer import views

urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:job_id>/", views.import_detail, name="detail"),
    path("<int:job_id>/columns/", views.import_columns, name="columns"),
    path("<int:job_id>/preview/", views.import_preview, name="preview"),
    path("<int:job_id>/start/", views.import_start, name="start"),
    path("<int:job_id>/undo/", views.import_undo, name="undo"),
    path("<int:job_id>/discard/", views.import_discard, name="discard"),
    path("<int:job_id>/failed-rows.csv", views.import_failed_rows, name="failed_rows"),
]

export_urlpatterns = [
    path("", views.export_list, name="list"),
    path("new/", views.export_create, name="create"),
    path("<int:job_id>/", views.export_detail, name="detail"),
    path("<int:job_id>/download/", views.export_download, name="download"),
]
