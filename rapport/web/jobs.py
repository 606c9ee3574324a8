"""Settings → Jobs: what the workers are doing, what failed and why, and a retry (admins)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from rapport.core import jobs
from rapport.core.permissions import is_admin


def _admin_only(request):
    if not is_admin(request.user):
        raise PermissionDenied("Only admins see the job queue.")


def job_list(request):
    _admin_only(request)
    return render(request, "web/jobs.html", {"settings_section": "jobs", **jobs.overview()})


@require_POST
def job_retry(request, run_id: int):
    _admin_only(request)
    if jobs.retry(run_id):
        messages.success(request, "The job is queued again; it shows under Running once a "
                                  "worker takes it.")
    else:
        messages.error(request, "That job is no longer failed: someone may have retried it.")
    return redirect("jobs:list")


urlpatterns = [
    path("", job_list, name="list"),
    path("<int:run_id>/retry/", job_retry, name="retry"),
]
