from django.urls import path

from rapport.sales import forecast_views, insights_views

# Under /sales/ (namespace "sales").
urlpatterns = [
    path("", insights_views.sales_home, name="overview"),
    path("forecast/", forecast_views.forecast_page, name="forecast"),
    path("quotas/", forecast_views.quotas_page, name="quotas"),
]

# Under /settings/currencies/ (namespace "currencies").
currency_urlpatterns = [
    path("", forecast_views.currencies, name="list"),
    path("save/", forecast_views.currency_save, name="save"),
    path("<str:currency>/delete/", forecast_views.currency_delete, name="delete"),
]
