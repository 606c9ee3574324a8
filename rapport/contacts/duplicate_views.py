"""The duplicate review queue: pairs best first, each merged or marked "not a duplicate"."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.contacts import duplicates
from rapport.core.errors import RapportError
from rapport.core.permissions import is_admin

NS = {"contact": "contacts", "company": "companies"}


def review(request):
    object_type = request.GET.get("type", "contact")
    if object_type not in duplicates.MODELS:
        object_type = "contact"
    scan = duplicates.last_scan(object_type)
    return render(request, "contacts/duplicates.html", {
        "object_type": object_type, "ns": NS[object_type], "scan": scan,
        "scanning": scan is not None and scan.status == "running",
        "pairs": duplicates.queue(user=request.user, object_type=object_type),
        "counts": {t: duplicates.open_count(user=request.user, object_type=t) for t in NS},
        "can_scan": is_admin(request.user),
    })


@require_POST
def dismiss(request, pair_id: int):
    try:
        duplicates.dismiss(actor=request.user, pair_id=pair_id)
        messages.success(request, "Marked as not a duplicate; it will not be proposed again.")
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect(f"{reverse('contacts:duplicates')}?type={request.POST.get('type', 'contact')}")


@require_POST
def scan(request):
    object_type = request.POST.get("type", "contact")
    try:
        duplicates.scan_soon(actor=request.user, object_type=object_type)
        messages.success(request, "The scan has started; the pairs it finds appear here.")
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect(f"{reverse('contacts:duplicates')}?type={object_type}")
