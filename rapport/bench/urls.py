"""Rapport's URLs plus `/__hello`, a hello-world Django view behind the same middleware."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path

from rapport.urls import urlpatterns as rapport_urlpatterns


@login_not_required
def hello(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("__hello", hello), *rapport_urlpatterns]
