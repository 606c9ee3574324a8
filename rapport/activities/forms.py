"""The timeline composer: one form per activity kind, shaped for the activity services."""

from django import forms

from rapport.activities.choices import ActivityKind, CallOutcome, Direction, Priority

KIND_FIELDS = {
    ActivityKind.NOTE: ["body"],
    ActivityKind.CALL: ["subject", "direction", "outcome", "duration_minutes", "occurred_at",
                        "body"],
    ActivityKind.MEETING: ["subject", "starts_at", "ends_at", "location", "attendees", "body"],
    ActivityKind.EMAIL: ["subject", "direction", "email_from", "email_to", "occurred_at", "body"],
    ActivityKind.TASK: ["subject", "due_date", "priority", "assignee_id", "body"],
}
BODY_LABELS = {
    ActivityKind.NOTE: "Note", ActivityKind.CALL: "Call notes",
    ActivityKind.MEETING: "Agenda or notes", ActivityKind.EMAIL: "Message",
    ActivityKind.TASK: "Details",
}
LOCAL_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ActivityForm(forms.Form):
    subject = forms.CharField(label="Subject", required=False, max_length=200)
    body = forms.CharField(label="Note", required=False, max_length=100_000,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="Markdown works: **bold**, lists, links.")
    direction = forms.ChoiceField(label="Direction", required=False, choices=Direction.choices,
                                  initial=Direction.OUTBOUND)
    outcome = forms.ChoiceField(label="Outcome", required=False,
                                choices=[("", "—")] + list(CallOutcome.choices))
    duration_minutes = forms.IntegerField(label="Duration (minutes)", required=False,
                                          min_value=0, max_value=1440)
    occurred_at = forms.DateTimeField(label="When", required=False, widget=LOCAL_DATETIME,
                                      help_text="Leave empty for now.")
    starts_at = forms.DateTimeField(label="Starts", required=False, widget=LOCAL_DATETIME)
    ends_at = forms.DateTimeField(label="Ends", required=False, widget=LOCAL_DATETIME)
    location = forms.CharField(label="Location", required=False, max_length=200)
    attendees = forms.CharField(label="Attendees", required=False, max_length=5000,
                                help_text="Email addresses, separated by commas.")
    email_from = forms.CharField(label="From", required=False, max_length=254)
    email_to = forms.CharField(label="To", required=False, max_length=5000,
                               help_text="Separate addresses with commas.")
    due_date = forms.DateField(label="Due", required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices,
                                 initial=Priority.NORMAL, required=False)
    assignee_id = forms.ChoiceField(label="Assignee", required=False)

    def __init__(self, *args, kind: str, users=(), prefix_id: str = "", **kwargs):
        super().__init__(*args, auto_id=f"id_{prefix_id}{kind}_%s", **kwargs)
        self.kind = kind
        keep = KIND_FIELDS[kind]
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "body" in self.fields:
            self.fields["body"].label = BODY_LABELS[kind]
            if kind == ActivityKind.NOTE:
                self.fields["body"].required = True
        if kind == ActivityKind.TASK:
            self.fields["subject"].label = "Task"
            self.fields["subject"].required = True
            self.fields["assignee_id"].choices = [("", "Me")] + [(u.pk, str(u)) for u in users]
        if kind == ActivityKind.MEETING:
            self.fields["starts_at"].required = True

    def to_data(self) -> dict:
        data = {"kind": self.kind}
        for name, value in self.cleaned_data.items():
            if name == "duration_minutes":
                if value is not None:
                    data["duration_seconds"] = value * 60
            elif name in {"attendees", "email_to"}:
                data[name] = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
            elif name == "assignee_id":
                if value:
                    data[name] = value
            elif value not in (None, ""):
                data[name] = value
        return data
