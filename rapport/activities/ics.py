"""Meetings as iCalendar (RFC 5545) invitations."""

from django.conf import settings
from icalendar import Calendar, Event, vCalAddress, vText


def meeting_ics(activity, *, organiser_email: str = "") -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Rapport CRM//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"activity-{activity.pk}@{settings.RAPPORT_ICS_DOMAIN}")
    event.add("dtstamp", activity.updated_at)
    event.add("dtstart", activity.starts_at)
    if activity.ends_at:
        event.add("dtend", activity.ends_at)
    event.add("summary", activity.subject or "Meeting")
    if activity.body:
        event.add("description", activity.body)
    if activity.location:
        event.add("location", vText(activity.location))
    event.add("sequence", activity.version)
    if organiser_email:
        event.add("organizer", vCalAddress(f"mailto:{organiser_email}"))
    for email in activity.attendees:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["ROLE"] = vText("REQ-PARTICIPANT")
        attendee.params["RSVP"] = vText("TRUE")
        event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
