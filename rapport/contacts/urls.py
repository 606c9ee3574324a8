from django.urls import path

from rapport.contacts import duplicate_views, merge_views, quality_views, views

app_name = "contacts"

urlpatterns = [
    path("", views.contact_list, name="list"),
    path("new/", views.contact_create, name="create"),
    path("bulk/", views.contact_bulk, name="bulk"),
    path("views/", views.contact_views, name="views"),
    path("<int:contact_id>/", views.contact_detail, name="detail"),
    path("<int:contact_id>/edit/", views.contact_edit, name="edit"),
    path("<int:contact_id>/delete/", views.contact_delete, name="delete"),
    path("<int:pk>/merge/", merge_views.merge_page, {"object_type": "contact"}, name="merge"),
    path("merges/<int:merge_id>/", merge_views.merge_result, name="merge_result"),
    path("duplicates/", duplicate_views.review, name="duplicates"),
    path("duplicates/scan/", duplicate_views.scan, name="duplicates_scan"),
    path("duplicates/<int:pair_id>/dismiss/", duplicate_views.dismiss, name="duplicates_dismiss"),
    path("merges/<int:merge_id>/undo/", merge_views.merge_undo, name="merge_undo"),
    path("data-quality/", quality_views.data_quality, name="data_quality"),
]

company_urlpatterns = [
    path("", views.company_list, name="list"),
    path("new/", views.company_create, name="create"),
    path("bulk/", views.company_bulk, name="bulk"),
    path("views/", views.company_views, name="views"),
    path("<int:company_id>/", views.company_detail, name="detail"),
    path("<int:company_id>/edit/", views.company_edit, name="edit"),
    path("<int:company_id>/delete/", views.company_delete, name="delete"),
    path("<int:pk>/merge/", merge_views.merge_page, {"object_type": "company"}, name="merge"),
]

trash_urlpatterns = [
    path("", views.trash, name="list"),
    path("<str:object_type>/<int:record_id>/restore/", views.restore, name="restore"),
]
