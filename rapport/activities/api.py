from django.http import HttpResponse
from ninja import Router

from rapport.activities import selectors, services
from rapport.activities.choices import ActivityKind
from rapport.activities.ics import meeting_ics
from rapport.activities.schemas import ActivityIn, ActivityOut, ActivityPage
from rapport.api.responses import expected_version, idempotent, page_response, record_response
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound

router = Router(tags=["activities"])


def _get(request, activity_id):
    activity = selectors.activity_get(user=request.auth, activity_id=activity_id)
    if activity is None:
        raise NotFound()
    return activity


@router.get("", response={200: ActivityPage, **ERRORS},
            description="Notes, calls, meetings, emails and tasks. Filters: `kind`, "
                        "`contact_id`, `company_id`, `deal_id`, `lead_id`, `assignee_id`, `owner_id`, "
                        "`is_open`, `due_date__lte`...; sort `occurred_at` or `created_at`.")
def list_activities(request, limit: str | None = None, cursor: str | None = None,
                    sort: str | None = None, kind: str | None = None,
                    contact_id: str | None = None, company_id: str | None = None,
                    deal_id: str | None = None, lead_id: str | None = None):
    return page_response(selectors.activity_list(user=request.auth, params=request.GET), ActivityOut)


@router.post("", response={201: ActivityOut, **ERRORS})
def create_activity(request, payload: ActivityIn):
    def produce():
        activity = services.activity_create(actor=request.auth,
                                            data=payload.model_dump(exclude_unset=True))
        return record_response(activity, ActivityOut, 201)
    return idempotent(request, produce)


@router.get("/{int:activity_id}", response={200: ActivityOut, **ERRORS})
def get_activity(request, activity_id: int):
    return record_response(_get(request, activity_id), ActivityOut)


@router.get("/{int:activity_id}/ics", response={200: None, **ERRORS},
            description="A meeting as an iCalendar (.ics) invitation.")
def activity_ics(request, activity_id: int):
    activity = _get(request, activity_id)
    if activity.kind != ActivityKind.MEETING:
        raise NotFound("Only meetings have calendar invitations.")
    response = HttpResponse(meeting_ics(activity, organiser_email=request.auth.email),
                            content_type="text/calendar; charset=utf-8; method=REQUEST")
    response.headers["Content-Disposition"] = f'attachment; filename="meeting-{activity.pk}.ics"'
    return response


@router.patch("/{int:activity_id}", response={200: ActivityOut, **ERRORS})
def update_activity(request, activity_id: int, payload: ActivityIn):
    services.activity_update(actor=request.auth, activity_id=activity_id,
                             data=payload.model_dump(exclude_unset=True),
                             expected_version=expected_version(request))
    return record_response(_get(request, activity_id), ActivityOut)


@router.delete("/{int:activity_id}", response={204: None, **ERRORS})
def delete_activity(request, activity_id: int):
    services.activity_delete(actor=request.auth, activity_id=activity_id)
    return HttpResponse(status=204)
