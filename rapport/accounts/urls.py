from django.urls import path

from rapport.accounts import views

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
]

settings_urlpatterns = [
    path("", views.profile, name="profile"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("users/", views.users, name="users"),
    path("users/<int:user_id>/", views.user_update, name="user_update"),
    path("custom-fields/", views.custom_fields, name="custom_fields"),
    path("custom-fields/<int:field_id>/delete/", views.custom_field_delete,
         name="custom_field_delete"),
    path("roles/", views.roles, name="roles"),
]
